// The store pages (broker/pager.hpp): with memory short, a durable queue
// keeps its window of persistent messages in memory and the rest only in
// the log; they come back in order as consumers near them, after a
// restart too, and a purge or delete lets their segments go.
#include <gtest/gtest.h>

#include "broker/test_util.hpp"
#include "store/store_test_util.hpp"

namespace warren::store {
namespace {

using test::persistent;
using test::StoreHarness;

std::vector<std::string> kilobytes(int from, int to) {
  std::vector<std::string> out;
  for (int i = from; i < to; ++i) out.push_back(std::to_string(i) + std::string(1000, 'x'));
  return out;
}

// A harness whose memory is always short; queues keep 4 in memory.
struct PagingHarness : StoreHarness {
  explicit PagingHarness(uint64_t segment_bytes = 64u << 20) : StoreHarness(1, segment_bytes) {
    memory_budget = 1;
    window = {4, 1 << 20};
  }
  void publish_all(const std::vector<std::string>& bodies) {
    uint64_t cookie = 1;
    for (const std::string& b : bodies) publish(persistent(b), cookie++);
  }
  // `all` comes back through a consumer, and its removals were logged
  // like any other: after a restart the queue is empty.
  void expect_consumed_for_good(const std::vector<std::string>& all) {
    EXPECT_EQ(consume(), all);
    ASSERT_EQ(flush(), 0);
    restart();
    EXPECT_EQ(queue("q")->ready_count(), 0u);
  }
  // Everything ready in "q", through a no-ack consumer, answering reads.
  std::vector<std::string> consume(const std::string& name = "q") {
    broker::test::FakeConsumer c(UINT32_MAX, /*no_ack=*/true);
    EXPECT_FALSE(queue(name)->add_consumer({&c, "c"}, now));
    while (pump_reads() > 0) {
    }
    queue(name)->remove_consumer(&c, now);
    std::vector<std::string> out;
    for (const broker::Delivery& d : c.got) out.emplace_back(d.message->body_view());
    return out;
  }
};

TEST(StorePaging, PagedMessagesComeBackInOrder) {
  PagingHarness h;
  ASSERT_EQ(h.open(), 0);
  h.declare_queue("q");
  const auto all = kilobytes(0, 50);
  h.publish_all(all);
  // Nothing leaves memory before its record is durable.
  EXPECT_EQ(h.queue("q")->paged_count(), 0u);
  ASSERT_EQ(h.flush(), 0);
  EXPECT_EQ(h.queue("q")->paged_count(), 46u);
  EXPECT_EQ(h.queue("q")->ready_count(), 50u);
  EXPECT_EQ(h.bodies("q"), all);
  h.expect_consumed_for_good(all);
  EXPECT_TRUE(h.damage.empty());
}

TEST(StorePaging, WithoutABudgetNothingIsPaged) {
  StoreHarness h;
  ASSERT_EQ(h.open(), 0);
  h.declare_queue("q");
  for (int i = 0; i < 50; ++i) h.publish(persistent(std::to_string(i)), uint64_t(i + 1));
  ASSERT_EQ(h.flush(), 0);
  EXPECT_EQ(h.queue("q")->paged_count(), 0u);
  h.restart();
  EXPECT_EQ(h.queue("q")->paged_count(), 0u);
  EXPECT_EQ(h.queue("q")->ready_count(), 50u);
}

// Recovery reads only each queue's window: the rest stays paged, so a
// restart with a large backlog neither reads every body nor holds it.
TEST(StorePaging, RecoveryReadsOnlyTheWindow) {
  PagingHarness h;
  ASSERT_EQ(h.open(), 0);
  h.declare_queue("q");
  h.declare_queue("other");
  const auto all = kilobytes(0, 30);
  h.publish_all(all);
  ASSERT_EQ(h.flush(), 0);
  h.restart();
  EXPECT_EQ(h.report.messages, 30u);
  EXPECT_EQ(h.queue("q")->paged_count(), 26u);
  h.expect_consumed_for_good(all);
}

TEST(StorePaging, NewMessagesFollowPagedOnesAcrossARestart) {
  PagingHarness h;
  ASSERT_EQ(h.open(), 0);
  h.declare_queue("q");
  h.publish_all(kilobytes(0, 20));
  ASSERT_EQ(h.flush(), 0);
  h.publish_all(kilobytes(20, 25));  // behind the paged, in memory
  ASSERT_EQ(h.flush(), 0);
  EXPECT_EQ(h.bodies("q"), kilobytes(0, 25));
  h.restart();
  EXPECT_EQ(h.consume(), kilobytes(0, 25));
}

// A purge and a delete count the paged entries out of their segments,
// which then go.
TEST(StorePaging, PurgedAndDeletedPagedEntriesFreeTheirSegments) {
  PagingHarness h(/*segment_bytes=*/4096);
  ASSERT_EQ(h.open(), 0);
  h.declare_queue("q");
  h.declare_queue("r");
  h.publish_all(kilobytes(0, 40));
  for (int i = 0; i < 40; ++i) h.publish(persistent("r" + std::to_string(i), "r"), 100 + uint64_t(i));
  ASSERT_EQ(h.flush(), 0);
  ASSERT_GT(h.queue("q")->paged_count(), 30u);
  ASSERT_GT(h.queue("r")->paged_count(), 30u);
  EXPECT_FALSE(h.store->live_segments().empty());
  uint64_t n = 0;
  ASSERT_FALSE(h.vhost->purge_queue("q", 0, h.now, n));
  EXPECT_EQ(n, 40u);
  ASSERT_FALSE(h.vhost->delete_queue("r", false, false, 0, h.now, n));
  EXPECT_TRUE(h.store->live_segments().empty());
  h.publish(persistent("after", "q"), 1000);
  ASSERT_EQ(h.flush(), 0);  // the batch after removes the old segments
  ASSERT_EQ(h.flush(), 0);
  EXPECT_GT(h.store->log().first_segment(), 1u);
  h.restart();
  EXPECT_EQ(h.bodies("q"), (std::vector<std::string>{"after"}));
  EXPECT_FALSE(h.queue("r"));
}

// A paged message whose record is damaged on disk is reported and lost;
// the queue goes on with the rest.
TEST(StorePaging, ADamagedPagedMessageIsReportedAndSkipped) {
  PagingHarness h;
  ASSERT_EQ(h.open(), 0);
  h.declare_queue("q");
  const auto all = kilobytes(0, 10);
  h.publish_all(all);
  ASSERT_EQ(h.flush(), 0);
  broker::Message::Stored victim;
  h.queue("q")->for_each_entry([&](const broker::Queue::EntryView& e) {
    if (e.seq == 7) victim = e.at;
    EXPECT_EQ(e.msg == nullptr, e.seq > 4);
  });
  const std::string file = segment_path("data/vhost", victim.segment);
  std::string bytes = h.io.contents(file);
  bytes[victim.offset + 20] ^= 0x55;
  h.io.set_contents(file, bytes);
  auto expected = all;
  expected.erase(expected.begin() + 6);
  EXPECT_EQ(h.consume(), expected);
  ASSERT_EQ(h.damage.size(), 1u);
  EXPECT_EQ(h.damage[0].offset, victim.offset);
  EXPECT_EQ(h.queue("q")->ready_count(), 0u);
}

// A message in several queues is logged once and paged in each.
TEST(StorePaging, AFannedOutMessageIsPagedInEveryQueue) {
  PagingHarness h;
  ASSERT_EQ(h.open(), 0);
  for (const char* q : {"a", "b"}) {
    h.declare_queue(q);
    ASSERT_FALSE(h.vhost->bind_queue(q, "amq.fanout", "", {}, 0));
  }
  const auto all = kilobytes(0, 12);
  uint64_t cookie = 1;
  for (const std::string& b : all) h.publish(persistent(b), cookie++, "amq.fanout");
  ASSERT_EQ(h.flush(), 0);
  EXPECT_EQ(h.queue("a")->paged_count(), 8u);
  EXPECT_EQ(h.queue("b")->paged_count(), 8u);
  EXPECT_EQ(h.consume("a"), all);
  EXPECT_EQ(h.consume("b"), all);
}

}  // namespace
}  // namespace warren::store

