// Segments: records framed and checked, torn tails cut at every byte,
// damage in the middle reported and read past, and a writer that stops
// at the first failed write or sync.
#include "store/segment.hpp"

#include <gtest/gtest.h>
#include <zlib.h>

#include <cerrno>
#include <string>
#include <vector>

#include "store/bytes.hpp"
#include "store/sim_io.hpp"

namespace warren::store {
namespace {

const std::string kPath = "d/00000001.wlog";

struct Rec {
  uint64_t offset;
  uint8_t type;
  std::string payload;
};

std::vector<Rec> scan_all(SimIo& io, ScanResult* result = nullptr) {
  std::unique_ptr<File> f;
  EXPECT_EQ(io.open(kPath, OpenMode::Read, f), 0);
  std::vector<Rec> out;
  if (!f) return out;
  ScanResult r = scan_segment(*f, [&](uint64_t off, uint8_t type, std::span<const uint8_t> p) {
    out.push_back({off, type, std::string(p.begin(), p.end())});
  });
  EXPECT_EQ(r.error, 0);
  if (result) *result = r;
  return out;
}


class SegmentTest : public ::testing::Test {
 protected:
  void SetUp() override {
    io.make_dir("d");
    ASSERT_EQ(io.open(kPath, OpenMode::Create, file), 0);
    ASSERT_EQ(io.sync_dir("d"), 0);
    ASSERT_EQ(SegmentWriter::create(*file, 1, w), 0);
  }
  // Records "r0".."r<n-1>", types 1, 2, 3, 1...
  void add(int n, int from = 0) {
    for (int i = from; i < from + n; ++i) w.add(uint8_t(1 + i % 3), byte_span("r" + std::to_string(i)));
  }

