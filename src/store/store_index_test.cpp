// Recovery from segment indexes gives exactly what reading every segment
// gives: seeded runs of publishes (priorities, TTLs, large bodies written
// from where they lie), deliveries, acks, rejections into a dead-letter
// queue, purges, queue deletions and compaction, cut short by crashes and
// power losses at any point of a batch; after each, the store is recovered
// twice from the same disk, with its indexes and with them deleted, and
// the two vhosts must hold the same queues, entries, places and bodies.
// And: an index that is torn, damaged or missing is read around (and
// written again); a message body damaged under a good index is found when
// it is paged in, and only that message is lost; warren-store checks an
// index against its segment.
#include <gtest/gtest.h>

#include <random>
#include <tuple>

#include "broker/test_util.hpp"
#include "store/inspect.hpp"
#include "store/segment_index.hpp"
#include "store/store_test_util.hpp"

namespace warren::store::index_test {
namespace {

using test::persistent;
using test::StoreHarness;

broker::MessagePtr with_priority(const std::string& body, const std::string& key, uint8_t priority) {
  broker::Properties p;
  p.delivery_mode = 2;
  p.priority = priority;
  return broker::Message::built("", key, std::move(p), std::make_shared<const std::string>(body));
}

bool not_an_index(const std::string& name) {
  uint64_t k;
  return !index_number(name, k);
}

// Everything a recovered vhost holds that the log decides, per durable queue.
using EntryKey = std::tuple<uint64_t, uint32_t, uint32_t, int64_t, uint32_t, bool>;  // seq, place, expiry, size, paged
struct QueueShape {
  std::vector<EntryKey> entries;
  std::vector<std::string> bodies;
  bool operator==(const QueueShape&) const = default;
};

std::map<std::string, QueueShape> shape(StoreHarness& h) {
  std::map<std::string, QueueShape> out;
  for (const auto& [name, q] : h.vhost->queues()) {
    if (!q->durable()) continue;
    QueueShape& s = out[name];
    q->for_each_entry([&](const broker::Queue::EntryView& e) {
      s.entries.emplace_back(e.seq, e.at.segment, e.at.offset, (e.expires - TimePoint{}).count(), e.size, e.msg == nullptr);
    });
    s.bodies = h.bodies(name);
  }
  return out;
}

class IndexRun {
 public:
  // Even seeds page (3 messages in memory per queue); segments of 1 KiB or
  // 4 KiB, so that many are sealed, indexed, compacted and removed.
  explicit IndexRun(uint64_t seed) : h_(seed, seed % 3 == 0 ? 4096 : 1024), rng_(seed), seed_(seed) {
    h_.prepare = true;
    if (seed % 2 == 0) {
      h_.memory_budget = 1;
      h_.window = {3, 1 << 20};
    }
  }

  void run(int steps) {
    ASSERT_EQ(h_.open(), 0);
    h_.declare_queue("b");
    h_.declare_queue("a", true, {{"x-dead-letter-exchange", ""}, {"x-dead-letter-routing-key", "b"}});
    h_.declare_queue("p", true, {{"x-max-priority", 3}});
    h_.declare_queue("c");
    ASSERT_EQ(flush(), 0);
    for (int i = 0; i < steps && !::testing::Test::HasFailure(); ++i) step();
  }

  int recoveries = 0;
  uint64_t indexed = 0, read = 0;

 private:
  void step() {
    const int r = int(rng_() % 100);
    if (r < 40) return publish();
    if (r < 55) return deliver();
    if (r < 72) return settle();
    if (r < 74) return purge();
    if (r < 75) return recreate();
    if (r < 95) {
      ASSERT_EQ(flush(), 0);
      return;
    }
    crash();
  }