namespace warren::store {
namespace {

// Compaction: one message left in the oldest segment is copied forward,
// and the segments it pinned go; paged or not, it survives a restart.
class Compaction : public ::testing::TestWithParam<bool> {};

TEST_P(Compaction, ALongLivedMessageNoLongerPinsTheLog) {
  const bool paging = GetParam();
  StoreHarness h(1, /*segment_bytes=*/4096);
  if (paging) {
    h.memory_budget = 1;
    h.window = {1, 1 << 20};
  }
  ASSERT_EQ(h.open(), 0);
  h.declare_queue("slow");
  h.declare_queue("fast");
  h.publish(persistent("keeper", "slow"), 1);
  h.publish(persistent("keeper2", "slow"), 2);
  for (int i = 0; i < 600; ++i) {
    h.publish(persistent(std::string(200, char('a' + i % 26)), "fast"), uint64_t(i + 3));
    ASSERT_EQ(h.flush(), 0);
    if (auto d = h.get("fast")) h.queue("fast")->settle(d->seq, broker::Outcome::Accepted, h.now);
    h.pump_reads();
  }
  ASSERT_EQ(h.flush(), 0);
  h.pump_reads();
  ASSERT_EQ(h.flush(), 0);
  EXPECT_EQ(h.queue("slow")->paged_count(), paging ? 1u : 0u);
  std::vector<std::string> files;
  h.io.list("data/vhost", files);
  EXPECT_GT(h.store->log().end().segment, 30u);
  EXPECT_LE(files.size(), 11u) << "the keepers still pin the oldest segments";
  EXPECT_GT(h.store->log().first_segment(), 1u);
  h.restart();
  EXPECT_EQ(h.bodies("slow"), (std::vector<std::string>{"keeper", "keeper2"}));
  EXPECT_TRUE(h.bodies("fast").empty());
  EXPECT_TRUE(h.damage.empty());
}

INSTANTIATE_TEST_SUITE_P(PagedOrNot, Compaction, ::testing::Bool());

// A backlog that is mostly live is not copied: that would rewrite it again
// and again while it is consumed.
TEST(StoreCompaction, ADenseBacklogIsLeftWhereItIs) {
  StoreHarness h(1, /*segment_bytes=*/4096);
  ASSERT_EQ(h.open(), 0);
  h.declare_queue("q");
  for (int i = 0; i < 100; ++i) {
    h.publish(persistent(std::string(200, 'x')), uint64_t(i + 1));
    ASSERT_EQ(h.flush(), 0);
  }
  const Position end = h.store->log().end();
  for (int i = 0; i < 5; ++i) {
    auto d = h.get("q");
    h.queue("q")->settle(d->seq, broker::Outcome::Accepted, h.now);
    ASSERT_EQ(h.flush(), 0);
  }
  // Only the five small removals were written.
  EXPECT_LT(h.store->log().end().offset + (h.store->log().end().segment - end.segment) * 4096 - end.offset, 200u);
}

}  // namespace
}  // namespace warren::store