  SimIo io{42};
  std::unique_ptr<File> file;
  SegmentWriter w;
};

TEST_F(SegmentTest, RecordsComeBackInOrderWithTheirTypes) {
  add(100);
  w.add(7, {});  // an empty payload is a record too
  ASSERT_EQ(w.sync(), 0);
  ScanResult r;
  std::vector<Rec> recs = scan_all(io, &r);
  ASSERT_EQ(recs.size(), 101u);
  for (int i = 0; i < 100; ++i) {
    EXPECT_EQ(recs[size_t(i)].payload, "r" + std::to_string(i));
    EXPECT_EQ(recs[size_t(i)].type, 1 + i % 3);
  }
  EXPECT_EQ(recs.back().type, 7);
  EXPECT_EQ(r.number, 1u);
  EXPECT_EQ(r.good_end, w.durable_end());
  EXPECT_EQ(r.tail_bytes, 0u);
  EXPECT_TRUE(r.damaged.empty());
}

// A write torn anywhere in the last record: the records before it are all
// there, the torn bytes are the tail, and the resumed writer cuts them
// and appends after the last good record.
TEST_F(SegmentTest, ATornLastRecordIsCutAtEveryByteOffset) {
  add(5);
  ASSERT_EQ(w.sync(), 0);
  const std::string synced = io.contents(kPath);
  w.add(9, byte_span("the last record, torn"));
  ASSERT_EQ(w.sync(), 0);
  const std::string full = io.contents(kPath);
  for (size_t cut = synced.size(); cut <= full.size(); ++cut) {
    SCOPED_TRACE(cut);
    io.set_contents(kPath, full.substr(0, cut));
    ScanResult r;
    std::vector<Rec> recs = scan_all(io, &r);
    const bool whole = cut == full.size();
    ASSERT_EQ(recs.size(), whole ? 6u : 5u);
    EXPECT_EQ(r.good_end, whole ? full.size() : synced.size());
    EXPECT_EQ(r.tail_bytes, whole ? 0u : cut - synced.size());
    EXPECT_TRUE(r.damaged.empty());

    std::unique_ptr<File> f;
    ASSERT_EQ(io.open(kPath, OpenMode::ReadWrite, f), 0);
    SegmentWriter resumed;
    ASSERT_EQ(SegmentWriter::resume(*f, r.good_end, resumed), 0);
    resumed.add(1, byte_span("after"));
    ASSERT_EQ(resumed.sync(), 0);
    recs = scan_all(io, &r);
    ASSERT_EQ(recs.size(), whole ? 7u : 6u);
    EXPECT_EQ(recs.back().payload, "after");
    EXPECT_EQ(r.tail_bytes, 0u);
  }
}

// One flipped bit in the middle: that record is lost and reported with its
// offset; every record after it is still read.
TEST_F(SegmentTest, DamageInTheMiddleIsReportedAndReadPast) {
  add(10);
  ASSERT_EQ(w.sync(), 0);
  std::vector<Rec> before = scan_all(io);
  std::string b = io.contents(kPath);
  const uint64_t third = before[3].offset;
  b[size_t(third) + kRecordHeaderSize] ^= 0x04;  // in the payload
  io.set_contents(kPath, b);
  ScanResult r;
  std::vector<Rec> recs = scan_all(io, &r);
  ASSERT_EQ(recs.size(), 9u);
  EXPECT_EQ(recs[3].payload, "r4");
  ASSERT_EQ(r.damaged.size(), 1u);
  EXPECT_EQ(r.damaged[0].first, third);
  EXPECT_EQ(r.damaged[0].second, before[4].offset - third);
  EXPECT_EQ(r.tail_bytes, 0u);
}

// A damaged length field cannot send the reader off the end or into a
// false record: the CRC covers it.
TEST_F(SegmentTest, ADamagedLengthIsCaughtByTheChecksum) {
  add(4);
  ASSERT_EQ(w.sync(), 0);
  std::vector<Rec> before = scan_all(io);
  std::string b = io.contents(kPath);
  b[size_t(before[1].offset) + 4] = char(0x7f);  // length of r1
  io.set_contents(kPath, b);
  ScanResult r;
  std::vector<Rec> recs = scan_all(io, &r);
  ASSERT_EQ(recs.size(), 3u);
  EXPECT_EQ(recs[1].payload, "r2");
  EXPECT_EQ(r.damaged.size(), 1u);
}

// The on-disk format as docs/storage.md states it, built by hand: if
// this fails, the format changed and kFormatVersion must too.
TEST(SegmentFormat, IsWhatTheDocsSay) {
  std::string b = "WRNLOG";
  b += std::string("\x01\x00", 2);                              // version 1
  b += std::string("\x05\x00\x00\x00\x00\x00\x00\x00", 8);  // segment 5
  const std::string body = std::string("\x02\x00\x00\x00", 4) + "\x07" + "hi";  // length 2, type 7
  const uint32_t crc = uint32_t(crc32(0, reinterpret_cast<const Bytef*>(body.data()), uInt(body.size())));
  for (int i = 0; i < 4; ++i) b += char(crc >> (8 * i));
  b += body;
  std::vector<std::string> got;
  ScanResult r = scan_segment_bytes(byte_span(b), [&](uint64_t off, uint8_t type, std::span<const uint8_t> p) {
    EXPECT_EQ(off, kSegmentHeaderSize);
    EXPECT_EQ(type, 7);
    got.emplace_back(p.begin(), p.end());
  });
  EXPECT_EQ(r.error, 0);
  EXPECT_EQ(r.number, 5u);
  EXPECT_EQ(got, std::vector<std::string>{"hi"});
}

TEST_F(SegmentTest, NotASegmentOrAnotherVersionIsRefused) {
  ScanResult r = scan_segment_bytes(byte_span("hello, world, this is not a log"), [](auto...) {});
  EXPECT_EQ(r.error, EINVAL);
  std::string b = io.contents(kPath);
  b[6] = 9;
  r = scan_segment_bytes(byte_span(b), [](auto...) {});
  EXPECT_EQ(r.error, ENOTSUP);
}

// Power lost after some syncs: what was synced is all there, and what
// follows is a valid prefix of what was written, or cut as a torn tail.
TEST_F(SegmentTest, PowerLossKeepsEverythingSynced) {
  for (uint64_t seed = 1; seed <= 50; ++seed) {
    SCOPED_TRACE(seed);
    SimIo disk(seed);
    disk.make_dir("d");
    std::unique_ptr<File> f;
    ASSERT_EQ(disk.open(kPath, OpenMode::Create, f), 0);
    ASSERT_EQ(disk.sync_dir("d"), 0);
    SegmentWriter sw;
    ASSERT_EQ(SegmentWriter::create(*f, 1, sw), 0);
    for (int i = 0; i < 20; ++i) sw.add(1, byte_span("s" + std::to_string(i)));
    ASSERT_EQ(sw.sync(), 0);
    for (int i = 20; i < 40; ++i) sw.add(1, byte_span("s" + std::to_string(i)));
    ASSERT_EQ(sw.write(), 0);  // written, not synced
    disk.power_loss();
    ScanResult r;
    std::vector<Rec> recs = scan_all(disk, &r);
    ASSERT_GE(recs.size(), 20u);
    for (size_t i = 0; i < recs.size(); ++i) EXPECT_EQ(recs[i].payload, "s" + std::to_string(i));
    EXPECT_TRUE(r.damaged.empty());
  }
}

TEST_F(SegmentTest, AFailedWriteStopsTheWriter) {
  add(3);
  io.fail(SimIo::Op::Write, EIO);
  EXPECT_EQ(w.write(), EIO);
  add(1, 3);
  EXPECT_EQ(w.sync(), EIO);  // sticky: nothing more is written
  EXPECT_EQ(w.error(), EIO);
  EXPECT_EQ(w.durable_end(), 0u);
}

// fsyncgate: after a failed sync the disk reports later syncs as good but
// never stores those bytes. The writer does not sync again: it stays
// failed, so nobody is told such a record is safe.
TEST_F(SegmentTest, AFailedSyncIsNeverRetried) {
  add(3);
  ASSERT_EQ(w.sync(), 0);
  const uint64_t safe = w.durable_end();
  add(3, 3);
  io.fail(SimIo::Op::Sync, EIO);
  EXPECT_EQ(w.sync(), EIO);
  add(1, 6);
  EXPECT_EQ(w.sync(), EIO);
  EXPECT_EQ(w.durable_end(), safe);
  io.power_loss();
  std::vector<Rec> recs = scan_all(io);
  EXPECT_EQ(recs.size(), 3u);  // what the disk kept: only what was acknowledged
}

TEST_F(SegmentTest, ShortWritesAreContinued) {
  io.short_writes(true);
  add(200);
  ASSERT_EQ(w.sync(), 0);
  EXPECT_EQ(scan_all(io).size(), 200u);
}

TEST_F(SegmentTest, AFullDiskFailsTheWriteWithNoSpace) {
  io.set_capacity(io.contents(kPath).size() + 50);
  add(100);
  EXPECT_EQ(w.sync(), ENOSPC);
}

TEST_F(SegmentTest, ZerosAfterTheLastRecordAreAPreparedTailNotDamage) {
  add(1);
  ASSERT_EQ(w.sync(), 0);
  std::string raw = io.contents(kPath);
  const size_t records_end = raw.size();
  std::vector<uint8_t> seg(raw.begin(), raw.end());
  seg.resize(records_end + 5000, 0);
  ScanResult r = scan_segment_bytes(seg, [](uint64_t, uint8_t, std::span<const uint8_t>) {});
  EXPECT_EQ(r.records, 1u);
  EXPECT_EQ(r.good_end, records_end);
  EXPECT_EQ(r.tail_bytes, 5000u);
  EXPECT_TRUE(r.zero_tail);
  EXPECT_TRUE(r.damaged.empty());
  seg[records_end + 10] = 1;  // a torn write into the prepared space
  r = scan_segment_bytes(seg, [](uint64_t, uint8_t, std::span<const uint8_t>) {});
  EXPECT_FALSE(r.zero_tail);
  EXPECT_EQ(r.tail_bytes, 5000u);
}

}  // namespace
}  // namespace warren::store
