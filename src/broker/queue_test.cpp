// Queue messages: order, TTLs, length limits, priorities, settlement,
// purge and close. Consumers are in queue_consumer_test.cpp.
#include "broker/queue.hpp"

#include <gtest/gtest.h>

#include "broker/test_util.hpp"

namespace warren::broker {
namespace {

using namespace test;

TEST(Queue, GetReturnsMessagesInOrderAndEmptyAfter) {
  FakeHost host;
  QueuePtr q = make_queue(host);
  for (auto s : {"a", "b", "c"}) EXPECT_EQ(q->publish(msg(s), t0), Queue::Accept::Enqueued);
  EXPECT_EQ(q->ready_count(), 3u);
  EXPECT_EQ(q->ready_bytes(), 3u);
  EXPECT_EQ(drain(*q), (Texts{"a", "b", "c"}));
  EXPECT_EQ(q->ready_count(), 0u);
  EXPECT_EQ(q->ready_bytes(), 0u);
  EXPECT_FALSE(q->get(true, t0));
}

TEST(Queue, GetWithAckHoldsTheDeliveryUntilSettled) {
  FakeHost host;
  QueuePtr q = make_queue(host);
  q->publish(msg("a"), t0);
  auto d = q->get(false, t0);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->queue, q);
  EXPECT_FALSE(d->redelivered);
  EXPECT_EQ(q->ready_count(), 0u);
  EXPECT_EQ(q->unacked_count(), 1u);
  q->settle(d->seq, Outcome::Accepted, t0);
  EXPECT_EQ(q->unacked_count(), 0u);
  q->settle(d->seq, Outcome::Released, t0);  // already settled: nothing happens
  EXPECT_EQ(q->ready_count(), 0u);
}

TEST(Queue, ReleasedGoesBackToItsPlaceMarkedRedelivered) {
  FakeHost host;
  QueuePtr q = make_queue(host);
  for (auto s : {"a", "b", "c", "d"}) q->publish(msg(s), t0);
  auto a = q->get(false, t0);
  auto b = q->get(false, t0);
  auto c = q->get(false, t0);
  q->settle(c->seq, Outcome::Released, t0);
  q->settle(a->seq, Outcome::Released, t0);
  q->settle(b->seq, Outcome::Accepted, t0);
  auto first = q->get(false, t0);
  EXPECT_EQ(text_of(first->message), "a");
  EXPECT_TRUE(first->redelivered);
  EXPECT_EQ(first->delivery_count, 0u);
  auto second = q->get(true, t0);
  EXPECT_EQ(text_of(second->message), "c");
  EXPECT_TRUE(second->redelivered);
  auto third = q->get(true, t0);
  EXPECT_EQ(text_of(third->message), "d");
  EXPECT_FALSE(third->redelivered);
}

TEST(Queue, ModifiedCountsADeliveryAttempt) {
  FakeHost host;
  QueuePtr q = make_queue(host);
  q->publish(msg("a"), t0);
  auto d = q->get(false, t0);
  q->settle(d->seq, Outcome::Modified, t0);
  d = q->get(false, t0);
  EXPECT_EQ(d->delivery_count, 1u);
  EXPECT_TRUE(d->redelivered);
  q->settle(d->seq, Outcome::Modified, t0);
  EXPECT_EQ(q->get(true, t0)->delivery_count, 2u);
}

TEST(Queue, RejectedIsDroppedWithoutADeadLetterExchange) {
  FakeHost host;
  QueuePtr q = make_queue(host);
  q->publish(msg("a"), t0);
  q->settle(q->get(false, t0)->seq, Outcome::Rejected, t0);
  EXPECT_EQ(q->ready_count(), 0u);
  EXPECT_EQ(q->unacked_count(), 0u);
  EXPECT_TRUE(host.dead.empty());
}

TEST(Queue, RejectedIsDeadLetteredWithOne) {
  FakeHost host;
  QueuePtr q = make_queue(host, {{"x-dead-letter-exchange", "dlx"}});
  q->publish(msg("a"), t0);
  q->settle(q->get(false, t0)->seq, Outcome::Rejected, t0);
  ASSERT_EQ(host.dead.size(), 1u);
  EXPECT_EQ(text_of(host.dead[0].msg), "a");
  EXPECT_EQ(host.dead[0].why, DeadReason::Rejected);
  EXPECT_EQ(q->ready_count(), 0u);
}

TEST(Queue, MessageTtlExpiresOnAdvanceAndSaysWhen) {
  FakeHost host;
  QueuePtr q = make_queue(host, {{"x-message-ttl", 1000}, {"x-dead-letter-exchange", "dlx"}});
  q->publish(msg("a"), t0);
  q->publish(msg("b"), t0 + 400ms);
  EXPECT_EQ(q->next_deadline(), t0 + 1000ms);
  q->advance(t0 + 999ms);
  EXPECT_EQ(q->ready_count(), 2u);
  q->advance(t0 + 1000ms);
  EXPECT_EQ(q->ready_count(), 1u);
  ASSERT_EQ(host.dead_texts(), (Texts{"a"}));
  EXPECT_EQ(host.dead[0].why, DeadReason::Expired);
  EXPECT_EQ(q->next_deadline(), t0 + 1400ms);
  q->advance(t0 + 2000ms);
  EXPECT_EQ(q->ready_count(), 0u);
  ASSERT_EQ(host.dead_texts(), (Texts{"a", "b"}));
  EXPECT_EQ(q->next_deadline(), std::nullopt);
}

TEST(Queue, ExpiredMessagesAreNotHandedOutEvenBeforeAdvance) {
  FakeHost host;
  QueuePtr q = make_queue(host, {{"x-message-ttl", 100}});
  q->publish(msg("old"), t0);
  q->publish(msg("new"), t0 + 50ms);
  EXPECT_EQ(drain(*q, t0 + 120ms), (Texts{"new"}));
  EXPECT_TRUE(host.dead.empty());  // no DLX: dropped
}

TEST(Queue, PerMessageTtlIsTheSmallerOfBoth) {
  FakeHost host;
  QueuePtr q = make_queue(host, {{"x-message-ttl", 1000}});
  q->publish(with_expiration("short", "200"), t0);
  q->publish(with_expiration("long", "5000"), t0);
  EXPECT_EQ(q->next_deadline(), t0 + 200ms);
  q->advance(t0 + 200ms);
  EXPECT_EQ(q->ready_count(), 1u);
  EXPECT_EQ(q->next_deadline(), t0 + 1000ms);  // capped by the queue's TTL
  q->advance(t0 + 1000ms);
  EXPECT_EQ(q->ready_count(), 0u);
}

TEST(Queue, OnlyTheHeadExpires) {
  FakeHost host;
  QueuePtr q = make_queue(host);
  q->publish(msg("forever"), t0);
  q->publish(with_expiration("brief", "10"), t0);
  EXPECT_EQ(q->next_deadline(), std::nullopt);
  q->advance(t0 + 1s);
  EXPECT_EQ(q->ready_count(), 2u);  // behind a message without TTL, as in RabbitMQ
  EXPECT_EQ(text_of(q->get(true, t0 + 1s)->message), "forever");
  EXPECT_FALSE(q->get(true, t0 + 1s));  // now at the head, and long expired
}

TEST(Queue, TtlZeroGoesToAConsumerThatCanTakeItAtOnce) {
  FakeHost host;
  QueuePtr q = make_queue(host, {{"x-dead-letter-exchange", "dlx"}});
  FakeConsumer c(1);
  q->add_consumer({&c, "c"}, t0);
  q->publish(with_expiration("taken", "0"), t0);
  EXPECT_EQ(c.texts(), (Texts{"taken"}));
  q->publish(with_expiration("nobody", "0"), t0);  // no credit left
  EXPECT_EQ(q->ready_count(), 0u);
  ASSERT_EQ(host.dead_texts(), (Texts{"nobody"}));
  EXPECT_EQ(host.dead[0].why, DeadReason::Expired);
}

TEST(Queue, QueueTtlZeroWithoutConsumersDropsAtOnce) {
  FakeHost host;
  QueuePtr q = make_queue(host, {{"x-message-ttl", 0}});
  q->publish(msg("a"), t0);
  EXPECT_EQ(q->ready_count(), 0u);
  EXPECT_FALSE(q->get(true, t0));
}

TEST(Queue, RequeuedMessagesKeepTheirExpiry) {
  FakeHost host;
  QueuePtr q = make_queue(host, {{"x-message-ttl", 100}});
  q->publish(msg("a"), t0);
  auto d = q->get(false, t0);
  q->settle(d->seq, Outcome::Released, t0 + 150ms);  // back, already expired: dropped
  EXPECT_EQ(q->ready_count(), 0u);
}

TEST(Queue, MaxLengthDropsTheOldestReadyMessages) {
  FakeHost host;
  QueuePtr q = make_queue(host, {{"x-max-length", 2}, {"x-dead-letter-exchange", "dlx"}});
  for (auto s : {"a", "b", "c", "d"}) EXPECT_EQ(q->publish(msg(s), t0), Queue::Accept::Enqueued);
  EXPECT_EQ(q->ready_count(), 2u);
  ASSERT_EQ(host.dead_texts(), (Texts{"a", "b"}));
  EXPECT_EQ(host.dead[0].why, DeadReason::MaxLen);
  EXPECT_EQ(drain(*q), (Texts{"c", "d"}));
}

TEST(Queue, MaxLengthCountsReadyMessagesOnly) {
  FakeHost host;
  QueuePtr q = make_queue(host, {{"x-max-length", 1}});
  q->publish(msg("a"), t0);
  auto d = q->get(false, t0);  // unacked: not counted
  q->publish(msg("b"), t0);
  EXPECT_EQ(q->ready_count(), 1u);
  EXPECT_EQ(q->unacked_count(), 1u);
  q->settle(d->seq, Outcome::Released, t0);  // requeued into a full drop-head queue: the head goes
  EXPECT_EQ(q->ready_count(), 1u);
  EXPECT_EQ(drain(*q), (Texts{"b"}));
}

TEST(Queue, MaxLengthBytesCountsBodies) {
  FakeHost host;
  QueuePtr q = make_queue(host, {{"x-max-length-bytes", 10}});
  q->publish(msg("12345"), t0);
  q->publish(msg("6789"), t0);
  EXPECT_EQ(q->ready_bytes(), 9u);
  q->publish(msg("ab"), t0);  // 11 bytes: the first goes
  EXPECT_EQ(q->ready_bytes(), 6u);
  EXPECT_EQ(drain(*q), (Texts{"6789", "ab"}));
}

TEST(Queue, MaxLengthZeroStillFeedsAConsumerWithCredit) {
  FakeHost host;
  QueuePtr q = make_queue(host, {{"x-max-length", 0}});
  FakeConsumer c(1);
  q->add_consumer({&c, "c"}, t0);
  q->publish(msg("a"), t0);
  q->publish(msg("b"), t0);
  EXPECT_EQ(c.texts(), (Texts{"a"}));
  EXPECT_EQ(q->ready_count(), 0u);
}

TEST(Queue, RejectPublishRefusesWhenFull) {
  FakeHost host;
  QueuePtr q = make_queue(host, {{"x-max-length", 1}, {"x-overflow", "reject-publish"}, {"x-dead-letter-exchange", "d"}});
  EXPECT_EQ(q->publish(msg("a"), t0), Queue::Accept::Enqueued);
  EXPECT_EQ(q->publish(msg("b"), t0), Queue::Accept::Rejected);
  EXPECT_TRUE(host.dead.empty());  // reject-publish does not dead-letter
  EXPECT_EQ(drain(*q), (Texts{"a"}));
  EXPECT_EQ(q->publish(msg("c"), t0), Queue::Accept::Enqueued);
}

TEST(Queue, RejectPublishCountsBytesToo) {
  FakeHost host;
  QueuePtr q = make_queue(host, {{"x-max-length-bytes", 3}, {"x-overflow", "reject-publish"}});
  EXPECT_EQ(q->publish(msg("ab"), t0), Queue::Accept::Enqueued);
  EXPECT_EQ(q->publish(msg("cd"), t0), Queue::Accept::Rejected);
  EXPECT_EQ(q->publish(msg("e"), t0), Queue::Accept::Enqueued);
}

TEST(Queue, RejectPublishDlxDeadLettersTheRefusedMessage) {
  FakeHost host;
  QueuePtr q = make_queue(host, {{"x-max-length", 1}, {"x-overflow", "reject-publish-dlx"}, {"x-dead-letter-exchange", "d"}});
  q->publish(msg("a"), t0);
  EXPECT_EQ(q->publish(msg("b"), t0), Queue::Accept::Rejected);
  ASSERT_EQ(host.dead_texts(), (Texts{"b"}));
  EXPECT_EQ(host.dead[0].why, DeadReason::MaxLen);
}

TEST(Queue, RejectPublishNeverDropsRequeuedMessages) {
  FakeHost host;
  QueuePtr q = make_queue(host, {{"x-max-length", 1}, {"x-overflow", "reject-publish"}});
  q->publish(msg("a"), t0);
  auto d = q->get(false, t0);
  q->publish(msg("b"), t0);
  q->settle(d->seq, Outcome::Released, t0);
  EXPECT_EQ(q->ready_count(), 2u);  // over the limit, but nothing is lost
  EXPECT_EQ(drain(*q), (Texts{"a", "b"}));
}

TEST(Queue, HigherPrioritiesFirstFifoWithin) {
  FakeHost host;
  QueuePtr q = make_queue(host, {{"x-max-priority", 5}});
  q->publish(with_priority("low1", 0), t0);
  q->publish(with_priority("high1", 5), t0);
  q->publish(with_priority("mid", 3), t0);
  q->publish(with_priority("high2", 5), t0);
  q->publish(with_priority("low2", 0), t0);
  q->publish(with_priority("above-max", 200), t0);  // treated as 5
  EXPECT_EQ(drain(*q), (Texts{"high1", "high2", "above-max", "mid", "low1", "low2"}));
}

TEST(Queue, WithoutMaxPriorityPrioritiesAreIgnored) {
  FakeHost host;
  QueuePtr q = make_queue(host);
  q->publish(with_priority("a", 0), t0);
  q->publish(with_priority("b", 9), t0);
  EXPECT_EQ(drain(*q), (Texts{"a", "b"}));
}

TEST(Queue, PriorityMessagesRequeueIntoTheirOwnLane) {
  FakeHost host;
  QueuePtr q = make_queue(host, {{"x-max-priority", 2}});
  q->publish(with_priority("h", 2), t0);
  q->publish(with_priority("l", 0), t0);
  auto h = q->get(false, t0);
  q->publish(with_priority("h2", 2), t0);
  q->settle(h->seq, Outcome::Released, t0);
  EXPECT_EQ(drain(*q), (Texts{"h", "h2", "l"}));
}

TEST(Queue, PurgeDropsReadyMessagesOnly) {
  FakeHost host;
  QueuePtr q = make_queue(host, {{"x-dead-letter-exchange", "d"}});
  for (auto s : {"a", "b", "c"}) q->publish(msg(s), t0);
  auto d = q->get(false, t0);
  EXPECT_EQ(q->purge(t0), 2u);
  EXPECT_EQ(q->ready_count(), 0u);
  EXPECT_EQ(q->ready_bytes(), 0u);
  EXPECT_EQ(q->unacked_count(), 1u);
  EXPECT_TRUE(host.dead.empty());  // purged messages are not dead-lettered
  q->settle(d->seq, Outcome::Released, t0);
  EXPECT_EQ(drain(*q), (Texts{"a"}));
}

TEST(Queue, CloseCancelsConsumersAndForgetsEverything) {
  FakeHost host;
  QueuePtr q = make_queue(host);
  FakeConsumer c(1);
  q->add_consumer({&c, "c"}, t0);
  q->publish(msg("a"), t0);
  q->publish(msg("b"), t0);
  ASSERT_EQ(c.got.size(), 1u);
  q->close();
  EXPECT_TRUE(q->closed());
  EXPECT_EQ(c.cancelled, 1);
  EXPECT_EQ(q->consumer_count(), 0u);
  EXPECT_EQ(q->ready_count(), 0u);
  EXPECT_EQ(q->unacked_count(), 0u);
  q->settle(c.got[0].seq, Outcome::Released, t0);  // a no-op now
  EXPECT_EQ(q->ready_count(), 0u);
  q->publish(msg("late"), t0);
  EXPECT_EQ(q->ready_count(), 0u);
  EXPECT_FALSE(q->get(true, t0));
  EXPECT_EQ(q->next_deadline(), std::nullopt);
  q->close();  // twice is harmless
  EXPECT_EQ(c.cancelled, 1);
}

TEST(Queue, ExpiresReportsTheQueueUnusedOnce) {
  FakeHost host;
  QueuePtr q = make_queue(host, {{"x-expires", 5000}});
  EXPECT_EQ(q->next_deadline(), t0 + 5s);
  q->advance(t0 + 4999ms);
  EXPECT_EQ(host.unused, 0);
  q->advance(t0 + 5s);
  EXPECT_EQ(host.unused, 1);
  EXPECT_EQ(q->next_deadline(), std::nullopt);
  q->advance(t0 + 10s);
  EXPECT_EQ(host.unused, 1);
}

TEST(Queue, ExpiresCountsFromTheLastUse) {
  FakeHost host;
  QueuePtr q = make_queue(host, {{"x-expires", 1000}});
  q->publish(msg("a"), t0 + 900ms);  // publishing is not use
  EXPECT_EQ(q->next_deadline(), t0 + 1000ms);
  q->get(true, t0 + 900ms);  // basic.get is
  EXPECT_EQ(q->next_deadline(), t0 + 1900ms);
  q->touch(t0 + 1500ms);  // as a redeclare does
  q->advance(t0 + 2000ms);
  EXPECT_EQ(host.unused, 0);
  FakeConsumer c;
  q->add_consumer({&c, "c"}, t0 + 2000ms);
  EXPECT_EQ(q->next_deadline(), std::nullopt);  // consumers keep it alive
  q->advance(t0 + 60s);
  EXPECT_EQ(host.unused, 0);
  q->remove_consumer(&c, t0 + 60s);
  EXPECT_EQ(q->next_deadline(), t0 + 61s);
  q->advance(t0 + 61s);
  EXPECT_EQ(host.unused, 1);
}

}  // namespace
}  // namespace warren::broker
