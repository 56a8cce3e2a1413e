// The lock-release property through the AMQP 0-9-1 engine: however a
// consumer's channel or connection ends, its unacked deliveries go back to
// their queue, marked redelivered, and what it owned (exclusive queues,
// consumers) goes with it.
#include <gtest/gtest.h>

#include <functional>

#include "amqp091/connection.hpp"
#include "amqp091/engine_test_util.hpp"

namespace warren::amqp091::test {
namespace {

struct Ending {
  const char* name;
  std::function<void(Peer& b, TimePoint& now)> end;
  bool transport_closed;  // the engine hangs up (as opposed to the socket going)
};

std::string heartbeat_frame() {
  std::string f;
  append_heartbeat(f);
  return f;
}

const Ending kEndings[] = {
    {"TransportClosed", [](Peer& b, TimePoint& now) { b.conn().transport_closed(now); }, false},
    {"ClientChannelClose",
     [](Peer& b, TimePoint&) {
       b.send(1, ChannelClose{});
       EXPECT_TRUE(b.take_one().is<ChannelCloseOk>());
     },
     false},
    {"ClientConnectionClose",
     [](Peer& b, TimePoint&) {
       b.send(0, ConnectionClose{});
       EXPECT_TRUE(b.take_one().is<ConnectionCloseOk>());
     },
     true},
    {"BadFrameEnd",
     [](Peer& b, TimePoint&) {
       std::string f = heartbeat_frame();
       f.back() = 0;
       b.feed(f);
       expect_connection_close(b.take_one(), ReplyCode::FrameError);
     },
     false},  // waits for close-ok, but has let go already
    {"HeartbeatOnAChannel",
     [](Peer& b, TimePoint&) {
       std::string f;
       append_frame(f, kFrameHeartbeat, 1, {});
       b.feed(f);
       expect_connection_close(b.take_one(), ReplyCode::FrameError);
     },
     false},
    {"UnknownDeliveryTag",  // a soft error on the consuming channel
     [](Peer& b, TimePoint&) {
       BasicAck ack;
       ack.delivery_tag = 99;
       b.send(1, ack);
       expect_channel_close(b.take_one(), 1, ReplyCode::PreconditionFailed);
     },
     false},
    {"MissingQueueOnTheSameChannel",
     [](Peer& b, TimePoint&) {
       QueueDeclare d;
       d.queue = "missing";
       d.passive = true;
       b.send(1, d);
       expect_channel_close(b.take_one(), 1, ReplyCode::NotFound);
     },
     false},
    {"MissedHeartbeats",
     [](Peer& b, TimePoint& now) {
       now += std::chrono::seconds(4);
       b.advance();
     },
     true},
    {"ClosedThenCloseTimeout",
     [](Peer& b, TimePoint& now) {
       b.send(3, BasicQos{});  // 504: never opened
       now += std::chrono::seconds(30);
       b.advance();
     },
     true},
    {"EngineDestroyed", [](Peer& b, TimePoint&) { b.destroy(); }, false},
};

class ReleaseTest : public EngineTest, public testing::WithParamInterface<Ending> {};

TEST_P(ReleaseTest, UnackedDeliveriesGoBackMarkedRedelivered) {
  auto a = open_peer(1);
  auto b = open_peer(2, /*heartbeat=*/2);
  a->declare_queue(1, "q");
  b->consume(1, "q", "c", /*prefetch=*/2);
  a->feed(Peer::publish_frames(1, "", "q", "first") + Peer::publish_frames(1, "", "q", "second") +
          Peer::publish_frames(1, "", "q", "third"));
  ASSERT_EQ(contents(b->take()).size(), 2u);
  ASSERT_EQ(queue("q")->unacked_count(), 2u);
  ASSERT_EQ(queue("q")->ready_count(), 1u);

  GetParam().end(*b, now);
  if (GetParam().transport_closed) {
    EXPECT_TRUE(b->t.closed);
  }
  EXPECT_EQ(queue("q")->unacked_count(), 0u);
  EXPECT_EQ(queue("q")->ready_count(), 3u);
  EXPECT_EQ(queue("q")->consumer_count(), 0u);

  BasicGet get;
  get.queue = "q";
  get.no_ack = true;
  for (std::string_view want : {"first", "second"}) {
    a->send(1, get);
    auto got = contents(a->take());
    ASSERT_EQ(got.size(), 1u);
    auto ok = got[0].method.as<BasicGetOk>();
    EXPECT_TRUE(ok->redelivered) << want;
    EXPECT_EQ(got[0].body, want);
  }
  a->send(1, get);
  auto got = contents(a->take());
  ASSERT_EQ(got.size(), 1u);
  EXPECT_FALSE(got[0].method.as<BasicGetOk>()->redelivered);
  EXPECT_EQ(got[0].body, "third");
  if (b->t.sends_after_close) ADD_FAILURE() << "sent after closing";
}

INSTANTIATE_TEST_SUITE_P(EveryPath, ReleaseTest, testing::ValuesIn(kEndings),
                         [](const testing::TestParamInfo<Ending>& i) { return std::string(i.param.name); });

using OwnershipTest = EngineTest;

TEST_F(OwnershipTest, CancelKeepsUnackedDeliveriesUntilTheChannelGoes) {
  auto a = open_peer(1);
  auto b = open_peer(2);
  a->declare_queue(1, "q");
  b->consume(1, "q", "c");
  a->publish(1, "", "q", "m");
  ASSERT_EQ(contents(b->take()).size(), 1u);
  BasicCancel cancel;
  cancel.consumer_tag = "c";
  b->send(1, cancel);
  b->take();
  EXPECT_EQ(queue("q")->unacked_count(), 1u);
  BasicAck ack;
  ack.delivery_tag = 1;  // still ackable after the cancel
  b->send(1, ack);
  EXPECT_TRUE(b->take().empty());
  EXPECT_EQ(queue("q")->unacked_count(), 0u);
  EXPECT_EQ(queue("q")->ready_count(), 0u);
}

TEST_F(OwnershipTest, NackWithRequeueRedelivers) {
  auto a = open_peer(1);
  auto b = open_peer(2);
  a->declare_queue(1, "q");
  b->consume(1, "q", "c", 1);
  a->publish(1, "", "q", "m");
  ASSERT_EQ(contents(b->take()).size(), 1u);
  BasicNack nack;
  nack.delivery_tag = 1;
  nack.requeue = true;
  b->send(1, nack);
  auto got = contents(b->take());
  ASSERT_EQ(got.size(), 1u);
  auto d = got[0].method.as<BasicDeliver>();
  EXPECT_TRUE(d->redelivered);
  EXPECT_EQ(d->delivery_tag, 2u);
}

TEST_F(OwnershipTest, ExclusiveQueueIsLockedToItsOwnerAndGoesWithIt) {
  auto a = open_peer(1);
  auto b = open_peer(2);
  QueueDeclare d;
  d.queue = "mine";
  d.exclusive = true;
  b->send(1, d);
  ASSERT_TRUE(b->take_one().is<QueueDeclareOk>());

  // While B lives: A may not declare, consume from, or get from it.
  QueueDeclare passive;
  passive.queue = "mine";
  passive.passive = true;
  a->send(1, passive);
  expect_channel_close(a->take_one(), 1, ReplyCode::ResourceLocked);
  a->send(1, ChannelCloseOk{});
  a->open_channel(1);
  BasicConsume c;
  c.queue = "mine";
  a->send(1, c);
  expect_channel_close(a->take_one(), 1, ReplyCode::ResourceLocked);
  a->send(1, ChannelCloseOk{});
  a->open_channel(1);
  BasicGet get;
  get.queue = "mine";
  a->send(1, get);
  expect_channel_close(a->take_one(), 1, ReplyCode::ResourceLocked);
  a->send(1, ChannelCloseOk{});
  a->open_channel(1);

  b->conn().transport_closed(now);
  EXPECT_EQ(queue("mine"), nullptr);
  a->send(1, passive);
  expect_channel_close(a->take_one(), 1, ReplyCode::NotFound);
}

TEST_F(OwnershipTest, ExclusiveQueueGoesOnEveryEnding) {
  for (const Ending& e : kEndings) {
    SCOPED_TRACE(e.name);
    if (std::string_view(e.name) == "ClientChannelClose" || std::string_view(e.name).starts_with("Unknown") ||
        std::string_view(e.name).starts_with("Missing"))
      continue;  // a channel's end leaves the connection's queues
    auto b = open_peer(2, 2);
    QueueDeclare d;
    d.queue = "mine";
    d.exclusive = true;
    b->send(1, d);
    ASSERT_TRUE(b->take_one().is<QueueDeclareOk>());
    e.end(*b, now);
    EXPECT_EQ(queue("mine"), nullptr);
  }
}

TEST_F(OwnershipTest, ExclusiveConsumerHoldsTheQueue) {
  auto a = open_peer(1);
  auto b = open_peer(2);
  a->declare_queue(1, "q");
  BasicConsume c;
  c.queue = "q";
  c.consumer_tag = "only";
  c.exclusive = true;
  b->send(1, c);
  ASSERT_TRUE(b->take_one().is<BasicConsumeOk>());
  c.consumer_tag = "another";
  c.exclusive = false;
  a->send(1, c);
  expect_channel_close(a->take_one(), 1, ReplyCode::AccessRefused);
  a->send(1, ChannelCloseOk{});
  a->open_channel(1);
  b->conn().transport_closed(now);
  a->send(1, c);
  EXPECT_TRUE(a->take_one().is<BasicConsumeOk>());
}

}  // namespace
}  // namespace warren::amqp091::test