  void publish() {
    static const char* const kQueues[] = {"a", "a", "b", "p", "c"};
    const std::string q = kQueues[rng_() % 5];
    const uint64_t id = next_++;
    std::string body = std::to_string(id);
    if (rng_() % 10 == 0) body += std::string(300, 'L');  // written from its own string (a tail)
    if (q == "p") {
      h_.publish(with_priority(body, q, uint8_t(rng_() % 4)), id);
    } else if (rng_() % 6 == 0) {
      h_.publish(persistent(body, q, "600000"), id);  // expires in 10 minutes: after every restart here
    } else if (rng_() % 10 == 0) {
      h_.publish(test::transient(body, q), id);
    } else {
      h_.publish(persistent(body, q), id);
    }
  }

  void deliver() {
    static const char* const kQueues[] = {"a", "b", "p", "c"};
    const std::string q = kQueues[rng_() % 4];
    if (auto d = h_.get(q)) unacked_.push_back({q, *d});
  }

  void settle() {
    if (unacked_.empty()) return;
    const size_t i = rng_() % unacked_.size();
    auto [q, d] = unacked_[i];
    unacked_.erase(unacked_.begin() + ptrdiff_t(i));
    static const broker::Outcome kHow[] = {broker::Outcome::Released, broker::Outcome::Rejected,
                                           broker::Outcome::Accepted, broker::Outcome::Accepted};
    if (broker::QueuePtr queue = h_.queue(q)) queue->settle(d.seq, kHow[rng_() % 4], h_.now);
  }

  void purge() {
    uint64_t n = 0;
    ASSERT_FALSE(h_.vhost->purge_queue(rng_() % 2 ? "a" : "p", 0, h_.now, n));
  }

  // Queue c is deleted and declared again (a new id in the log).
  void recreate() {
    uint64_t n = 0;
    std::erase_if(unacked_, [](const auto& u) { return u.first == "c"; });
    ASSERT_FALSE(h_.vhost->delete_queue("c", false, false, 0, h_.now, n));
    h_.declare_queue("c");
  }

  int flush() {
    const int err = h_.flush();
    h_.pump_reads();
    return err;
  }

  void crash() {
    h_.take_batch_to(int(rng_() % 3));
    unacked_.clear();
    h_.stop();
    if (rng_() % 2) h_.io.power_loss();
    // The same disk, twice: with its indexes, and without.
    StoreHarness without(seed_, seed_ % 3 == 0 ? 4096 : 1024);
    without.memory_budget = h_.memory_budget;
    without.window = h_.window;
    h_.io.copy_dir("data/vhost", without.io, not_an_index);
    ASSERT_EQ(h_.open(), 0);
    ASSERT_EQ(without.open(), 0);
    const std::string where = "seed " + std::to_string(seed_) + ", recovery " + std::to_string(recoveries);
    EXPECT_EQ(without.report.segments_indexed, 0u) << where;
    indexed += h_.report.segments_indexed;
    read += h_.report.segments_read;
    EXPECT_EQ(h_.report.messages, without.report.messages) << where;
    EXPECT_EQ(h_.report.queues, without.report.queues) << where;
    EXPECT_EQ(h_.report.bindings, without.report.bindings) << where;
    EXPECT_TRUE(h_.report.damage.empty()) << where << ": " << h_.report.damage[0].what;
    EXPECT_TRUE(without.report.damage.empty()) << where;
    EXPECT_EQ(shape(h_), shape(without)) << where;
    EXPECT_EQ(h_.store->live_segments(), without.store->live_segments()) << where;
    EXPECT_EQ(h_.queue("p")->ready_count(), without.queue("p")->ready_count()) << where;
    ++recoveries;
  }

