// Queue ops: which ops each public call applies, and that a queue's ops,
// applied to a fresh queue, rebuild its state.
#include "broker/queue_op.hpp"

#include <gtest/gtest.h>

#include "broker/queue.hpp"
#include "broker/test_util.hpp"

namespace warren::broker {
namespace {

using namespace test;

class QueueOps : public ::testing::Test {
 protected:
  void open(Table args = {}) {
    q = make_queue(host, std::move(args));
    q->set_log(&log);
  }
  // A fresh queue with q's options, given every op q applied.
  QueuePtr replayed() {
    QueuePtr r = std::make_shared<Queue>(q->options(), host, t0);
    for (const QueueOp& op : log.ops) EXPECT_TRUE(r->replay(op)) << OpRecorder::describe(op);
    return r;
  }

  FakeHost host;
  OpRecorder log;
  QueuePtr q;
};

using Ops = std::vector<std::string>;

TEST_F(QueueOps, PublishEnqueuesAndAWaitingConsumerAcquires) {
  open();
  q->publish(msg("a"), t0);
  EXPECT_EQ(log.take(), (Ops{"enqueue 1"}));
  FakeConsumer c;
  q->add_consumer({&c, "c"}, t0);
  EXPECT_EQ(log.take(), (Ops{"acquire 1"}));
  q->publish(msg("b"), t0);
  EXPECT_EQ(log.take(), (Ops{"enqueue 2", "acquire 2"}));
  q->remove_consumer(&c, t0);
  EXPECT_EQ(log.take(), Ops{});  // its deliveries stay with its session
}

TEST_F(QueueOps, SettlementsRemoveOrRequeue) {
  open();
  FakeConsumer c;
  q->add_consumer({&c, "c"}, t0);
  for (auto s : {"a", "b", "c", "d"}) q->publish(msg(s), t0);
  log.take();
  q->remove_consumer(&c, t0);
  q->settle(1, Outcome::Accepted, t0);
  q->settle(2, Outcome::Rejected, t0);
  q->settle(3, Outcome::Released, t0);
  q->settle(4, Outcome::Modified, t0);
  EXPECT_EQ(log.take(), (Ops{"remove 1 acked", "remove 2 rejected", "requeue 3 count 0", "requeue 4 count 1"}));
  q->settle(1, Outcome::Accepted, t0);  // settled already
  q->settle(3, Outcome::Rejected, t0);  // ready now, not unacked
  EXPECT_EQ(log.take(), Ops{});
  EXPECT_EQ(q->ready_count(), 2u);
}

TEST_F(QueueOps, ARequeueGoesStraightToAConsumerWithCredit) {
  open();
  FakeConsumer c(1);
  q->add_consumer({&c, "c"}, t0);
  q->publish(msg("a"), t0);
  q->settle(1, Outcome::Released, t0);
  EXPECT_EQ(log.take(), (Ops{"enqueue 1", "acquire 1", "requeue 1 count 0"}));
  c.set_credit(1);
  q->credit_changed(t0);
  EXPECT_EQ(log.take(), (Ops{"acquire 1"}));
  EXPECT_TRUE(c.got.back().redelivered);
}

TEST_F(QueueOps, NoAckDeliveriesAreRemovedAsConsumed) {
  open();
  SettlingConsumer s;
  q->add_consumer({&s, "s"}, t0);
  q->publish(msg("a"), t0);
  EXPECT_EQ(log.take(), (Ops{"enqueue 1", "remove 1 consumed"}));
  EXPECT_EQ(q->unacked_count(), 0u);
}

TEST_F(QueueOps, AConsumerThatSettlesOnReceiptWithoutSayingSoAcksIt) {
  open();
  FakeConsumer c(UINT32_MAX, /*no_ack=*/true);  // deliver() returns true; settles_on_delivery() false
  q->add_consumer({&c, "c"}, t0);
  q->publish(msg("a"), t0);
  EXPECT_EQ(log.take(), (Ops{"enqueue 1", "acquire 1", "remove 1 acked"}));
}

TEST_F(QueueOps, AParkedDeliveryIsUnackedAgainUntilReleased) {
  open();
  SettlingConsumer s;
  s.park = true;
  q->add_consumer({&s, "s"}, t0);
  q->publish(msg("a"), t0);
  EXPECT_EQ(log.take(), (Ops{"enqueue 1", "remove 1 consumed", "park 1"}));
  EXPECT_EQ(q->unacked_count(), 1u);
  q->remove_consumer(&s, t0);
  q->settle(1, Outcome::Released, t0);
  EXPECT_EQ(log.take(), (Ops{"requeue 1 count 0"}));
  EXPECT_EQ(drain(*q), (Texts{"a"}));
}

TEST_F(QueueOps, GetAcquiresOrConsumes) {
  open();
  q->publish(msg("a"), t0);
  q->publish(msg("b"), t0);
  log.take();
  q->get(false, t0);
  q->get(true, t0);
  q->get(true, t0);  // empty: nothing
  EXPECT_EQ(log.take(), (Ops{"acquire 1", "remove 2 consumed"}));
}

TEST_F(QueueOps, ExpiryRemovesHeadsWhenTimeAdvances) {
  open({{"x-message-ttl", 100}});
  q->publish(msg("a"), t0);
  q->publish(with_expiration("b", "10"), t0 + 50ms);
  q->publish(msg("c"), t0 + 60ms);
  log.take();
  q->advance(t0 + 100ms);
  EXPECT_EQ(log.take(), (Ops{"remove 1 expired", "remove 2 expired"}));
  q->publish(with_expiration("now", "0"), t0 + 100ms);  // nobody to take it
  EXPECT_EQ(log.take(), (Ops{"enqueue 4", "remove 4 expired"}));
}

TEST_F(QueueOps, DropHeadRemovesTheOldestAndRejectPublishAppliesNothing) {
  open({{"x-max-length", 1}});
  q->publish(msg("a"), t0);
  q->publish(msg("b"), t0);
  EXPECT_EQ(log.take(), (Ops{"enqueue 1", "enqueue 2", "remove 1 maxlen"}));
  open({{"x-max-length", 1}, {"x-overflow", "reject-publish"}});
  q->publish(msg("a"), t0);
  EXPECT_EQ(q->publish(msg("b"), t0), Queue::Accept::Rejected);
  EXPECT_EQ(log.take(), (Ops{"enqueue 1"}));
}

TEST_F(QueueOps, PurgeAndClose) {
  open();
  EXPECT_EQ(q->purge(t0), 0u);
  EXPECT_EQ(log.take(), Ops{});  // nothing to purge
  q->publish(msg("a"), t0);
  q->publish(msg("b"), t0);
  q->get(false, t0);
  log.take();
  EXPECT_EQ(q->purge(t0), 1u);
  q->close();
  q->close();
  q->publish(msg("c"), t0);
  EXPECT_EQ(log.take(), (Ops{"purge", "close"}));
}

TEST_F(QueueOps, ReplayIgnoresWhatItCannotFind) {
  open();
  q->publish(msg("a"), t0);
  log.take();
  EXPECT_FALSE(q->replay(ops::Acquire{7}));
  EXPECT_FALSE(q->replay(ops::Remove{1, Removal::Acked}));  // ready, not unacked
  EXPECT_FALSE(q->replay(ops::Requeue{1, 0}));
  EXPECT_FALSE(q->replay(ops::Enqueue{1, msg("again")}));  // seq taken
  EXPECT_EQ(log.take(), Ops{});
  EXPECT_TRUE(q->replay(ops::Acquire{1}));
  EXPECT_FALSE(q->replay(ops::Park{QueueEntry{msg("again"), 1}}));
  EXPECT_EQ(log.take(), (Ops{"acquire 1"}));
  EXPECT_EQ(q->unacked_count(), 1u);
}

TEST_F(QueueOps, StateListsReadyByPriorityThenSeqAndUnackedBySeq) {
  open({{"x-max-priority", 2}});
  q->publish(with_priority("low", 0), t0);
  q->publish(with_priority("high", 2), t0);
  q->publish(with_priority("mid", 1), t0);
  q->publish(with_priority("high2", 2), t0);
  q->get(false, t0);  // high
  q->settle(2, Outcome::Modified, t0);
  q->get(false, t0);  // high again
  QueueState s = q->state();
  std::vector<std::string> ready;
  for (const QueueEntry& e : s.ready) ready.push_back(text_of(e.msg));
  EXPECT_EQ(ready, (Texts{"high2", "mid", "low"}));
  ASSERT_EQ(s.unacked.size(), 1u);
  EXPECT_EQ(s.unacked[0].seq, 2u);
  EXPECT_TRUE(s.unacked[0].redelivered);
  EXPECT_EQ(s.unacked[0].delivery_count, 1u);
  EXPECT_EQ(s.next_seq, 5u);
  EXPECT_FALSE(s.closed);
}

// Publishes with TTLs and priorities, consumers acking, rejecting and
// requeueing, drop-head, a parked delivery, purge and expiry: the ops
// rebuild the same state, and the same counts.
TEST_F(QueueOps, ReplayingAMixedScenarioRebuildsTheState) {
  open({{"x-max-priority", 3},
        {"x-max-length", 5},
        {"x-message-ttl", 1000},
        {"x-dead-letter-exchange", "dlx"}});
  FakeConsumer acker(2);
  SettlingConsumer presettled;
  presettled.set_credit(0);
  q->add_consumer({&acker, "acker"}, t0);
  q->add_consumer({&presettled, "presettled"}, t0);
  q->publish(with_priority("p0", 0), t0);
  q->publish(with_priority("p2", 2), t0);
  q->publish(with_expiration("short", "100"), t0);
  q->publish(with_priority("p3", 3), t0);
  q->publish(with_priority("p1", 1), t0);
  q->settle(acker.got[0].seq, Outcome::Accepted, t0);
  q->settle(acker.got[1].seq, Outcome::Rejected, t0);
  for (int i = 0; i < 6; ++i) q->publish(with_priority("fill" + std::to_string(i), uint8_t(i % 4)), t0 + 10ms);
  auto got = q->get(false, t0 + 20ms);
  ASSERT_TRUE(got);
  q->settle(got->seq, Outcome::Modified, t0 + 20ms);
  got = q->get(false, t0 + 20ms);
  q->advance(t0 + 150ms);
  presettled.set_credit(2);
  presettled.park = true;
  q->credit_changed(t0 + 150ms);
  presettled.park = false;
  presettled.set_credit(1);
  q->credit_changed(t0 + 150ms);
  q->settle(presettled.got[0].seq, Outcome::Released, t0 + 160ms);
  acker.set_credit(1);
  q->credit_changed(t0 + 160ms);
  Properties doomed;
  doomed.priority = 1;
  doomed.expiration = "50";
  q->publish(msg("doomed", "k", doomed), t0 + 900ms);
  q->publish(msg("late"), t0 + 900ms);
  q->advance(t0 + 1100ms);  // doomed expires; late waits
  ASSERT_GT(q->ready_count(), 0u);
  ASSERT_GT(q->unacked_count(), 0u);
  ASSERT_FALSE(host.dead.empty());

  QueuePtr r = replayed();
  EXPECT_EQ(r->state(), q->state());
  EXPECT_EQ(r->ready_count(), q->ready_count());
  EXPECT_EQ(r->ready_bytes(), q->ready_bytes());
  EXPECT_EQ(r->unacked_count(), q->unacked_count());
  EXPECT_EQ(r->next_deadline(), q->next_deadline());

  q->purge(t0 + 1200ms);
  q->close();
  EXPECT_EQ(replayed()->state(), q->state());
}

}  // namespace
}  // namespace warren::broker
