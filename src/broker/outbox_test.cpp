// The outbox: a queue decides deliveries, cancellations, dead letters and
// unused reports, and they run once its operation is complete.
#include "broker/outbox.hpp"

#include <gtest/gtest.h>

#include "broker/queue.hpp"
#include "broker/test_util.hpp"

namespace warren::broker {
namespace {

using namespace test;

// A backlog of three taken at once: the consumer sees the queue as the
// operation left it (all three unacked), not mid-loop.
TEST(Outbox, AConsumerIsCalledOnlyOnceTheOperationIsComplete) {
  FakeHost host;
  QueuePtr q = make_queue(host);
  for (auto s : {"1", "2", "3"}) q->publish(msg(s), t0);
  FakeConsumer c;
  std::vector<std::pair<uint64_t, uint64_t>> seen;  // ready, unacked at each deliver()
  c.on_deliver = [&](const Delivery&) { seen.emplace_back(q->ready_count(), q->unacked_count()); };
  q->add_consumer({&c, "c"}, t0);
  EXPECT_EQ(c.texts(), (Texts{"1", "2", "3"}));
  EXPECT_EQ(seen, (std::vector<std::pair<uint64_t, uint64_t>>{{0, 3}, {0, 3}, {0, 3}}));
  EXPECT_TRUE(host.outbox().empty());
}

// credit() is the front end's and drops only when deliver() runs: the
// queue counts what it decided and has not handed over yet.
TEST(Outbox, CreditCountsDeliveriesNotYetHandedOver) {
  FakeHost host;
  QueuePtr q = make_queue(host);
  for (auto s : {"1", "2", "3", "4", "5"}) q->publish(msg(s), t0);
  FakeConsumer c(2);
  q->add_consumer({&c, "c"}, t0);
  EXPECT_EQ(c.texts(), (Texts{"1", "2"}));
  EXPECT_EQ(q->ready_count(), 3u);
}

// Deliveries decided for a consumer that cancels before they ran come
// back to the queue, marked redelivered, and go to the next consumer.
TEST(Outbox, DeliveriesForAConsumerThatLeftFirstComeBack) {
  FakeHost host;
  QueuePtr q = make_queue(host);
  for (auto s : {"1", "2", "3"}) q->publish(msg(s), t0);
  FakeConsumer a, b(0);
  a.on_deliver = [&](const Delivery&) { q->remove_consumer(&a, t0); };
  q->add_consumer({&b, "b"}, t0);
  q->add_consumer({&a, "a"}, t0);  // takes all three; cancels at the first
  EXPECT_EQ(a.texts(), (Texts{"1"}));
  EXPECT_EQ(q->ready_count(), 2u);
  EXPECT_EQ(q->unacked_count(), 1u);
  b.set_credit(UINT32_MAX);
  q->credit_changed(t0);
  ASSERT_EQ(b.texts(), (Texts{"2", "3"}));
  EXPECT_TRUE(b.got[0].redelivered);
}

// The same for a consumer that settles on delivery: the entries had left
// the queue, and come back.
TEST(Outbox, SettledDeliveriesForAConsumerThatLeftFirstComeBack) {
  FakeHost host;
  QueuePtr q = make_queue(host);
  for (auto s : {"1", "2", "3"}) q->publish(msg(s), t0);
  SettlingConsumer a;
  a.on_deliver = [&](const Delivery&) { q->remove_consumer(&a, t0); };
  q->add_consumer({&a, "a"}, t0);
  EXPECT_EQ(a.texts(), (Texts{"1"}));
  EXPECT_EQ(q->unacked_count(), 0u);
  EXPECT_EQ(drain(*q), (Texts{"2", "3"}));
}

// A queue deleted by an earlier effect: its later deliveries are dropped
// with it, and its consumers hear of it after what they were handed.
TEST(Outbox, AQueueClosedByAnEffectHandsOverNothingMore) {
  FakeHost host;
  QueuePtr q = make_queue(host);
  for (auto s : {"1", "2", "3"}) q->publish(msg(s), t0);
  FakeConsumer c;
  std::vector<std::string> order;
  c.on_deliver = [&](const Delivery& d) {
    order.push_back(text_of(d.message));
    q->close();
  };
  q->add_consumer({&c, "c"}, t0);
  EXPECT_EQ(order, (Texts{"1"}));
  EXPECT_EQ(c.cancelled, 1);
  EXPECT_TRUE(host.outbox().empty());
}

// Dead letters run after the operation that dropped them: the host is
// not called while the queue is expiring its heads.
TEST(Outbox, DeadLettersRunAfterTheOperation) {
  FakeHost host;
  QueuePtr q = make_queue(host, {{"x-message-ttl", 10}, {"x-dead-letter-exchange", "dlx"}});
  for (auto s : {"1", "2"}) q->publish(msg(s), t0);
  std::vector<uint64_t> ready_seen;
  host.on_dead = [&] { ready_seen.push_back(q->ready_count()); };
  q->advance(t0 + std::chrono::seconds(1));
  EXPECT_EQ(host.dead_texts(), (Texts{"1", "2"}));
  EXPECT_EQ(ready_seen, (std::vector<uint64_t>{0, 0}));
}

// Callees that call back into the core (here: settling from inside
// deliver) leave their effects to the run going on: runs do not nest, so
// a backlog handed over at once takes no more stack than one delivery.
TEST(Outbox, CallbacksIntoTheCoreDoNotNestRuns) {
  FakeHost host;
  QueuePtr q = make_queue(host);
  constexpr int kBacklog = 20000;
  for (int i = 0; i < kBacklog; ++i) q->publish(msg("m"), t0);
  FakeConsumer c;
  uintptr_t lowest = UINTPTR_MAX, highest = 0;
  c.on_deliver = [&](const Delivery& d) {
    int here = 0;
    lowest = std::min(lowest, uintptr_t(&here));
    highest = std::max(highest, uintptr_t(&here));
    q->settle(d.seq, Outcome::Accepted, t0);
  };
  q->add_consumer({&c, "c"}, t0);
  EXPECT_EQ(c.got.size(), size_t(kBacklog));
  EXPECT_EQ(q->unacked_count(), 0u);
  EXPECT_LT(highest - lowest, 4096u);  // the same frame depth for every delivery
}

}  // namespace
}  // namespace warren::broker