  StoreHarness h_;
  std::mt19937_64 rng_;
  uint64_t seed_;
  uint64_t next_ = 1;
  std::vector<std::pair<std::string, broker::Delivery>> unacked_;
};

TEST(StoreIndex, RecoveryFromIndexesIsRecoveryFromEverySegment) {
  int recoveries = 0;
  uint64_t indexed = 0, read = 0;
  for (uint64_t seed = 1; seed <= 10 && !HasFailure(); ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    IndexRun run(seed);
    run.run(300);
    recoveries += run.recoveries;
    indexed += run.indexed;
    read += run.read;
  }
  EXPECT_GT(recoveries, 80);
  // Most sealed segments came from their index; those read whole had lost
  // theirs to a crash before it was written (then written at recovery).
  EXPECT_GT(indexed, 10 * read);
  EXPECT_GT(indexed, 1000u);
}

std::vector<std::string> kilobytes(int from, int to) {
  std::vector<std::string> out;
  for (int i = from; i < to; ++i) out.push_back(std::to_string(i) + std::string(1000, 'x'));
  return out;
}

// Everything ready in "q", through a no-ack consumer, answering reads.
std::vector<std::string> consume(StoreHarness& h) {
  broker::test::FakeConsumer c(UINT32_MAX, /*no_ack=*/true);
  EXPECT_FALSE(h.queue("q")->add_consumer({&c, "c"}, h.now));
  while (h.pump_reads() > 0) {
  }
  h.queue("q")->remove_consumer(&c, h.now);
  std::vector<std::string> out;
  for (const broker::Delivery& d : c.got) out.emplace_back(d.message->body_view());
  return out;
}

// A paging harness with 8 KiB segments, and `n` messages of 1 KiB in "q".
struct Backlog : StoreHarness {
  explicit Backlog(int n) : StoreHarness(1, 8192) {
    memory_budget = 1;
    window = {4, 1 << 20};
    if (n < 0) return;
    EXPECT_EQ(open(), 0);
    declare_queue("q");
    uint64_t cookie = 1;
    for (const std::string& b : kilobytes(0, n)) {
      publish(persistent(b), cookie);
      if (cookie++ % 4 == 0) {
        EXPECT_EQ(flush(), 0);  // a batch goes into one segment: 4 KiB each
      }
    }
    EXPECT_EQ(flush(), 0);
  }
  std::vector<std::string> consume() { return index_test::consume(*this); }
};

TEST(StoreIndex, ATornDamagedOrMissingIndexIsReadAroundThenWrittenAgain) {
  Backlog h(60);
  h.restart();
  const uint64_t sealed = h.report.segments_indexed;
  ASSERT_GT(sealed, 5u);
  EXPECT_EQ(h.report.segments_read, 0u);
  h.stop();
  // Segment 2's index torn (as a power loss mid-write leaves it), 3's with
  // a flipped bit, 4's gone.
  const std::string two = index_path("data/vhost", 2), three = index_path("data/vhost", 3);
  h.io.set_contents(two, h.io.contents(two).substr(0, 40));
  std::string bytes = h.io.contents(three);
  bytes[bytes.size() / 2] ^= 4;
  h.io.set_contents(three, bytes);
  ASSERT_EQ(h.io.remove(index_path("data/vhost", 4)), 0);
  ASSERT_EQ(h.open(), 0);
  EXPECT_EQ(h.report.segments_read, 3u);
  EXPECT_EQ(h.report.indexes_written, 3u);
  EXPECT_EQ(h.report.segments_indexed, sealed + 1 - 3);  // the restart sealed one more
  EXPECT_EQ(h.report.indexes_missing, 1u);
  ASSERT_EQ(h.report.index_notes.size(), 2u);  // torn, damaged: warnings; missing is expected after a crash
  EXPECT_NE(h.report.index_notes[0].what.find("CRC"), std::string::npos) << h.report.index_notes[0].what;
  EXPECT_NE(h.report.index_notes[1].what.find("CRC"), std::string::npos) << h.report.index_notes[1].what;
  EXPECT_TRUE(h.report.damage.empty());
  EXPECT_EQ(h.bodies("q"), kilobytes(0, 60));
  h.restart();
  EXPECT_EQ(h.report.segments_read, 0u);
  EXPECT_GE(h.report.segments_indexed, sealed);
  EXPECT_EQ(h.consume(), kilobytes(0, 60));
}

// A damaged index header's entry count (a hint read before the index is
// checked) once sized recovery's message table: 2^40 entries asked for
// 48 GiB and the start-up died. The count is held to what the file can
// hold; the index is then refused on its CRC and its segment read.
TEST(StoreIndex, AnIndexCountingTooManyEntriesIsReadAround) {
  Backlog h(60);
  h.stop();
  const std::string two = index_path("data/vhost", 2);
  std::string bytes = h.io.contents(two);
  ASSERT_GT(bytes.size(), kIndexHeaderSize);
  bytes[24 + 5] = 1;  // the entry count, little-endian at 24: + 2^40
  h.io.set_contents(two, bytes);
  EXPECT_LE(index_entries(h.io, "data/vhost", 2), (bytes.size() - kIndexHeaderSize - 4) / 2);
  ASSERT_EQ(h.open(), 0);
  EXPECT_EQ(h.report.segments_read, 1u);
  ASSERT_EQ(h.report.index_notes.size(), 1u);
  EXPECT_NE(h.report.index_notes[0].what.find("CRC"), std::string::npos) << h.report.index_notes[0].what;
  EXPECT_TRUE(h.report.damage.empty());
  EXPECT_EQ(h.consume(), kilobytes(0, 60));
}

// An index that stands for only the first records of its segment (good
// CRC, good entries, its last record where it says) is not one warrend
// writes, but damage could make one: recovery must not take it and skip
// the records after its end. A valid record where it ends gives it away.
TEST(StoreIndex, AnIndexOfOnlyAPrefixOfItsSegmentIsReadAround) {
  Backlog h(60);
  h.stop();
  SegmentIndex good;
  std::string why;
  {
    std::unique_ptr<File> seg;
    ASSERT_EQ(h.io.open(segment_path("data/vhost", 2), OpenMode::Read, seg), 0);
    ASSERT_EQ(load_index(h.io, "data/vhost", 2, *seg, good, why), 0) << why;
    ASSERT_GT(good.count, 2u);
    IndexBuilder prefix(2);
    const Summarize whole = [](uint8_t, std::span<const uint8_t>, uint64_t, std::vector<uint8_t>&) { return false; };
    uint64_t n = 0;
    good.for_each([&](const IndexEntry& e) {
      if (n++ >= good.count / 2) return;
      uint8_t type = 0;
      std::vector<uint8_t> payload;
      ASSERT_EQ(read_record(*seg, e.offset, type, payload), 0);
      prefix.add(e.offset, type, payload, {}, whole);
    });
    ASSERT_LT(prefix.end(), good.end);
    const std::vector<uint8_t> bytes = prefix.file_bytes();
    h.io.set_contents(index_path("data/vhost", 2), std::string(bytes.begin(), bytes.end()));
  }
  ASSERT_EQ(h.open(), 0);
  ASSERT_EQ(h.report.index_notes.size(), 1u);
  EXPECT_NE(h.report.index_notes[0].what.find("past"), std::string::npos) << h.report.index_notes[0].what;
  EXPECT_TRUE(h.report.damage.empty());
  EXPECT_EQ(h.consume(), kilobytes(0, 60));
}

// The power goes after a segment is sealed and before its index is synced:
// the index is torn or gone, the segment is read, nothing is lost.
TEST(StoreIndex, PowerLostBetweenASealAndItsIndexSync) {
  for (int torn = 0; torn < 2; ++torn) {
    Backlog h(30);
    const Position end = h.store->log().end();
    // Sealed just now: the newest index is the one of the segment before.
    const std::string newest = index_path("data/vhost", end.segment - 1);
    ASSERT_TRUE(h.io.exists(newest));
    h.stop();
    if (torn)
      h.io.set_contents(newest, h.io.contents(newest).substr(0, h.io.contents(newest).size() - 3));
    else
      ASSERT_EQ(h.io.remove(newest), 0);
    ASSERT_EQ(h.io.sync_dir("data/vhost"), 0);
    h.io.power_loss();
    ASSERT_EQ(h.open(), 0);
    EXPECT_EQ(h.report.segments_read, 1u);
    EXPECT_EQ(h.report.index_notes.size(), torn ? 1u : 0u);
    EXPECT_EQ(h.report.indexes_missing, torn ? 0u : 1u);
    EXPECT_TRUE(h.report.damage.empty());
    EXPECT_EQ(h.consume(), kilobytes(0, 30));
  }
}

// Under a good index a message's body can still be damaged on disk: the
// restart does not read it, so nothing is reported then; it is found when
// the message is paged in, reported with its file and offset, and only
// that message is lost, as reading the segment at the restart would have.
TEST(StoreIndex, ABodyDamagedUnderAGoodIndexIsFoundWhenPagedIn) {
  Backlog h(40);
  // Message 20's record, in a sealed segment.
  broker::Message::Stored victim;
  h.queue("q")->for_each_entry([&](const broker::Queue::EntryView& e) {
    if (e.seq == 21) victim = e.at;
  });
  ASSERT_LT(victim.segment, h.store->log().end().segment);
  h.stop();
  const std::string file = segment_path("data/vhost", victim.segment);
  std::string bytes = h.io.contents(file);
  bytes[victim.offset + 500] ^= 0x21;
  h.io.set_contents(file, bytes);
  Backlog scan(-1);  // the same disk, read without its indexes
  h.io.copy_dir("data/vhost", scan.io, not_an_index);
  ASSERT_EQ(h.open(), 0);
  EXPECT_GT(h.report.segments_indexed, 0u);
  EXPECT_TRUE(h.report.damage.empty());  // not read yet
  EXPECT_EQ(h.report.messages, 40u);
  auto expected = kilobytes(0, 40);
  expected.erase(expected.begin() + 20);
  EXPECT_EQ(h.consume(), expected);
  ASSERT_EQ(h.damage.size(), 1u);
  EXPECT_EQ(h.damage[0].file, file);
  EXPECT_EQ(h.damage[0].offset, victim.offset);
  // Reading the segment at the restart loses the same message, found then.
  ASSERT_EQ(scan.open(), 0);
  EXPECT_FALSE(scan.report.damage.empty());
  EXPECT_EQ(scan.report.messages, 39u);
  EXPECT_EQ(scan.consume(), expected);
}

// warren-store verify: each index against the one its segment's records
// make, byte for byte; a damaged one is reported.
TEST(StoreIndex, InspectionChecksIndexesAgainstTheirSegments) {
  StoreHarness h(1, 4096);
  ASSERT_EQ(h.open(), 0);
  h.declare_queue("q");
  for (int i = 0; i < 40; ++i) {  // bodies of 100 B, in the batch, and of 600 B, written from where they lie
    h.publish(persistent(std::string(i % 2 ? 100 : 600, char('a' + i % 26))), uint64_t(i + 1));
    if (i % 3 == 2) {
      ASSERT_EQ(h.flush(), 0);
    }
  }
  ASSERT_EQ(h.flush(), 0);
  h.stop();
  Inspection in;
  ASSERT_EQ(inspect(h.io, "data/vhost", in), 0);
  ASSERT_GT(in.segments.size(), 3u);
  for (size_t i = 0; i + 1 < in.segments.size(); ++i)
    EXPECT_EQ(in.segments[i].index, SegmentSummary::Index::Good) << i << ": " << in.segments[i].index_problem;
  EXPECT_EQ(in.segments.back().index, SegmentSummary::Index::None);
  EXPECT_FALSE(in.damaged());
  const std::string one = index_path("data/vhost", 1);
  std::string bytes = h.io.contents(one);
  bytes[kIndexHeaderSize + 3] ^= 1;
  h.io.set_contents(one, bytes);
  Inspection again;
  ASSERT_EQ(inspect(h.io, "data/vhost", again), 0);
  EXPECT_EQ(again.segments[0].index, SegmentSummary::Index::Bad);
  EXPECT_TRUE(again.damaged());
}

}  // namespace
}  // namespace warren::store::index_test
