// Session, across epochs: a publish lost at every step of its way completes
// exactly once, sequence numbers begin again, the old epoch's bytes and acks
// mean nothing, and recovery replays the topology, reopens channels and
// consumes again before publishes go through.
#include <gtest/gtest.h>

#include "client/session.hpp"
#include "client/testing/fake_broker.hpp"

namespace warren::client {
namespace {

using testing::ConfirmLog;
using testing::EventLog;
using testing::FakeBroker;
using testing::on;
using testing::Sent;
namespace a = warren::amqp091;

// Where the transport goes down in the life of one confirmed publish.
enum class LostAt { BeforeOutputTaken, AfterOutputTaken, AfterBrokerReceived, AfterAck };

std::string lost_at_name(const ::testing::TestParamInfo<LostAt>& info) {
  static const char* const kNames[] = {"BeforeOutputTaken", "AfterOutputTaken", "AfterBrokerReceived", "AfterAck"};
  return kNames[int(info.param)];
}

class ClientRecoveryEveryStep : public ::testing::TestWithParam<LostAt> {};

TEST_P(ClientRecoveryEveryStep, EveryPublishCompletesOnceAndTheNextEpochStartsAtOne) {
  const LostAt at = GetParam();
  EventLog ev;
  Session s({.seed = 3}, ev.events());
  FakeBroker b(s);
  b.connect();
  uint16_t ch = testing::open_served_channel(b, true);
  ConfirmLog log;
  s.publish(ch, {.exchange = "ex", .routing_key = "rk", .body = "old"}, log.track());
  EXPECT_EQ(s.next_publish_seq(ch), 2u);
  switch (at) {
    case LostAt::BeforeOutputTaken: break;
    case LostAt::AfterOutputTaken: EXPECT_EQ(b.take().size(), 3u); break;
    case LostAt::AfterBrokerReceived:
      b.serve();
      EXPECT_EQ(b.published[ch], 1u);
      break;
    case LostAt::AfterAck:
      b.serve();
      b.send(ch, a::BasicAck{.delivery_tag = 1});
      break;
  }
  b.run();
  ASSERT_EQ(log.per[0].size(), at == LostAt::AfterAck ? 1u : 0u);

  s.transport_down(b.now, {0, "connection reset by peer"});
  EXPECT_EQ(s.state(), Session::State::Idle);
  EXPECT_EQ(s.next_publish_seq(ch), 1u);
  EXPECT_EQ(s.pending_confirms(ch), 0u);
  EXPECT_FALSE(s.has_output()) << "the lost epoch's output survived it";
  b.run();
  const Outcome want = at == LostAt::AfterAck ? Outcome::Acked : Outcome::Unknown;
  EXPECT_EQ(log.per[0], (std::vector<Outcome>{want}));
  EXPECT_EQ(ev.lost.size(), 1u);

  // The old epoch's ack (and anything else of it) arriving late does nothing.
  b.send(ch, a::BasicAck{.delivery_tag = 1});
  b.send(0, a::ConnectionClose{.reply_code = 320, .reply_text = "CONNECTION_FORCED"});
  EXPECT_EQ(b.run(), 0u);
  EXPECT_FALSE(s.has_output());
  EXPECT_FALSE(s.wants_transport_closed());
  EXPECT_EQ(s.state(), Session::State::Idle);

  // No publish while the channel is down: it throws, sends nothing, and its callback never runs.
  int refused_callbacks = 0;
  EXPECT_THROW(s.publish(ch, {.routing_key = "q", .body = "x"}, [&](Outcome) { ++refused_callbacks; }),
               ClientError);
  EXPECT_FALSE(s.has_output());

  // The next epoch: the channel comes back in confirm mode.
  b.now = *s.next_deadline();
  ASSERT_TRUE(s.wants_transport(b.now));
  b.handshake();
  EXPECT_EQ(s.state(), Session::State::Recovering);
  std::vector<Sent> reopen = b.take();
  EXPECT_EQ(testing::method_names(reopen), (std::vector<std::string>{on(ch, "channel.open")}));
  EXPECT_THROW(s.publish(ch, {.routing_key = "q", .body = "x"}, [&](Outcome) { ++refused_callbacks; }),
               ClientError);
  EXPECT_FALSE(s.has_output());
  b.send(ch, a::ChannelOpenOk{});
  b.published[ch] = 0;
  reopen = b.serve();
  EXPECT_EQ(testing::method_names(reopen), (std::vector<std::string>{on(ch, "confirm.select")}));
  EXPECT_EQ(s.state(), Session::State::Open);
  EXPECT_TRUE(s.channel_open(ch));
  b.run();
  EXPECT_EQ(ev.opened, (std::vector<uint64_t>{1, 2}));

  EXPECT_EQ(s.next_publish_seq(ch), 1u);
  s.publish(ch, {.exchange = "ex", .routing_key = "rk", .body = "new"}, log.track());
  b.serve();
  EXPECT_EQ(b.published[ch], 1u);
  b.send(ch, a::BasicAck{.delivery_tag = 1});
  b.run();
  EXPECT_EQ(log.per[0], (std::vector<Outcome>{want})) << "the new epoch's ack reached the old publish";
  EXPECT_EQ(log.per[1], (std::vector<Outcome>{Outcome::Acked}));
  EXPECT_EQ(refused_callbacks, 0);
  EXPECT_EQ(s.pending_confirms(ch), 0u);
  EXPECT_FALSE(s.wants_transport_closed());
}

INSTANTIATE_TEST_SUITE_P(Steps, ClientRecoveryEveryStep,
                         ::testing::Values(LostAt::BeforeOutputTaken, LostAt::AfterOutputTaken,
                                           LostAt::AfterBrokerReceived, LostAt::AfterAck),
                         lost_at_name);

TEST(ClientRecovery, OldEpochPartialFrameAndDeliveryAreDropped) {
  Session s({.seed = 4});
  FakeBroker b(s);
  b.connect();
  uint16_t ch = testing::open_served_channel(b, false);
  int delivered = 0;
  s.consume(ch, {.queue = "q", .tag = "c"}, {.delivery = [&](Delivery&&) { ++delivered; }}, nullptr);
  b.serve();
  std::string wire = FakeBroker::content(ch, a::BasicDeliver{.consumer_tag = "c", .delivery_tag = 1}, "half");
  b.feed(std::string_view(wire).substr(0, wire.size() / 2));  // half a delivery in, then the transport dies
  s.transport_down(b.now, {0, "reset"});
  b.feed(std::string_view(wire).substr(wire.size() / 2));
  b.now = *s.next_deadline();
  b.connect();  // the new epoch's frames parse from a clean start
  EXPECT_EQ(s.state(), Session::State::Open);
  EXPECT_FALSE(s.wants_transport_closed());
  b.run();
  EXPECT_EQ(delivered, 0);
}

// Records a topology on channel `ch`; returns the server-named queue's name.
std::string declare_topology(Session& s, FakeBroker& b, uint16_t ch) {
  std::string named;
  s.exchange_declare(ch, {.name = "ex", .type = "topic", .durable = true}, false, nullptr);
  s.exchange_declare(ch, {.name = "passive-ex"}, true, nullptr);  // passive: not recorded
  s.queue_declare(ch, {.name = "q1", .durable = true}, false, nullptr);
  s.queue_declare(ch, {}, false, [&](const std::optional<Error>& e, QueueInfo&& info) { named = info.name; });
  b.serve();
  b.run();
  s.bind(ch, {.destination = named, .source = "ex", .routing_key = "k1"}, nullptr);
  s.bind(ch, {.destination = "q1", .source = "ex", .routing_key = "k2"}, nullptr);
  b.serve();
  return named;
}

TEST(ClientRecovery, ReplaysTopologyThenReopensChannelsThenAllowsPublish) {
  EventLog ev;
  Session s({.seed = 5}, ev.events());
  FakeBroker b(s);
  b.connect();
  uint16_t ch = testing::open_served_channel(b, true);
  s.qos(ch, 10, nullptr);
  b.serve();
  std::string named = declare_topology(s, b, ch);
  ASSERT_EQ(named, "amq.gen-1");
  std::vector<Delivery> got;
  std::string tag;
  s.consume(ch, {.queue = named}, {.delivery = [&](Delivery&& d) { got.push_back(std::move(d)); }},
            [&](const std::optional<Error>&, std::string&& t) { tag = t; });
  b.serve();
  b.run();
  ASSERT_EQ(tag, "amq.ctag-1");
  b.feed(FakeBroker::content(ch, a::BasicDeliver{.consumer_tag = "amq.ctag-1", .delivery_tag = 1}, "epoch 1"));
  b.run();
  ASSERT_EQ(got.size(), 1u);

  s.transport_down(b.now, {0, "reset"});
  b.now = *s.next_deadline();
  b.handshake();
  // Hold the re-consume's answer to see that publishes wait for it.
  std::optional<Sent> consume;
  b.intercept = [&](const Sent& f) {
    if (!f.is<a::BasicConsume>()) return false;
    consume = f;
    return true;
  };
  std::vector<Sent> out = b.serve();
  const uint16_t rc = 2;  // recovery's own channel: the first free number
  EXPECT_EQ(testing::method_names(out),
            (std::vector<std::string>{on(rc, "channel.open"), on(rc, "exchange.declare"), on(rc, "queue.declare"),
                                      on(rc, "queue.declare"), on(rc, "queue.bind"), on(rc, "queue.bind"),
                                      on(rc, "channel.close"), on(ch, "channel.open"), on(ch, "basic.qos"),
                                      on(ch, "confirm.select"), on(ch, "basic.consume")}));
  ASSERT_EQ(out.size(), 11u);
  auto* ex = out[1].as<a::ExchangeDeclare>();
  EXPECT_EQ(ex->exchange, "ex");
  EXPECT_EQ(ex->type, "topic");
  EXPECT_TRUE(ex->durable);
  EXPECT_FALSE(ex->passive);
  EXPECT_EQ(out[2].as<a::QueueDeclare>()->queue, "q1");
  EXPECT_TRUE(out[2].as<a::QueueDeclare>()->durable);
  EXPECT_EQ(out[3].as<a::QueueDeclare>()->queue, "") << "a server-named queue is declared again without a name";
  EXPECT_EQ(out[4].as<a::QueueBind>()->queue, "amq.gen-2");
  EXPECT_EQ(out[4].as<a::QueueBind>()->exchange, "ex");
  EXPECT_EQ(out[4].as<a::QueueBind>()->routing_key, "k1");
  EXPECT_EQ(out[5].as<a::QueueBind>()->queue, "q1");
  EXPECT_EQ(out[8].as<a::BasicQos>()->prefetch_count, 10);
  EXPECT_EQ(out[10].as<a::BasicConsume>()->queue, "amq.gen-2");
  EXPECT_EQ(out[10].as<a::BasicConsume>()->consumer_tag, "amq.ctag-1");

  EXPECT_EQ(s.state(), Session::State::Recovering);
  EXPECT_FALSE(s.channel_open(ch));
  EXPECT_THROW(s.publish(ch, {.routing_key = "q", .body = "x"}, nullptr), ClientError);
  EXPECT_FALSE(s.has_output());
  ASSERT_TRUE(consume.has_value());
  b.send(ch, a::BasicConsumeOk{.consumer_tag = "amq.ctag-1"});
  EXPECT_EQ(s.state(), Session::State::Open);
  b.run();
  EXPECT_EQ(ev.renamed, (std::vector<std::pair<std::string, std::string>>{{"amq.gen-1", "amq.gen-2"}}));
  EXPECT_EQ(ev.opened, (std::vector<uint64_t>{1, 2}));
  EXPECT_TRUE(ev.recovery_errors.empty());
  ConfirmLog log;
  s.publish(ch, {.routing_key = "q", .body = "x"}, log.track());
  EXPECT_EQ(b.take().size(), 3u);

  // The consumer delivers again, in the new epoch; the old epoch's tags cannot be acked.
  b.feed(FakeBroker::content(ch, a::BasicDeliver{.consumer_tag = "amq.ctag-1", .delivery_tag = 1}, "epoch 2"));
  b.run();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].epoch, 1u);
  EXPECT_EQ(got[1].epoch, 2u);
  EXPECT_EQ(got[1].message.body, "epoch 2");
  EXPECT_FALSE(s.ack(ch, got[0].epoch, got[0].delivery_tag, false));
  EXPECT_FALSE(s.has_output());
  EXPECT_TRUE(s.ack(ch, got[1].epoch, got[1].delivery_tag, false));
  EXPECT_TRUE(s.has_output());

