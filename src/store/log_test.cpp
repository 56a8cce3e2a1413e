// The log: records across segments, reopened after clean stops and power
// losses, one process at a time, damage reported by file and offset.
#include "store/log.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cerrno>
#include <string>
#include <vector>

#include "store/bytes.hpp"
#include "store/sim_io.hpp"

namespace warren::store {
namespace {


struct Opened {
  int err = 0;
  std::unique_ptr<Log> log;
  std::vector<std::string> records;
  std::vector<Position> positions;
  std::vector<Damage> damage;
};

Opened open_log(Io& io, uint64_t segment_bytes = 256) {
  Opened o;
  o.err = Log::open(
      io, LogOptions{"data", segment_bytes},
      [&](Position at, uint8_t, std::span<const uint8_t> p) {
        o.records.emplace_back(p.begin(), p.end());
        o.positions.push_back(at);
      },
      [&](const Damage& d) { o.damage.push_back(d); }, o.log);
  return o;
}

void add(Log& log, int from, int n) {
  for (int i = from; i < from + n; ++i) log.add(1, byte_span("record " + std::to_string(i)));
}

std::vector<std::string> expected(int n) {
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i) out.push_back("record " + std::to_string(i));
  return out;
}

TEST(Log, RecordsComeBackInOrderAcrossSegments) {
  SimIo io;
  {
    Opened o = open_log(io);
    ASSERT_EQ(o.err, 0);
    for (int i = 0; i < 10; ++i) {
      add(*o.log, i * 10, 10);
      ASSERT_EQ(o.log->sync(), 0);
    }
    EXPECT_GT(o.log->end().segment, 3u);  // 256-byte segments: it rotated
  }
  Opened o = open_log(io);
  ASSERT_EQ(o.err, 0);
  EXPECT_EQ(o.records, expected(100));
  EXPECT_TRUE(std::is_sorted(o.positions.begin(), o.positions.end()));
  EXPECT_TRUE(o.damage.empty());
  // And it goes on where it stopped.
  add(*o.log, 100, 5);
  ASSERT_EQ(o.log->sync(), 0);
  o.log.reset();
  EXPECT_EQ(open_log(io).records, expected(105));
}

TEST(Log, ASecondProcessIsKeptOut) {
  SimIo io;
  Opened first = open_log(io);
  ASSERT_EQ(first.err, 0);
  EXPECT_EQ(open_log(io).err, EWOULDBLOCK);
  first.log.reset();
  EXPECT_EQ(open_log(io).err, 0);
}

// Power lost at any point: every record synced comes back, in order, and
// whatever else comes back is the records that followed them.
TEST(Log, PowerLossKeepsEverySyncedRecord) {
  for (uint64_t seed = 1; seed <= 40; ++seed) {
    SCOPED_TRACE(seed);
    SimIo io(seed);
    int synced = 0, added = 0;
    {
      Opened o = open_log(io, 200);
      ASSERT_EQ(o.err, 0);
      for (int round = 0; round < 6; ++round) {
        add(*o.log, added, 4);
        added += 4;
        ASSERT_EQ(o.log->sync(), 0);
        synced = added;
      }
      add(*o.log, added, 3);  // never synced
      added += 3;
    }
    io.power_loss();
    Opened o = open_log(io, 200);
    ASSERT_EQ(o.err, 0);
    ASSERT_GE(o.records.size(), size_t(synced));
    ASSERT_LE(o.records.size(), size_t(added));
    EXPECT_EQ(o.records, expected(int(o.records.size())));
    EXPECT_TRUE(o.damage.empty());
    add(*o.log, int(o.records.size()), 2);
    ASSERT_EQ(o.log->sync(), 0);
  }
}

TEST(Log, DamageInAClosedSegmentIsReportedWithItsFileAndOffset) {
  SimIo io;
  std::vector<Position> at;
  {
    Opened o = open_log(io);
    for (int i = 0; i < 30; ++i) {
      at.push_back(o.log->add(1, byte_span("record " + std::to_string(i))));
      ASSERT_EQ(o.log->sync(), 0);
    }
  }
  const Position hit = at[2];
  const std::string file = "data/" + std::string(19, '0') + std::to_string(hit.segment) + ".wlog";
  std::string b = io.contents(file);
  ASSERT_FALSE(b.empty());
  b[size_t(hit.offset) + kRecordHeaderSize + 1] ^= 0x20;
  io.set_contents(file, b);
  Opened o = open_log(io);
  ASSERT_EQ(o.err, 0);
  ASSERT_EQ(o.damage.size(), 1u);
  EXPECT_EQ(o.damage[0].file, file);
  EXPECT_EQ(o.damage[0].offset, hit.offset);
  EXPECT_EQ(o.records.size(), 29u);  // only that one is lost
}

TEST(Log, WholeSegmentsAreRemovedOnceNotNeeded) {
  SimIo io;
  Opened o = open_log(io);
  add(*o.log, 0, 40);
  for (int i = 0; i < 8; ++i) {
    add(*o.log, 40 + i, 1);
    ASSERT_EQ(o.log->sync(), 0);
  }
  const uint64_t keep_from = o.log->end().segment;
  ASSERT_GT(keep_from, 1u);
  ASSERT_EQ(o.log->remove_segments_before(keep_from), 0);
  EXPECT_EQ(o.log->first_segment(), keep_from);
  o.log.reset();
  Opened again = open_log(io);
  for (const Position& p : again.positions) EXPECT_GE(p.segment, keep_from);
}

TEST(Log, AFailedSyncFailsTheLogForGood) {
  SimIo io;
  Opened o = open_log(io);
  add(*o.log, 0, 2);
  io.fail(SimIo::Op::Sync, EIO);
  EXPECT_EQ(o.log->sync(), EIO);
  add(*o.log, 2, 1);
  EXPECT_EQ(o.log->sync(), EIO);
  EXPECT_EQ(o.log->error(), EIO);
}

// Prepared segments (Log::prepare): zeros to segment_bytes, synced, taken
// by the next rotation; their unused zeros are not damage.
TEST(Log, APreparedSegmentIsTakenByTheNextRotation) {
  SimIo io;
  Opened o = open_log(io);
  int steps = 0;
  while (o.log->prepare(100)) ++steps;
  EXPECT_EQ(steps, 2);  // 256 bytes, 100 at a time
  ASSERT_TRUE(o.log->prepared());
  EXPECT_EQ(io.contents("data/next-segment.tmp"), std::string(256, '\0'));
  const uint64_t first = o.log->end().segment;
  int i = 0;
  while (o.log->end().segment == first) {
    add(*o.log, i++, 1);
    ASSERT_EQ(o.log->sync(), 0);
  }
  EXPECT_FALSE(o.log->prepared());
  EXPECT_FALSE(io.exists("data/next-segment.tmp"));
  const std::string next = fmt::format("data/{:020}.wlog", o.log->end().segment);
  EXPECT_EQ(io.contents(next).size(), 256u);  // its full size from the start
  add(*o.log, i++, 2);
  ASSERT_EQ(o.log->sync(), 0);
  o.log.reset();
  io.power_loss();
  Opened again = open_log(io);
  ASSERT_EQ(again.err, 0);
  EXPECT_EQ(again.records, expected(i + 1));
  EXPECT_TRUE(again.damage.empty()) << again.damage[0].what;
}

TEST(Log, ALeftoverPreparedFileIsRemovedAtOpen) {
  SimIo io;
  {
    Opened o = open_log(io);
    EXPECT_TRUE(o.log->prepare(64));  // stopped midway
  }
  ASSERT_TRUE(io.exists("data/next-segment.tmp"));
  Opened again = open_log(io);
  ASSERT_EQ(again.err, 0);
  EXPECT_FALSE(io.exists("data/next-segment.tmp"));
  EXPECT_TRUE(again.damage.empty());
}

TEST(Log, APreparationThatFailsOnlyEndsThePreparation) {
  SimIo io;
  Opened o = open_log(io);
  io.fail(SimIo::Op::Write, ENOSPC);
  EXPECT_FALSE(o.log->prepare(1000));
  EXPECT_FALSE(o.log->prepared());
  EXPECT_FALSE(o.log->prepare(1000));  // not again this run
  EXPECT_EQ(o.log->error(), 0);
  add(*o.log, 0, 30);
  EXPECT_EQ(o.log->sync(), 0);  // rotations create segments as before
}

}  // namespace
}  // namespace warren::store

