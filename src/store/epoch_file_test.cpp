#include "store/epoch_file.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

namespace warren::store {
namespace {

struct EpochFile : ::testing::Test {
  std::filesystem::path dir = std::filesystem::temp_directory_path() /
                              ("epoch-test-" + std::to_string(::getpid()) + "-" +
                               ::testing::UnitTest::GetInstance()->current_test_info()->name());
  std::string path = (dir / "lock-epoch").string();
  void SetUp() override { std::filesystem::create_directories(dir); }
  void TearDown() override { std::filesystem::remove_all(dir); }
};

TEST_F(EpochFile, CountsUpFromOneAcrossCalls) {
  EXPECT_EQ(bump_epoch(path), 1u);
  EXPECT_EQ(bump_epoch(path), 2u);
  EXPECT_EQ(bump_epoch(path), 3u);
  std::ifstream in(path);
  uint64_t stored = 0;
  in >> stored;
  EXPECT_EQ(stored, 3u);
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
}

TEST_F(EpochFile, ALeftoverTempFileDoesNotCount) {
  EXPECT_EQ(bump_epoch(path), 1u);
  std::ofstream(path + ".tmp") << "99\n";  // a crash before the rename
  EXPECT_EQ(bump_epoch(path), 2u);
}

TEST_F(EpochFile, GarbageIsRefusedNotRestartedAtOne) {
  std::ofstream(path) << "not a number\n";
  EXPECT_THROW(bump_epoch(path), std::runtime_error);
  std::ofstream(path, std::ios::trunc) << "";
  EXPECT_THROW(bump_epoch(path), std::runtime_error);
}

}  // namespace
}  // namespace warren::store