  // A third epoch finds the renamed queue under its latest name.
  s.transport_down(b.now, {0, "reset"});
  b.now = *s.next_deadline();
  b.intercept = nullptr;
  out = b.connect();
  bool saw_bind = false;
  for (const Sent& f : out)
    if (auto* bind = f.as<a::QueueBind>(); bind && bind->routing_key == "k1") {
      saw_bind = true;
      EXPECT_EQ(bind->queue, "amq.gen-3");
    }
  EXPECT_TRUE(saw_bind);
  b.run();
  ASSERT_EQ(ev.renamed.size(), 2u);
  EXPECT_EQ(ev.renamed[1], (std::pair<std::string, std::string>{"amq.gen-2", "amq.gen-3"}));
}

TEST(ClientRecovery, ChannelsWaitForTheTopologyEvenWhenOneIsClosedMeanwhile) {
  Session s({.seed = 11});
  FakeBroker b(s);
  b.connect();
  uint16_t ch = testing::open_served_channel(b, true);
  uint16_t spare = testing::open_served_channel(b, false);
  declare_topology(s, b, ch);
  s.transport_down(b.now, {0, "reset"});
  b.now = *s.next_deadline();
  b.handshake();
  std::optional<Sent> held;  // the exchange's re-declaration, not answered yet
  b.intercept = [&](const Sent& f) {
    if (!f.is<a::ExchangeDeclare>()) return false;
    held = f;
    return true;
  };
  b.serve();
  ASSERT_TRUE(held.has_value());
  s.close_channel(spare, nullptr);  // closed while down: nothing to send
  std::vector<Sent> out = b.take();
  EXPECT_TRUE(out.empty()) << testing::method_names(out).front() << " before the topology was back";
  b.intercept = nullptr;
  b.send(held->channel, a::ExchangeDeclareOk{});
  out = b.serve();
  std::vector<std::string> names = testing::method_names(out);
  ASSERT_FALSE(names.empty());
  EXPECT_EQ(names.front(), on(held->channel, "queue.declare"));
  EXPECT_EQ(s.state(), Session::State::Open);
  EXPECT_TRUE(s.channel_open(ch));
  EXPECT_FALSE(s.channel_open(spare));
}

