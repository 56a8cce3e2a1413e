// The simulated disk keeps only what a real one promises to keep.
#include "store/sim_io.hpp"

#include <gtest/gtest.h>

#include <cerrno>
#include <vector>

namespace warren::store {
namespace {

std::span<const uint8_t> bytes(const char* s) { return {reinterpret_cast<const uint8_t*>(s), strlen(s)}; }

TEST(SimIo, AFileWhoseDirectoryWasNotSyncedVanishesOnPowerLoss) {
  SimIo io;
  io.make_dir("d");
  std::unique_ptr<File> a, b;
  ASSERT_EQ(io.open("d/a", OpenMode::Create, a), 0);
  ASSERT_EQ(io.sync_dir("d"), 0);
  ASSERT_EQ(io.open("d/b", OpenMode::Create, b), 0);
  ASSERT_EQ(write_all(*b, bytes("x"), 0), 0);
  ASSERT_EQ(b->sync(), 0);
  io.power_loss();
  EXPECT_TRUE(io.exists("d/a"));
  EXPECT_FALSE(io.exists("d/b"));
}

// Reading or writing nothing is nothing, also from or into an empty
// vector, whose data() is null: memcpy must not be handed it (UBSan
// caught read_record reading a record with an empty payload so).
TEST(SimIo, NothingReadOrWrittenIsNothing) {
  SimIo io;
  io.make_dir("d");
  std::unique_ptr<File> f;
  ASSERT_EQ(io.open("d/f", OpenMode::Create, f), 0);
  ASSERT_EQ(write_all(*f, bytes("abc"), 0), 0);
  size_t n = 7;
  EXPECT_EQ(f->write_at(std::span<const uint8_t>(), 1, n), 0);
  EXPECT_EQ(n, 0u);
  std::vector<uint8_t> none;
  EXPECT_EQ(f->read_at(none, 1, n), 0);
  EXPECT_EQ(n, 0u);
  EXPECT_EQ(io.contents("d/f"), "abc");
}

TEST(SimIo, ARenameNotSyncedIsUndoneByPowerLoss) {
  SimIo io;
  io.make_dir("d");
  std::unique_ptr<File> f;
  ASSERT_EQ(io.open("d/tmp", OpenMode::Create, f), 0);
  ASSERT_EQ(io.sync_dir("d"), 0);
  ASSERT_EQ(io.rename("d/tmp", "d/final"), 0);
  io.power_loss();
  EXPECT_TRUE(io.exists("d/tmp"));
  EXPECT_FALSE(io.exists("d/final"));
}

TEST(SimIo, UnsyncedBytesSurviveOnlyAsAPrefix) {
  SimIo io(7);
  io.make_dir("d");
  std::unique_ptr<File> f;
  ASSERT_EQ(io.open("d/f", OpenMode::Create, f), 0);
  ASSERT_EQ(io.sync_dir("d"), 0);
  ASSERT_EQ(write_all(*f, bytes("synced|"), 0), 0);
  ASSERT_EQ(f->sync(), 0);
  ASSERT_EQ(write_all(*f, bytes("not synced"), 7), 0);
  io.power_loss();
  std::string kept = io.contents("d/f");
  EXPECT_EQ(kept.substr(0, 7), "synced|");
  EXPECT_EQ(std::string("synced|not synced").compare(0, kept.size(), kept), 0);
}

TEST(SimIo, LocksAreExclusiveUntilTheHolderGoes) {
  SimIo io;
  io.make_dir("d");
  std::unique_ptr<File> first, second;
  ASSERT_EQ(io.lock("d/LOCK", first), 0);
  EXPECT_EQ(io.lock("d/LOCK", second), EWOULDBLOCK);
  first.reset();
  EXPECT_EQ(io.lock("d/LOCK", second), 0);
}

TEST(SimIo, FaultsFailTheNextCallsOnly) {
  SimIo io;
  io.make_dir("d");
  std::unique_ptr<File> f;
  io.fail(SimIo::Op::Open, EMFILE, 2);
  EXPECT_EQ(io.open("d/f", OpenMode::Create, f), EMFILE);
  EXPECT_EQ(io.open("d/f", OpenMode::Create, f), EMFILE);
  EXPECT_EQ(io.open("d/f", OpenMode::Create, f), 0);
}

}  // namespace
}  // namespace warren::store
