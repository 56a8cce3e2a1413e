// A vhost's store: what survives a restart and a power loss, what does not,
// and when a publisher hears that its message is safe.
#include "store/vhost_store.hpp"

#include <gtest/gtest.h>

#include "broker/test_util.hpp"
#include "store/inspect.hpp"
#include "store/store_test_util.hpp"

namespace warren::store {
namespace {

using test::persistent;
using test::StoreHarness;
using test::transient;
using broker::Outcome;

TEST(VHostStore, DurableDefinitionsSurviveARestartAndTransientOnesDoNot) {
  StoreHarness h;
  ASSERT_EQ(h.open(), 0);
  broker::ExchangeDeclare x{"orders", "topic", false, true, false, false, {{"alternate-exchange", "unrouted"}}};
  ASSERT_FALSE(h.vhost->declare_exchange(x));
  ASSERT_FALSE(h.vhost->declare_exchange({"scratch", "fanout", false, false}));
  h.declare_queue("q", true, {{"x-max-length", int64_t(10)}, {"x-dead-letter-exchange", "dlx"}});
  h.declare_queue("tmp", false);
  broker::QueueDeclare excl;
  excl.name = "mine";
  excl.durable = true;
  excl.exclusive = true;
  excl.owner = 7;
  broker::QueueDeclareOk ok;
  ASSERT_FALSE(h.vhost->declare_queue(excl, h.now, ok));
  ASSERT_FALSE(h.vhost->bind_queue("q", "orders", "eu.#", {}, 0));
  ASSERT_FALSE(h.vhost->bind_queue("q", "amq.direct", "k", {}, 0));
  ASSERT_FALSE(h.vhost->bind_queue("tmp", "orders", "us.#", {}, 0));  // to a transient queue: not durable
  ASSERT_FALSE(h.vhost->bind_queue("q", "scratch", "", {}, 0));       // from a transient exchange: neither
  ASSERT_EQ(h.flush(), 0);

  h.restart();
  broker::ExchangePtr orders = h.vhost->find_exchange("orders");
  ASSERT_TRUE(orders);
  EXPECT_EQ(orders->type(), broker::ExchangeType::Topic);
  EXPECT_TRUE(orders->options().durable);
  EXPECT_EQ(orders->options().arguments, (broker::Table{{"alternate-exchange", "unrouted"}}));
  EXPECT_FALSE(h.vhost->find_exchange("scratch"));
  ASSERT_TRUE(h.queue("q"));
  EXPECT_EQ(h.queue("q")->options().args.max_length, 10u);
  EXPECT_EQ(*h.queue("q")->options().args.dead_letter_exchange, "dlx");
  EXPECT_FALSE(h.queue("tmp"));
  EXPECT_FALSE(h.queue("mine"));
  ASSERT_EQ(orders->bindings().size(), 1u);
  EXPECT_EQ(orders->bindings()[0].key, "eu.#");
  ASSERT_EQ(h.vhost->find_exchange("amq.direct")->bindings().size(), 1u);
  EXPECT_EQ(h.report.queues, 1u);
  EXPECT_EQ(h.report.exchanges, 1u);
  EXPECT_TRUE(h.report.damage.empty());
}

TEST(VHostStore, DeletionsAndUnbindingsSurviveToo) {
  StoreHarness h;
  ASSERT_EQ(h.open(), 0);
  ASSERT_FALSE(h.vhost->declare_exchange({"x", "direct", false, true}));
  ASSERT_FALSE(h.vhost->declare_exchange({"gone", "direct", false, true}));
  h.declare_queue("a");
  h.declare_queue("b");
  ASSERT_FALSE(h.vhost->bind_queue("a", "x", "k1", {}, 0));
  ASSERT_FALSE(h.vhost->bind_queue("a", "x", "k2", {}, 0));
  ASSERT_FALSE(h.vhost->bind_queue("b", "x", "k1", {}, 0));
  ASSERT_FALSE(h.vhost->bind_exchange("x", "gone", "e", {}));
  ASSERT_FALSE(h.vhost->unbind_queue("a", "x", "k2", {}, 0));
  uint64_t n = 0;
  ASSERT_FALSE(h.vhost->delete_queue("b", false, false, 0, h.now, n));
  ASSERT_FALSE(h.vhost->delete_exchange("gone", false));
  ASSERT_EQ(h.flush(), 0);
  h.restart();
  EXPECT_FALSE(h.queue("b"));
  EXPECT_FALSE(h.vhost->find_exchange("gone"));
  ASSERT_EQ(h.vhost->find_exchange("x")->bindings().size(), 1u);
  EXPECT_EQ(h.vhost->find_exchange("x")->bindings()[0].key, "k1");
  EXPECT_EQ(h.vhost->find_exchange("x")->bindings()[0].destination.name, "a");
}

TEST(VHostStore, PersistentMessagesInDurableQueuesComeBackInOrderMarkedRedelivered) {
  StoreHarness h;
  ASSERT_EQ(h.open(), 0);
  h.declare_queue("q");
  h.declare_queue("tmp", false);
  h.publish(persistent("one"), 1);
  h.publish(transient("skipped"), 2);  // RabbitMQ drops these from durable queues at restart
  h.publish(persistent("two"), 3);
  h.publish(persistent("elsewhere", "tmp"), 4);
  ASSERT_EQ(h.flush(), 0);
  h.restart();
  EXPECT_EQ(h.bodies("q"), (std::vector<std::string>{"one", "two"}));
  EXPECT_FALSE(h.queue("tmp"));
  for (const broker::QueueEntry& e : h.queue("q")->state().ready) EXPECT_TRUE(e.redelivered);
  auto d = h.get("q");
  ASSERT_TRUE(d);
  EXPECT_TRUE(d->redelivered);
  EXPECT_EQ(d->message->properties().content_type, "text/plain");
  EXPECT_TRUE(d->message->persistent());
  EXPECT_EQ(h.report.messages, 2u);
}

TEST(VHostStore, APublisherHearsOnlyOnceItsMessageIsSynced) {
  StoreHarness h;
  ASSERT_EQ(h.open(), 0);
  h.declare_queue("q");
  h.declare_queue("tmp", false);
  broker::PublishResult r = h.publish(persistent("safe"), 1);
  EXPECT_TRUE(r.pending);
  EXPECT_FALSE(h.publish(persistent("memory only", "tmp"), 2).pending);  // a transient queue promises nothing more
  EXPECT_FALSE(h.publish(transient("t"), 3).pending);
  EXPECT_TRUE(h.outcomes.heard.empty());

  Batch first, second, third;
  ASSERT_TRUE(h.store->take_batch(first));
  h.publish(persistent("next"), 4);  // while the first batch syncs
  ASSERT_TRUE(h.store->take_batch(second));  // it waits at the writer's door
  h.publish(persistent("third"), 5);
  EXPECT_FALSE(h.store->take_batch(third));  // two in flight at most
  EXPECT_TRUE(h.outcomes.heard.empty());
  ASSERT_EQ(h.store->log().write(first), 0);
  h.store->batch_done(0);
  EXPECT_EQ(h.outcomes.heard, (std::map<uint64_t, bool>{{1, true}}));
  ASSERT_EQ(h.store->log().write(second), 0);
  h.store->batch_done(0);
  EXPECT_EQ(h.outcomes.heard, (std::map<uint64_t, bool>{{1, true}, {4, true}}));
  ASSERT_EQ(h.flush(), 0);
  EXPECT_EQ(h.outcomes.heard, (std::map<uint64_t, bool>{{1, true}, {4, true}, {5, true}}));
}

TEST(VHostStore, AFailedBatchFailsTheOneBehindIt) {
  StoreHarness h;
  ASSERT_EQ(h.open(), 0);
  h.declare_queue("q");
  ASSERT_EQ(h.flush(), 0);
  h.publish(persistent("a"), 1);
  Batch first, second;
  ASSERT_TRUE(h.store->take_batch(first));
  h.publish(persistent("b"), 2);
  ASSERT_TRUE(h.store->take_batch(second));
  h.io.fail(SimIo::Op::Sync, EIO);
  h.store->batch_done(h.store->log().write(first));
  EXPECT_EQ(h.outcomes.heard, (std::map<uint64_t, bool>{{1, false}, {2, false}}));
  EXPECT_EQ(h.store->log().write(second), EIO);  // the log is failed for good
  h.store->batch_done(EIO);
  EXPECT_EQ(h.outcomes.heard.size(), 2u);
}

TEST(VHostStore, OneRecordPerMessageHoweverManyQueuesHoldIt) {
  StoreHarness h;
  ASSERT_EQ(h.open(), 0);
  for (const char* q : {"a", "b", "c"}) {
    h.declare_queue(q);
    ASSERT_FALSE(h.vhost->bind_queue(q, "amq.fanout", "", {}, 0));
  }
  ASSERT_EQ(h.flush(), 0);
  const std::string big(100000, 'x');
  uint64_t before = h.store->log().end().offset;
  h.publish(persistent(big), 1, "amq.fanout");
  ASSERT_EQ(h.flush(), 0);
  const uint64_t written = h.store->log().end().offset - before;
  EXPECT_GT(written, big.size());
  EXPECT_LT(written, big.size() + 300);  // the body once, three small enqueues
  EXPECT_EQ(h.outcomes.heard, (std::map<uint64_t, bool>{{1, true}}));
  h.restart();
  for (const char* q : {"a", "b", "c"}) EXPECT_EQ(h.bodies(q), (std::vector<std::string>{big}));
  // Still one message in memory, shared.
  EXPECT_EQ(h.queue("a")->state().ready[0].msg, h.queue("c")->state().ready[0].msg);
}

TEST(VHostStore, SettledMessagesDoNotComeBackUnsettledOnesDo) {
  StoreHarness h;
  ASSERT_EQ(h.open(), 0);
  h.declare_queue("q");
  for (int i = 0; i < 5; ++i) h.publish(persistent("m" + std::to_string(i)), uint64_t(i + 1));
  ASSERT_EQ(h.flush(), 0);
  auto d0 = h.get("q"), d1 = h.get("q"), d2 = h.get("q");
  h.queue("q")->settle(d0->seq, Outcome::Accepted, h.now);
  h.queue("q")->settle(d1->seq, Outcome::Rejected, h.now);  // no DLX: dropped
  // d2 stays unacked: at-least-once, it comes back.
  ASSERT_EQ(h.flush(), 0);
  h.restart();
  EXPECT_EQ(h.bodies("q"), (std::vector<std::string>{"m2", "m3", "m4"}));
}

TEST(VHostStore, ADeadLetterMovesBetweenDurableQueues) {
  StoreHarness h;
  ASSERT_EQ(h.open(), 0);
  h.declare_queue("dlq");
  h.declare_queue("q", true, {{"x-dead-letter-exchange", ""}, {"x-dead-letter-routing-key", "dlq"}});
  h.publish(persistent("bad"), 1);
  ASSERT_EQ(h.flush(), 0);
  auto d = h.get("q");
  h.queue("q")->settle(d->seq, Outcome::Rejected, h.now);
  ASSERT_EQ(h.flush(), 0);
  h.restart();
  EXPECT_TRUE(h.bodies("q").empty());
  ASSERT_EQ(h.bodies("dlq"), (std::vector<std::string>{"bad"}));
  const auto& headers = h.queue("dlq")->state().ready[0].msg->properties().headers;
  ASSERT_TRUE(headers);
  EXPECT_TRUE(broker::find(*headers, "x-death"));
}

TEST(VHostStore, APurgeKeepsWhatIsUnacked) {
  StoreHarness h;
  ASSERT_EQ(h.open(), 0);
  h.declare_queue("q");
  h.publish(persistent("held"), 1);
  h.publish(persistent("purged"), 2);
  auto d = h.get("q");
  uint64_t n = 0;
  ASSERT_FALSE(h.vhost->purge_queue("q", 0, h.now, n));
  EXPECT_EQ(n, 1u);
  h.publish(persistent("after"), 3);  // same batch as the purge, and must survive it
  ASSERT_EQ(h.flush(), 0);
  h.restart();
  EXPECT_EQ(h.bodies("q"), (std::vector<std::string>{"held", "after"}));
}

TEST(VHostStore, ADeletedQueueTakesItsMessagesAndItsNameCanBeUsedAgain) {
  StoreHarness h;
  ASSERT_EQ(h.open(), 0);
  h.declare_queue("q");
  h.publish(persistent("old"), 1);
  uint64_t n = 0;
  ASSERT_FALSE(h.vhost->delete_queue("q", false, false, 0, h.now, n));
  h.declare_queue("q", true, {{"x-max-priority", int64_t(3)}});
  h.publish(persistent("new"), 2);
  ASSERT_EQ(h.flush(), 0);
  h.restart();
  EXPECT_EQ(h.bodies("q"), (std::vector<std::string>{"new"}));
  EXPECT_EQ(h.queue("q")->options().args.max_priority, 3);
}

TEST(VHostStore, ExpiryIsKeptByTheWallClock) {
  StoreHarness h;
  ASSERT_EQ(h.open(), 0);
  h.declare_queue("q");
  h.publish(persistent("short", "q", "60000"), 1);
  h.publish(persistent("long", "q", "600000"), 2);
  ASSERT_EQ(h.flush(), 0);
  h.stop();
  // Two minutes later, after a reboot: the monotonic clock started again.
  h.wall_ms += 120'000;
  h.now = TimePoint{} + std::chrono::seconds(5);
  ASSERT_EQ(h.open(), 0);
  h.vhost->advance(h.now);
  EXPECT_EQ(h.bodies("q"), (std::vector<std::string>{"long"}));
  const TimePoint left = h.queue("q")->state().ready[0].expires;
  EXPECT_EQ(left, h.now + std::chrono::milliseconds(480'000));
  ASSERT_EQ(h.flush(), 0);  // the expiry's removal is logged
  h.restart();
  h.vhost->advance(h.now);
  EXPECT_EQ(h.bodies("q"), (std::vector<std::string>{"long"}));
}

TEST(VHostStore, UnsyncedWorkIsLostInAPowerLossAndConfirmedWorkIsNot) {
  StoreHarness h;
  ASSERT_EQ(h.open(), 0);
  h.declare_queue("q");
  h.publish(persistent("confirmed"), 1);
  ASSERT_EQ(h.flush(), 0);
  ASSERT_EQ(h.outcomes.heard, (std::map<uint64_t, bool>{{1, true}}));
  h.publish(persistent("never confirmed"), 2);
  Batch b;
  ASSERT_TRUE(h.store->take_batch(b));  // written, not synced: power goes first
  h.power_loss_and_restart();
  const auto got = h.bodies("q");
  ASSERT_GE(got.size(), 1u);
  EXPECT_EQ(got[0], "confirmed");
}

TEST(VHostStore, ASecondProcessOnTheSameDirectoryIsRefused) {
  StoreHarness h;
  ASSERT_EQ(h.open(), 0);
  broker::VHost other("/", h.env, h.now);
  std::unique_ptr<VHostStore> s;
  EXPECT_EQ(VHostStore::open(h.io, StoreOptions{"data/vhost"}, other, Clocks{h.now, h.wall_ms}, s), EWOULDBLOCK);
}

TEST(VHostStore, AFailedSyncRefusesWhatWaitsAndEverythingAfter) {
  StoreHarness h;
  ASSERT_EQ(h.open(), 0);
  h.declare_queue("q");
  ASSERT_EQ(h.flush(), 0);
  h.publish(persistent("a"), 1);
  h.io.fail(SimIo::Op::Sync, EIO);
  EXPECT_EQ(h.flush(), EIO);
  EXPECT_EQ(h.outcomes.heard, (std::map<uint64_t, bool>{{1, false}}));
  EXPECT_EQ(h.store->error(), EIO);
  const int cues = h.cues;
  h.publish(persistent("b"), 2);
  EXPECT_EQ(h.cues, cues + 1);  // the driver is cued to come and refuse it
  EXPECT_EQ(h.flush(), 0);      // nothing is written any more
  EXPECT_EQ(h.outcomes.heard, (std::map<uint64_t, bool>{{1, false}, {2, false}}));
  // fsyncgate: the write that failed to sync must not come back as if it had.
  h.power_loss_and_restart();
  EXPECT_TRUE(h.bodies("q").empty());
}

TEST(VHostStore, OldSegmentsGoOnceTheirMessagesAreSettled) {
  StoreHarness h(1, /*segment_bytes=*/4096);
  ASSERT_EQ(h.open(), 0);
  ASSERT_FALSE(h.vhost->declare_exchange({"x", "direct", false, true}));
  h.declare_queue("q");
  ASSERT_FALSE(h.vhost->bind_queue("q", "x", "q", {}, 0));
  h.publish(persistent("pinned"), 1, "x");
  for (int i = 0; i < 200; ++i) {
    h.publish(persistent(std::string(200, 'a' + i % 26)), uint64_t(i + 2), "x");
    ASSERT_EQ(h.flush(), 0);
  }
  ASSERT_GT(h.store->log().end().segment, 8u);
  // Settle all but the first: only the first segment stays pinned.
  auto pinned = h.get("q");
  for (int i = 0; i < 200; ++i) {
    auto d = h.get("q");
    h.queue("q")->settle(d->seq, Outcome::Accepted, h.now);
    ASSERT_EQ(h.flush(), 0);
  }
  std::vector<std::string> files;
  h.io.list("data/vhost", files);
  // Compaction (compaction.cpp): the pinned message, alone in the oldest
  // segment, was logged again at the end, so it no longer keeps the
  // segments behind it from going (they go front first).
  EXPECT_LE(files.size(), 5u);
  h.restart();
  ASSERT_EQ(h.bodies("q"), (std::vector<std::string>{"pinned"}));  // unacked: it comes back
  pinned = h.get("q");
  h.queue("q")->settle(pinned->seq, Outcome::Accepted, h.now);
  h.publish(persistent("last"), 999, "x");
  ASSERT_EQ(h.flush(), 0);
  ASSERT_EQ(h.flush(), 0);
  files.clear();
  h.io.list("data/vhost", files);
  EXPECT_LE(files.size(), 3u);  // LOCK and the newest segments
  h.restart();
  EXPECT_EQ(h.bodies("q"), (std::vector<std::string>{"last"}));
  ASSERT_TRUE(h.vhost->find_exchange("x"));  // from the newest segment's snapshot
  EXPECT_EQ(h.vhost->find_exchange("x")->bindings().size(), 1u);
}

// Found by fuzz_store_recovery: with definitions larger than a segment,
// each new segment's snapshot filled it, the next batch closed it and
// began another with the same snapshot, and the writer never went idle.
TEST(VHostStore, ASnapshotLargerThanASegmentDoesNotRotateForEver) {
  StoreHarness h(1, /*segment_bytes=*/64);
  ASSERT_EQ(h.open(), 0);
  h.declare_queue("q", true, {{"x-max-length", int64_t(3)}, {"x-overflow", "drop-head"}});
  h.declare_queue("r", true, {{"x-message-ttl", int64_t(60000)}});
  int batches = 0;
  Batch b;
  while (h.store->take_batch(b) && ++batches < 10) {
    ASSERT_EQ(h.store->log().write(b), 0);
    h.store->batch_done(0);
  }
  EXPECT_LT(batches, 10);
  // Records still close a full segment, and everything comes back.
  const uint64_t segment = h.store->log().end().segment;
  h.publish(persistent("m"), 1);
  ASSERT_EQ(h.flush(), 0);
  EXPECT_GT(h.store->log().end().segment, segment);
  h.restart();
  EXPECT_EQ(h.bodies("q"), (std::vector<std::string>{"m"}));
  EXPECT_TRUE(h.queue("r"));
  EXPECT_TRUE(h.report.damage.empty());
}

// Found by fuzz_store_recovery: a damaged snapshot record (the newest
// segment's Queue) was recovered from an older segment; once that segment
// went, the queue's later entries came before any declaration of it and
// were dropped. Entries of a queue not yet declared now wait for a later
// declaration (the next run's snapshot states it again).
TEST(VHostStore, EntriesOfAQueueWhoseDeclarationIsDamagedWaitForTheNextOne) {
  StoreHarness h(1, /*segment_bytes=*/4096);
  ASSERT_EQ(h.open(), 0);
  h.declare_queue("q");
  h.publish(persistent("pin"), 1);  // keeps segment 1
  ASSERT_EQ(h.flush(), 0);
  h.restart();  // segment 2 begins with a snapshot: Queue q
  h.publish(persistent("precious"), 2);
  ASSERT_EQ(h.flush(), 0);
  h.stop();
  std::string seg2 = h.io.contents("data/vhost/00000000000000000002.wlog");
  seg2[16 + 12] ^= 1;  // bit rot in the snapshot's Queue record
  h.io.set_contents("data/vhost/00000000000000000002.wlog", seg2);
  ASSERT_EQ(h.open(), 0);
  EXPECT_FALSE(h.report.damage.empty());
  ASSERT_TRUE(h.queue("q"));
  EXPECT_EQ(h.bodies("q"), (std::vector<std::string>{"pin", "precious"}));
  auto d = h.get("q");
  h.queue("q")->settle(d->seq, broker::Outcome::Accepted, h.now);  // segment 1 may go now
  h.publish(persistent("later"), 3);
  ASSERT_EQ(h.flush(), 0);
  EXPECT_FALSE(h.io.exists("data/vhost/00000000000000000001.wlog"));
  h.restart();
  ASSERT_TRUE(h.queue("q"));
  EXPECT_EQ(h.bodies("q"), (std::vector<std::string>{"precious", "later"}));
}

// As RabbitMQ: a message gone before its batch is taken (an auto-ack
// consumer, a quick ack) is never written; its publisher still hears once
// the batch is done.
TEST(VHostStore, AMessageSettledBeforeItsBatchIsTakenIsNeverWritten) {
  StoreHarness h;
  ASSERT_EQ(h.open(), 0);
  h.declare_queue("a");
  h.declare_queue("b");
  ASSERT_FALSE(h.vhost->bind_queue("a", "amq.fanout", "", {}, 0));
  ASSERT_FALSE(h.vhost->bind_queue("b", "amq.fanout", "", {}, 0));
  ASSERT_EQ(h.flush(), 0);
  const std::string body(50000, 'q');
  const uint64_t before = h.store->log().end().offset;
  h.publish(persistent(body), 1, "amq.fanout");
  auto da = h.get("a"), db = h.get("b");
  h.queue("a")->settle(da->seq, Outcome::Accepted, h.now);
  h.queue("b")->settle(db->seq, Outcome::Accepted, h.now);
  EXPECT_TRUE(h.outcomes.heard.empty());
  ASSERT_EQ(h.flush(), 0);
  EXPECT_EQ(h.outcomes.heard, (std::map<uint64_t, bool>{{1, true}}));
  EXPECT_EQ(h.store->log().end().offset, before);  // nothing written at all
  // Held by one queue still: written once, with that queue's enqueue only.
  h.publish(persistent(body), 2, "amq.fanout");
  da = h.get("a");
  h.queue("a")->settle(da->seq, Outcome::Accepted, h.now);
  ASSERT_EQ(h.flush(), 0);
  const uint64_t written = h.store->log().end().offset - before;
  EXPECT_GT(written, body.size());
  EXPECT_LT(written, body.size() + 150);
  h.restart();
  EXPECT_TRUE(h.bodies("a").empty());
  EXPECT_EQ(h.bodies("b"), (std::vector<std::string>{body}));
}

// With nothing to write, no batch is taken (the writer thread is not woken
// for it): the waiting publishers hear at once, or, with a batch in
// flight, together with it, never before an earlier sync.
TEST(VHostStore, NothingToWriteCompletesWithoutABatchButNotBeforeAnEarlierOne) {
  StoreHarness h;
  ASSERT_EQ(h.open(), 0);
  h.declare_queue("kept");
  h.declare_queue("gone");
  ASSERT_EQ(h.flush(), 0);
  h.publish(persistent("kept", "kept"), 1);
  Batch first, none;
  ASSERT_TRUE(h.store->take_batch(first));
  auto consume = [&](uint64_t id) {
    h.publish(persistent("consumed at once", "gone"), id);
    auto d = h.get("gone");
    ASSERT_TRUE(d);
    h.queue("gone")->settle(d->seq, Outcome::Accepted, h.now);
  };
  consume(2);
  EXPECT_FALSE(h.store->take_batch(none));  // nothing to write
  EXPECT_TRUE(h.outcomes.heard.empty());    // but the batch before it is not synced yet
  ASSERT_EQ(h.store->log().write(first), 0);
  h.store->batch_done(0);
  EXPECT_EQ(h.outcomes.heard, (std::map<uint64_t, bool>{{1, true}, {2, true}}));
  // No batch in flight: heard at once, and nothing written.
  const uint64_t end = h.store->log().end().offset;
  consume(3);
  EXPECT_FALSE(h.store->take_batch(none));
  EXPECT_EQ(h.outcomes.heard, (std::map<uint64_t, bool>{{1, true}, {2, true}, {3, true}}));
  EXPECT_EQ(h.store->log().end().offset, end);
  h.restart();
  EXPECT_EQ(h.bodies("kept"), (std::vector<std::string>{"kept"}));
  EXPECT_TRUE(h.bodies("gone").empty());
}

TEST(VHostStore, InspectionReadsTheLogWithoutOpeningIt) {
  StoreHarness h(1, /*segment_bytes=*/1024);
  ASSERT_EQ(h.open(), 0);
  ASSERT_FALSE(h.vhost->declare_exchange({"x", "direct", false, true}));
  h.declare_queue("q");
  h.declare_queue("gone");
  ASSERT_FALSE(h.vhost->bind_queue("q", "x", "k", {}, 0));
  for (int i = 0; i < 30; ++i) h.publish(persistent("message " + std::to_string(i)), uint64_t(i + 1));
  ASSERT_EQ(h.flush(), 0);
  for (int i = 0; i < 10; ++i) {
    auto d = h.get("q");
    h.queue("q")->settle(d->seq, Outcome::Accepted, h.now);
  }
  uint64_t n = 0;
  ASSERT_FALSE(h.vhost->delete_queue("gone", false, false, 0, h.now, n));
  ASSERT_EQ(h.flush(), 0);
  Inspection in;  // beside the open store, as beside a live warrend
  ASSERT_EQ(inspect(h.io, "data/vhost", in), 0);
  EXPECT_FALSE(in.damaged());
  EXPECT_EQ(in.exchanges, (std::vector<std::string>{"x"}));
  EXPECT_EQ(in.bindings, 1u);
  ASSERT_EQ(in.queues.size(), 1u);
  EXPECT_EQ(in.queues.begin()->second.name, "q");
  EXPECT_EQ(in.queues.begin()->second.messages, 20u);
  EXPECT_GT(in.segments.size(), 1u);
  // A flipped byte in a closed segment is damage.
  const std::string first = "data/vhost/" + in.segments[0].file;
  std::string bytes = h.io.contents(first);
  bytes[40] ^= 1;
  h.io.set_contents(first, bytes);
  Inspection again;
  ASSERT_EQ(inspect(h.io, "data/vhost", again), 0);
  EXPECT_TRUE(again.damaged());
}

// A delivery its consumer kept unsent (an AMQP 1.0 pre-settled transfer
// the link refused) is parked: its Remove is logged, then an Enqueue of
// the same entry naming the same message record. It comes back.
TEST(VHostStore, AParkedDeliveryComesBack) {
  StoreHarness h;
  ASSERT_EQ(h.open(), 0);
  h.declare_queue("q");
  h.publish(persistent("parked"), 1);
  h.publish(persistent("next"), 2);
  ASSERT_EQ(h.flush(), 0);
  broker::test::SettlingConsumer c(1);
  c.park = true;
  ASSERT_FALSE(h.queue("q")->add_consumer({&c, "c"}, h.now));
  ASSERT_EQ(c.got.size(), 1u);
  EXPECT_EQ(h.queue("q")->unacked_count(), 1u);
  h.queue("q")->remove_consumer(&c, h.now);
  ASSERT_EQ(h.flush(), 0);
  h.restart();
  EXPECT_TRUE(h.report.damage.empty()) << h.report.damage[0].what;
  EXPECT_EQ(h.bodies("q"), (std::vector<std::string>{"parked", "next"}));
}

}  // namespace
}  // namespace warren::store