TEST(ClientRecovery, RefusedRedeclareIsReportedAndRecoveryGoesOn) {
  EventLog ev;
  Session s({.seed = 6}, ev.events());
  FakeBroker b(s);
  b.connect();
  uint16_t ch = testing::open_served_channel(b, true);
  std::string named = declare_topology(s, b, ch);
  s.transport_down(b.now, {0, "reset"});
  b.now = *s.next_deadline();
  b.handshake();
  b.intercept = [&](const Sent& f) {
    auto* q = f.as<a::QueueDeclare>();
    if (!q || q->queue != "q1") return false;
    b.send(f.channel, a::ChannelClose{.reply_code = 406,
                                      .reply_text = "PRECONDITION_FAILED - inequivalent arg 'durable'",
                                      .class_id = 50, .method_id = 10});
    return true;
  };
  std::vector<Sent> out = b.serve();
  const uint16_t rc = 2;
  EXPECT_EQ(testing::method_names(out),
            (std::vector<std::string>{on(rc, "channel.open"), on(rc, "exchange.declare"), on(rc, "queue.declare"),
                                      on(rc, "channel.close-ok"), on(rc, "channel.open"), on(rc, "queue.declare"),
                                      on(rc, "queue.bind"), on(rc, "queue.bind"), on(rc, "channel.close"),
                                      on(ch, "channel.open"), on(ch, "confirm.select")}));
  EXPECT_EQ(s.state(), Session::State::Open);
  EXPECT_TRUE(s.channel_open(ch));
  b.run();
  ASSERT_EQ(ev.recovery_errors.size(), 1u);
  EXPECT_EQ(ev.recovery_errors[0].code, 406);
  EXPECT_EQ(ev.opened, (std::vector<uint64_t>{1, 2}));
  EXPECT_FALSE(s.wants_transport_closed());
}

