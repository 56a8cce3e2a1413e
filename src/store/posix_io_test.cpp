// The real file system behind the store's interface.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <filesystem>

#include "store/io.hpp"

namespace warren::store {
namespace {

class PosixIoTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/warren-store-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir); }
  std::string dir;
  std::unique_ptr<Io> io = posix_io();
};

TEST_F(PosixIoTest, WritesReadBackAndSurviveReopening) {
  std::unique_ptr<File> f;
  ASSERT_EQ(io->open(dir + "/a", OpenMode::Create, f), 0);
  const std::string text = "hello, disk";
  ASSERT_EQ(write_all(*f, {reinterpret_cast<const uint8_t*>(text.data()), text.size()}, 3), 0);
  ASSERT_EQ(f->sync(), 0);
  ASSERT_EQ(io->sync_dir(dir), 0);
  f.reset();
  ASSERT_EQ(io->open(dir + "/a", OpenMode::Read, f), 0);
  uint64_t size = 0;
  ASSERT_EQ(f->size(size), 0);
  EXPECT_EQ(size, 3 + text.size());
  std::string back(text.size(), '\0');
  size_t got = 0;
  ASSERT_EQ(f->read_at({reinterpret_cast<uint8_t*>(back.data()), back.size()}, 3, got), 0);
  EXPECT_EQ(back, text);
  std::vector<std::string> names;
  ASSERT_EQ(io->list(dir, names), 0);
  EXPECT_EQ(names, std::vector<std::string>{"a"});
  EXPECT_EQ(io->open(dir + "/missing", OpenMode::Read, f), ENOENT);
}

// Two warrend on one data directory: the second one's lock is refused.
TEST_F(PosixIoTest, TheLockIsExclusiveUntilReleased) {
  std::unique_ptr<File> first, second;
  ASSERT_EQ(io->lock(dir + "/LOCK", first), 0);
  EXPECT_EQ(io->lock(dir + "/LOCK", second), EWOULDBLOCK);
  first.reset();
  EXPECT_EQ(io->lock(dir + "/LOCK", second), 0);
}

TEST_F(PosixIoTest, RenameRemoveAndFreeSpace) {
  std::unique_ptr<File> f;
  ASSERT_EQ(io->open(dir + "/tmp", OpenMode::Create, f), 0);
  ASSERT_EQ(io->rename(dir + "/tmp", dir + "/final"), 0);
  EXPECT_EQ(io->remove(dir + "/tmp"), ENOENT);
  EXPECT_EQ(io->remove(dir + "/final"), 0);
  uint64_t free = 0;
  ASSERT_EQ(io->free_bytes(dir, free), 0);
  EXPECT_GT(free, 0u);
}

}  // namespace
}  // namespace warren::store
