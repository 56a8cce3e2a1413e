// Queue consumers: credit, consumer priorities, round robin, single active
// consumer, exclusive consume, auto-delete, and callbacks that re-enter.
#include <gtest/gtest.h>

#include "broker/queue.hpp"
#include "broker/test_util.hpp"

namespace warren::broker {
namespace {

using namespace test;

TEST(QueueConsumers, DeliversUpToCreditAndResumesWhenItGrows) {
  FakeHost host;
  QueuePtr q = make_queue(host);
  for (auto s : {"a", "b", "c"}) q->publish(msg(s), t0);
  FakeConsumer c(2);
  EXPECT_FALSE(q->add_consumer({&c, "c"}, t0));
  EXPECT_EQ(c.texts(), (Texts{"a", "b"}));
  EXPECT_EQ(q->ready_count(), 1u);
  EXPECT_EQ(q->unacked_count(), 2u);
  q->credit_changed(t0);  // nothing changed: nothing more
  EXPECT_EQ(c.got.size(), 2u);
  c.set_credit(5);
  q->credit_changed(t0);
  EXPECT_EQ(c.texts(), (Texts{"a", "b", "c"}));
  q->publish(msg("d"), t0);
  ASSERT_EQ(c.texts(), (Texts{"a", "b", "c", "d"}));
  EXPECT_EQ(c.got[0].queue, q);
  EXPECT_NE(c.got[0].seq, c.got[1].seq);
}

TEST(QueueConsumers, ZeroCreditGetsNothing) {
  FakeHost host;
  QueuePtr q = make_queue(host);
  FakeConsumer c(0);
  q->add_consumer({&c, "c"}, t0);
  q->publish(msg("a"), t0);
  EXPECT_TRUE(c.got.empty());
  EXPECT_EQ(q->ready_count(), 1u);
}

TEST(QueueConsumers, NoAckDeliveriesAreSettledOnDelivery) {
  FakeHost host;
  QueuePtr q = make_queue(host);
  FakeConsumer c(UINT32_MAX, /*no_ack=*/true);
  q->add_consumer({&c, "c"}, t0);
  q->publish(msg("a"), t0);
  ASSERT_EQ(c.texts(), (Texts{"a"}));
  EXPECT_EQ(q->unacked_count(), 0u);
  q->settle(c.got[0].seq, Outcome::Released, t0);  // unknown to the queue now
  EXPECT_EQ(q->ready_count(), 0u);
}

TEST(QueueConsumers, EqualPrioritiesShareRoundRobin) {
  FakeHost host;
  QueuePtr q = make_queue(host);
  FakeConsumer a, b, c;
  q->add_consumer({&a, "a"}, t0);
  q->add_consumer({&b, "b"}, t0);
  q->add_consumer({&c, "c"}, t0);
  for (int i = 0; i < 7; ++i) q->publish(msg(std::to_string(i)), t0);
  EXPECT_EQ(a.texts(), (Texts{"0", "3", "6"}));
  EXPECT_EQ(b.texts(), (Texts{"1", "4"}));
  EXPECT_EQ(c.texts(), (Texts{"2", "5"}));
}

TEST(QueueConsumers, RoundRobinSkipsConsumersWithoutCredit) {
  FakeHost host;
  QueuePtr q = make_queue(host);
  FakeConsumer a(1), b, c;
  q->add_consumer({&a, "a"}, t0);
  q->add_consumer({&b, "b"}, t0);
  q->add_consumer({&c, "c"}, t0);
  for (int i = 0; i < 5; ++i) q->publish(msg(std::to_string(i)), t0);
  EXPECT_EQ(a.texts(), (Texts{"0"}));
  EXPECT_EQ(b.texts(), (Texts{"1", "3"}));
  EXPECT_EQ(c.texts(), (Texts{"2", "4"}));
}

TEST(QueueConsumers, HigherPriorityConsumersFirstWhileTheyHaveCredit) {
  FakeHost host;
  QueuePtr q = make_queue(host);
  FakeConsumer low, high(2), high2(1);
  q->add_consumer({&low, "low", 0}, t0);
  q->add_consumer({&high, "high", 10}, t0);
  q->add_consumer({&high2, "high2", 10}, t0);
  for (int i = 0; i < 5; ++i) q->publish(msg(std::to_string(i)), t0);
  EXPECT_EQ(high.texts(), (Texts{"0", "2"}));
  EXPECT_EQ(high2.texts(), (Texts{"1"}));
  EXPECT_EQ(low.texts(), (Texts{"3", "4"}));
  high.set_credit(1);  // the high one gets the next message again
  q->publish(msg("5"), t0);
  EXPECT_EQ(high.texts(), (Texts{"0", "2", "5"}));
  EXPECT_EQ(low.got.size(), 2u);
}

TEST(QueueConsumers, NegativePrioritiesRankBelowDefault) {
  FakeHost host;
  QueuePtr q = make_queue(host);
  FakeConsumer neg, def;
  q->add_consumer({&neg, "neg", -5}, t0);
  q->add_consumer({&def, "def"}, t0);
  q->publish(msg("a"), t0);
  q->publish(msg("b"), t0);
  EXPECT_EQ(def.texts(), (Texts{"a", "b"}));
  EXPECT_TRUE(neg.got.empty());
}

TEST(QueueConsumers, RemovedConsumersGetNothingMoreAndKeepTheirDeliveries) {
  FakeHost host;
  QueuePtr q = make_queue(host);
  FakeConsumer a, b;
  q->add_consumer({&a, "a"}, t0);
  q->add_consumer({&b, "b"}, t0);
  q->publish(msg("1"), t0);
  q->remove_consumer(&a, t0);
  q->remove_consumer(&a, t0);  // twice is harmless
  EXPECT_EQ(q->consumer_count(), 1u);
  q->publish(msg("2"), t0);
  q->publish(msg("3"), t0);
  ASSERT_EQ(a.texts(), (Texts{"1"}));
  EXPECT_EQ(b.texts(), (Texts{"2", "3"}));
  EXPECT_EQ(q->unacked_count(), 3u);  // a's delivery stays outstanding
  q->settle(a.got[0].seq, Outcome::Released, t0);
  ASSERT_EQ(b.texts(), (Texts{"2", "3", "1"}));
  EXPECT_TRUE(b.got[2].redelivered);
}

TEST(QueueConsumers, SingleActiveConsumerFeedsOnlyTheFirstThenHandsOver) {
  FakeHost host;
  QueuePtr q = make_queue(host, {{"x-single-active-consumer", true}});
  FakeConsumer first(1), second, third;
  q->add_consumer({&first, "1"}, t0);
  q->add_consumer({&second, "2", 100}, t0);  // priority does not matter here
  q->add_consumer({&third, "3"}, t0);
  EXPECT_EQ(first.activity, (std::vector<bool>{true}));
  EXPECT_TRUE(second.activity.empty());
  q->publish(msg("a"), t0);
  q->publish(msg("b"), t0);  // first has no credit left: b waits
  ASSERT_EQ(first.texts(), (Texts{"a"}));
  EXPECT_TRUE(second.got.empty());
  EXPECT_EQ(q->ready_count(), 1u);
  q->remove_consumer(&third, t0);  // not the active one: nothing changes
  EXPECT_TRUE(second.activity.empty());
  q->remove_consumer(&first, t0);
  EXPECT_EQ(second.activity, (std::vector<bool>{true}));
  EXPECT_EQ(second.texts(), (Texts{"b"}));
  q->settle(first.got[0].seq, Outcome::Released, t0);
  EXPECT_EQ(second.texts(), (Texts{"b", "a"}));
}

TEST(QueueConsumers, ExclusiveConsumeRefusesOthersAndNeedsAnIdleQueue) {
  FakeHost host;
  QueuePtr q = make_queue(host);
  FakeConsumer a, b, c;
  EXPECT_FALSE(q->add_consumer({&a, "a", 0, /*exclusive=*/true}, t0));
  Error e = q->add_consumer({&b, "b"}, t0);
  EXPECT_EQ(e.code, ErrorCode::AccessRefused);
  EXPECT_EQ(e.text(), "ACCESS_REFUSED - queue 'q' in vhost '/' in exclusive use");
  q->remove_consumer(&a, t0);
  EXPECT_FALSE(q->add_consumer({&b, "b"}, t0));
  e = q->add_consumer({&c, "c", 0, true}, t0);
  EXPECT_EQ(e.code, ErrorCode::AccessRefused);
  EXPECT_EQ(e.text(), "ACCESS_REFUSED - queue 'q' in vhost '/' in exclusive use");
  EXPECT_EQ(q->consumer_count(), 1u);
}

TEST(QueueConsumers, TheSameTagMayComeFromTwoChannels) {
  FakeHost host;
  QueuePtr q = make_queue(host);
  FakeConsumer a, b;
  EXPECT_FALSE(q->add_consumer({&a, "ctag", 0, false, 1}, t0));
  EXPECT_FALSE(q->add_consumer({&b, "ctag", 0, false, 2}, t0));
  EXPECT_EQ(q->consumer_count(), 2u);
}

TEST(QueueConsumers, AClosedQueueTakesNoConsumer) {
  FakeHost host;
  QueuePtr q = make_queue(host);
  q->close();
  FakeConsumer a;
  EXPECT_EQ(q->add_consumer({&a, "a"}, t0).code, ErrorCode::NotFound);
}

TEST(QueueConsumers, AutoDeleteReportsUnusedAfterTheLastConsumerOnly) {
  FakeHost host;
  QueuePtr q = make_queue(host, {}, /*auto_delete=*/true);
  q->advance(t0 + 1h);
  EXPECT_EQ(host.unused, 0);  // never had a consumer
  FakeConsumer a, b;
  q->add_consumer({&a, "a"}, t0);
  q->add_consumer({&b, "b"}, t0);
  q->remove_consumer(&a, t0);
  EXPECT_EQ(host.unused, 0);
  q->remove_consumer(&b, t0);
  EXPECT_EQ(host.unused, 1);
}

TEST(QueueConsumers, MessagesWaitingBehindAnExpiredHeadStillFlow) {
  FakeHost host;
  QueuePtr q = make_queue(host, {{"x-dead-letter-exchange", "d"}});
  q->publish(with_expiration("stale", "10"), t0);
  q->publish(msg("fresh"), t0);
  FakeConsumer c;
  q->add_consumer({&c, "c"}, t0 + 1s);
  EXPECT_EQ(c.texts(), (Texts{"fresh"}));
  ASSERT_EQ(host.dead_texts(), (Texts{"stale"}));
}

TEST(QueueConsumers, AConsumerMayCancelItselfWhileBeingDelivered) {
  FakeHost host;
  QueuePtr q = make_queue(host);
  FakeConsumer a, b;
  a.on_deliver = [&](const Delivery&) { q->remove_consumer(&a, t0); };
  q->add_consumer({&a, "a"}, t0);
  q->add_consumer({&b, "b"}, t0);
  for (auto s : {"1", "2", "3"}) q->publish(msg(s), t0);
  EXPECT_EQ(a.texts(), (Texts{"1"}));
  EXPECT_EQ(b.texts(), (Texts{"2", "3"}));
}

TEST(QueueConsumers, AConsumerMayPublishIntoTheSameQueueFromDeliver) {
  FakeHost host;
  QueuePtr q = make_queue(host);
  FakeConsumer a;
  int echoes = 0;
  a.on_deliver = [&](const Delivery& d) {
    if (echoes++ < 3) q->publish(msg(text_of(d.message) + "+"), t0);
  };
  q->add_consumer({&a, "a"}, t0);
  q->publish(msg("x"), t0);
  EXPECT_EQ(a.texts(), (Texts{"x", "x+", "x++", "x+++"}));
  EXPECT_EQ(q->ready_count(), 0u);
}

TEST(QueueConsumers, AConsumerMaySettleFromInsideDeliver) {
  FakeHost host;
  QueuePtr q = make_queue(host);
  FakeConsumer a;
  a.on_deliver = [&](const Delivery& d) { q->settle(d.seq, Outcome::Accepted, t0); };
  q->add_consumer({&a, "a"}, t0);
  q->publish(msg("x"), t0);
  EXPECT_EQ(q->unacked_count(), 0u);
}

TEST(QueueConsumers, TheQueueMayBeClosedFromInsideDeliver) {
  FakeHost host;
  QueuePtr q = make_queue(host);
  FakeConsumer a, b;
  a.on_deliver = [&](const Delivery&) { q->close(); };
  q->add_consumer({&a, "a"}, t0);
  q->add_consumer({&b, "b"}, t0);
  for (auto s : {"1", "2"}) q->publish(msg(s), t0);
  EXPECT_EQ(a.texts(), (Texts{"1"}));
  EXPECT_TRUE(b.got.empty());
  EXPECT_EQ(a.cancelled, 1);
  EXPECT_EQ(b.cancelled, 1);
}

}  // namespace
}  // namespace warren::broker