TEST(ClientRecovery, RefusedReconsumeClosesThatChannelOnly) {
  Session s({.seed = 7});
  FakeBroker b(s);
  b.connect();
  std::vector<Error> closed;
  ChannelEvents ev;
  ev.closed = [&](const Error& e) { closed.push_back(e); };
  uint16_t ch = testing::open_served_channel(b, false, std::move(ev));
  uint16_t other = testing::open_served_channel(b, false);
  s.consume(ch, {.queue = "gone", .tag = "c"}, {.delivery = [](Delivery&&) {}}, nullptr);
  b.serve();
  s.transport_down(b.now, {0, "reset"});
  b.now = *s.next_deadline();
  b.handshake();
  b.intercept = [&](const Sent& f) {
    if (!f.is<a::BasicConsume>()) return false;
    b.send(f.channel, a::ChannelClose{.reply_code = 404, .reply_text = "NOT_FOUND - no queue 'gone'"});
    return true;
  };
  b.serve();
  b.run();
  EXPECT_EQ(s.state(), Session::State::Open);
  EXPECT_FALSE(s.channel_open(ch));
  EXPECT_TRUE(s.channel_open(other));
  ASSERT_EQ(closed.size(), 1u);
  EXPECT_EQ(closed[0].code, 404);
}

TEST(ClientRecovery, LossDuringRecoveryStartsItOver) {
  EventLog ev;
  Session s({.seed = 8}, ev.events());
  FakeBroker b(s);
  b.connect();
  uint16_t ch = testing::open_served_channel(b, true);
  declare_topology(s, b, ch);
  s.transport_down(b.now, {0, "reset"});
  b.now = *s.next_deadline();
  b.handshake();
  // The transport dies while the exchange is being declared again.
  b.intercept = [&](const Sent& f) { return f.is<a::ExchangeDeclare>(); };
  b.serve();
  EXPECT_EQ(s.state(), Session::State::Recovering);
  s.transport_down(b.now, {0, "reset again"});
  EXPECT_EQ(s.state(), Session::State::Idle);
  b.now = *s.next_deadline();
  b.intercept = nullptr;
  std::vector<Sent> out = b.connect();
  std::vector<std::string> names = testing::method_names(out);
  ASSERT_GE(names.size(), 5u);
  EXPECT_EQ(names[3], on(2, "channel.open")) << "recovery did not start again on a fresh internal channel";
  EXPECT_EQ(names[4], on(2, "exchange.declare"));
  EXPECT_EQ(s.state(), Session::State::Open);
  EXPECT_TRUE(s.channel_open(ch));
  b.run();
  EXPECT_EQ(ev.opened, (std::vector<uint64_t>{1, 3}));
  EXPECT_EQ(ev.lost.size(), 2u);
}

TEST(ClientRecovery, ChannelOpenedBeforeTheFirstConnectOpensWithIt) {
  Session s({});
  FakeBroker b(s);
  int opened = 0;
  uint16_t ch = s.open_channel({}, [&](const std::optional<Error>& e) {
    EXPECT_FALSE(e.has_value());
    ++opened;
  });
  EXPECT_FALSE(s.channel_open(ch));
  EXPECT_FALSE(s.has_output());
  std::vector<Sent> out = b.connect();
  ASSERT_FALSE(out.empty());
  EXPECT_EQ(testing::method_names(out).back(), on(ch, "channel.open"));
  b.run();
  EXPECT_EQ(opened, 1);
  EXPECT_TRUE(s.channel_open(ch));
}

}  // namespace
}  // namespace warren::client