namespace warren::store {
namespace {

// Batches whose records end in tails (Batch::Tail: a body written from its
// own string): the same octets on disk as a copy would give, CRCs and all,
// through short writes; an EIO on the gathered write fails the log.
Batch tail_batch(Position start, const std::vector<std::shared_ptr<const std::string>>& bodies) {
  Batch b;
  b.start = start;
  for (size_t i = 0; i < bodies.size(); ++i) {
    const std::string head = "head " + std::to_string(i) + ":";
    if (i % 3 == 2) b.add(7, byte_span(head));  // a record without a tail between them
    const std::string& body = *bodies[i];
    b.add(7, byte_span(head), byte_span(body), bodies[i]);
  }
  return b;
}

std::vector<std::shared_ptr<const std::string>> tail_bodies() {
  std::vector<std::shared_ptr<const std::string>> out;
  for (size_t n : {300, 1, 0, 5000, 70000})
    out.push_back(std::make_shared<const std::string>(std::string(n, char('a' + n % 26))));
  return out;
}

TEST(Log, TailsAreWrittenFromWhereTheyAreAsTheSameOctets) {
  const auto bodies = tail_bodies();
  for (bool short_writes : {false, true}) {
    SimIo io(7);
    io.short_writes(short_writes);
    {
      Opened o = open_log(io, 1 << 20);
      ASSERT_EQ(o.err, 0);
      Batch b = tail_batch(o.log->end(), bodies);
      EXPECT_EQ(b.tails.size(), bodies.size());
      EXPECT_EQ(b.end().offset - b.start.offset, b.bytes.size() + b.tail_octets);
      Batch twice = tail_batch(b.end(), bodies);
      b.append(twice);
      ASSERT_EQ(o.log->write(b), 0);
    }
    Opened o = open_log(io, 1 << 20);
    ASSERT_EQ(o.err, 0);
    EXPECT_TRUE(o.damage.empty());
    std::vector<std::string> want;
    for (int round = 0; round < 2; ++round)
      for (size_t i = 0; i < bodies.size(); ++i) {
        const std::string head = "head " + std::to_string(i) + ":";
        if (i % 3 == 2) want.push_back(head);
        want.push_back(head + *bodies[i]);
      }
    EXPECT_EQ(o.records, want) << short_writes;
  }
  // The octets a batch of copies gives.
  SimIo a, b;
  {
    Opened oa = open_log(a, 1 << 20), ob = open_log(b, 1 << 20);
    Batch tails = tail_batch(oa.log->end(), bodies);
    Batch copies;
    copies.start = ob.log->end();
    for (size_t i = 0; i < bodies.size(); ++i) {
      const std::string head = "head " + std::to_string(i) + ":";
      if (i % 3 == 2) copies.add(7, byte_span(head));
      copies.add(7, byte_span(head), byte_span(*bodies[i]));
    }
    ASSERT_EQ(oa.log->write(tails), 0);
    ASSERT_EQ(ob.log->write(copies), 0);
  }
  std::unique_ptr<File> fa, fb;
  const std::string seg = "data/00000000000000000001.wlog";
  ASSERT_EQ(a.open(seg, OpenMode::Read, fa), 0);
  ASSERT_EQ(b.open(seg, OpenMode::Read, fb), 0);
  uint64_t na = 0, nb = 0;
  fa->size(na);
  fb->size(nb);
  ASSERT_EQ(na, nb);
  std::vector<uint8_t> ba(na), bb(nb);
  size_t got = 0;
  fa->read_at(ba, 0, got);
  fb->read_at(bb, 0, got);
  EXPECT_TRUE(ba == bb) << "the same octets on disk";
}

TEST(Log, AnEioOnAGatheredWriteFailsTheLog) {
  const auto bodies = tail_bodies();
  SimIo io;
  {
    Opened o = open_log(io, 1 << 20);
    ASSERT_EQ(o.err, 0);
    Batch good = tail_batch(o.log->end(), bodies);
    ASSERT_EQ(o.log->write(good), 0);
    Batch bad = tail_batch(o.log->end(), bodies);
    io.fail(SimIo::Op::Write, EIO);
    EXPECT_EQ(o.log->write(bad), EIO);
    Batch after = tail_batch(o.log->end(), bodies);
    EXPECT_EQ(o.log->write(after), EIO);  // fail-stop
  }
  io.power_loss();
  Opened o = open_log(io, 1 << 20);
  ASSERT_EQ(o.err, 0);
  EXPECT_EQ(o.records.size(), bodies.size() + 1);  // the first batch, whole
}

}  // namespace
}  // namespace warren::store

namespace warren::store {
namespace {

// Positions are 32-bit (Message::Stored): a file numbered past that is
// damage, never read nor continued (the log goes on after the last
// segment in range).
TEST(Log, ASegmentNumberedPast32BitsIsDamageNotContinued) {
  SimIo io;
  {
    Opened o = open_log(io);
    ASSERT_EQ(o.err, 0);
    add(*o.log, 0, 3);
    ASSERT_EQ(o.log->sync(), 0);
  }
  io.set_contents(segment_path("data", uint64_t(1) << 40), std::string("WRNLOG\x01\x00", 8) + std::string(8, '\0'));
  Opened o = open_log(io);
  ASSERT_EQ(o.err, 0);
  EXPECT_EQ(o.records, expected(3));
  ASSERT_EQ(o.damage.size(), 1u);
  EXPECT_NE(o.damage[0].what.find("out of range"), std::string::npos);
  EXPECT_LE(o.log->end().segment, kMaxSegmentNumber);
}

}  // namespace
}  // namespace warren::store
