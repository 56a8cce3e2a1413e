// Session, the channel level: confirmed publishes and their outcomes,
// returns, deliveries in pieces, acks, basic.get, and what the broker closes
// or cancels. One epoch each; recovery is session_recovery_test.cpp's.
#include <gtest/gtest.h>

#include "client/session.hpp"
#include "client/testing/fake_broker.hpp"

namespace warren::client {
namespace {

using testing::ConfirmLog;
using testing::FakeBroker;
using testing::Sent;
namespace a = warren::amqp091;

// A session, open, with a fake broker; publishes are counted per callback.
class ClientChannelTest : public ::testing::Test {
 protected:
  Session s{SessionOptions{}};
  FakeBroker b{s};
  ConfirmLog confirms;
  void SetUp() override { b.connect(); }
  void publish(uint16_t ch, std::string_view rk, std::string_view body, bool mandatory = false,
               const a::BasicProperties* props = nullptr) {
    s.publish(ch, {.exchange = "ex", .routing_key = rk, .body = body, .properties = props, .mandatory = mandatory},
              confirms.track());
  }
};

TEST_F(ClientChannelTest, ConfirmedPublishesAckNackAndMultiple) {
  uint16_t ch = testing::open_served_channel(b, true);
  for (uint64_t i = 1; i <= 4; ++i) {
    EXPECT_EQ(s.next_publish_seq(ch), i);
    publish(ch, "rk", "body-" + std::to_string(i));
  }
  EXPECT_EQ(s.pending_confirms(ch), 4u);
  std::vector<Sent> out = b.serve();
  ASSERT_EQ(out.size(), 12u);  // method, header, body each
  EXPECT_EQ(b.published[ch], 4u);
  auto* pub = out[0].as<a::BasicPublish>();
  ASSERT_NE(pub, nullptr);
  EXPECT_EQ(pub->exchange, "ex");
  EXPECT_EQ(pub->routing_key, "rk");
  EXPECT_FALSE(pub->mandatory);
  EXPECT_EQ(*out[2].payload, "body-1");
  EXPECT_EQ(*out[11].payload, "body-4");

  b.send(ch, a::BasicAck{.delivery_tag = 2, .multiple = true});
  b.run();
  EXPECT_EQ(confirms.per, (std::vector<std::vector<Outcome>>{{Outcome::Acked}, {Outcome::Acked}, {}, {}}));
  b.send(ch, a::BasicNack{.delivery_tag = 3});
  b.send(ch, a::BasicAck{.delivery_tag = 4});
  b.run();
  EXPECT_EQ(confirms.per, (std::vector<std::vector<Outcome>>{
                              {Outcome::Acked}, {Outcome::Acked}, {Outcome::Nacked}, {Outcome::Acked}}));
  EXPECT_EQ(s.pending_confirms(ch), 0u);
  EXPECT_EQ(s.next_publish_seq(ch), 5u);
  EXPECT_FALSE(s.wants_transport_closed());
}

TEST_F(ClientChannelTest, MandatoryReturnThenAckIsReturned) {
  std::vector<Returned> returned;
  ChannelEvents ev;
  ev.returned = [&](Returned&& r) { returned.push_back(std::move(r)); };
  uint16_t ch = testing::open_served_channel(b, true, std::move(ev));
  a::BasicProperties p1, p2;
  p1.message_id = "m-1";
  p2.message_id = "m-2";
  publish(ch, "nowhere", "first", true, &p1);
  publish(ch, "nowhere", "second", true, &p2);
  std::vector<Sent> out = b.serve();
  ASSERT_GE(out.size(), 1u);
  EXPECT_TRUE(out[0].as<a::BasicPublish>()->mandatory);
  // The broker routes the first and returns the second.
  b.feed(FakeBroker::content(ch, a::BasicReturn{.reply_code = 312, .reply_text = "NO_ROUTE", .exchange = "ex",
                                                .routing_key = "nowhere"},
                             "second", p2));
  b.send(ch, a::BasicAck{.delivery_tag = 2, .multiple = true});
  b.run();
  EXPECT_EQ(confirms.per, (std::vector<std::vector<Outcome>>{{Outcome::Acked}, {Outcome::Returned}}));
  ASSERT_EQ(returned.size(), 1u);
  EXPECT_EQ(returned[0].reply_code, 312);
  EXPECT_EQ(returned[0].reply_text, "NO_ROUTE");
  EXPECT_EQ(returned[0].exchange, "ex");
  EXPECT_EQ(returned[0].routing_key, "nowhere");
  EXPECT_EQ(returned[0].message.body, "second");
  EXPECT_EQ(returned[0].message.properties.message_id, "m-2");
}

TEST_F(ClientChannelTest, PublishBehindACallGoesOutAfterItsReply) {
  uint16_t ch = testing::open_served_channel(b, true);
  s.qos(ch, 10, nullptr);
  publish(ch, "rk", "x");
  EXPECT_EQ(s.next_publish_seq(ch), 2u);  // numbered now, sent behind the qos
  std::vector<Sent> out = b.take();
  EXPECT_EQ(testing::method_names(out), (std::vector<std::string>{std::to_string(ch) + ":basic.qos"}));
  b.send(ch, a::BasicQosOk{});
  out = b.take();
  EXPECT_EQ(testing::method_names(out), (std::vector<std::string>{std::to_string(ch) + ":basic.publish"}));
  EXPECT_EQ(out.size(), 3u);
}

TEST_F(ClientChannelTest, AckOfAPublishNeverSentIsAProtocolError) {
  uint16_t ch = testing::open_served_channel(b, true);
  publish(ch, "rk", "x");
  b.serve();
  b.send(ch, a::BasicAck{.delivery_tag = 2});
  ASSERT_TRUE(s.wants_transport_closed());
  EXPECT_EQ(s.drop_reason()->code, 406);
  b.run();
  ASSERT_EQ(confirms.per.size(), 1u);
  EXPECT_TRUE(confirms.per[0].empty());
}

TEST_F(ClientChannelTest, DeliveryInPiecesReachesTheConsumerWhole) {
  uint16_t ch = testing::open_served_channel(b, false);
  std::vector<Delivery> got;
  std::string tag = "?";
  s.consume(ch, {.queue = "q", .tag = "c1"}, {.delivery = [&](Delivery&& d) { got.push_back(std::move(d)); }},
            [&](const std::optional<Error>& e, std::string&& t) {
              EXPECT_FALSE(e.has_value());
              tag = t;
            });
  std::vector<Sent> out = b.serve();
  ASSERT_EQ(testing::method_names(out), (std::vector<std::string>{std::to_string(ch) + ":basic.consume"}));
  EXPECT_EQ(out[0].as<a::BasicConsume>()->queue, "q");
  b.run();
  EXPECT_EQ(tag, "c1");

  a::BasicProperties props;
  props.content_type = "text/plain";
  props.message_id = "m-7";
  std::string body = "a body of several frames, fed one octet at a time";
  std::string wire = FakeBroker::content(ch,
                                         a::BasicDeliver{.consumer_tag = "c1", .delivery_tag = 7, .redelivered = true,
                                                         .exchange = "ex", .routing_key = "rk"},
                                         body, props, /*chunk=*/5);
  for (char c : wire) b.feed(std::string_view(&c, 1));
  b.feed(FakeBroker::content(ch, a::BasicDeliver{.consumer_tag = "c1", .delivery_tag = 8}, ""));
  EXPECT_FALSE(s.wants_transport_closed());
  b.run();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].epoch, 1u);
  EXPECT_EQ(got[0].delivery_tag, 7u);
  EXPECT_TRUE(got[0].redelivered);
  EXPECT_EQ(got[0].consumer_tag, "c1");
  EXPECT_EQ(got[0].exchange, "ex");
  EXPECT_EQ(got[0].routing_key, "rk");
  EXPECT_EQ(got[0].message.body, body);
  EXPECT_EQ(got[0].message.properties, props);
  EXPECT_EQ(got[1].delivery_tag, 8u);
  EXPECT_EQ(got[1].message.body, "");
  EXPECT_TRUE(b.take().empty());
}

TEST_F(ClientChannelTest, AcksOfTheCurrentEpochGoOutOthersDoNot) {
  uint16_t ch = testing::open_served_channel(b, false);
  EXPECT_TRUE(s.ack(ch, s.epoch(), 7, false));
  EXPECT_TRUE(s.nack(ch, s.epoch(), 8, true, false));
  EXPECT_TRUE(s.reject(ch, s.epoch(), 9, true));
  std::vector<Sent> out = b.take();
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].as<a::BasicAck>()->delivery_tag, 7u);
  EXPECT_TRUE(out[1].as<a::BasicNack>()->multiple);
  EXPECT_FALSE(out[1].as<a::BasicNack>()->requeue);
  EXPECT_EQ(out[2].as<a::BasicReject>()->delivery_tag, 9u);
  EXPECT_FALSE(s.ack(ch, s.epoch() + 1, 7, false));
  EXPECT_FALSE(s.ack(ch, 0, 7, false));
  EXPECT_FALSE(s.nack(ch, 0, 7, false, true));
  EXPECT_FALSE(s.reject(ch, 0, 7, true));
  EXPECT_FALSE(s.ack(uint16_t(ch + 1), s.epoch(), 7, false));  // no such channel
  EXPECT_FALSE(s.has_output());
}

TEST_F(ClientChannelTest, GetWithContentAndGetEmpty) {
  uint16_t ch = testing::open_served_channel(b, false);
  std::vector<std::optional<Delivery>> got;
  auto cb = [&](const std::optional<Error>& e, std::optional<Delivery>&& d) {
    EXPECT_FALSE(e.has_value());
    got.push_back(std::move(d));
  };
  s.get(ch, "q", false, cb);
  std::vector<Sent> out = b.take();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].as<a::BasicGet>()->queue, "q");
  EXPECT_FALSE(out[0].as<a::BasicGet>()->no_ack);
  b.feed(FakeBroker::content(ch, a::BasicGetOk{.delivery_tag = 3, .exchange = "ex", .routing_key = "rk",
                                               .message_count = 5},
                             "got me", {}, 2));
  b.run();
  ASSERT_EQ(got.size(), 1u);
  ASSERT_TRUE(got[0].has_value());
  EXPECT_EQ(got[0]->delivery_tag, 3u);
  EXPECT_EQ(got[0]->message_count, 5u);
  EXPECT_EQ(got[0]->message.body, "got me");
  EXPECT_EQ(got[0]->epoch, 1u);
  EXPECT_EQ(got[0]->consumer_tag, "");

  s.get(ch, "q", true, cb);
  out = b.take();
  ASSERT_EQ(testing::method_names(out), (std::vector<std::string>{std::to_string(ch) + ":basic.get"}));
  EXPECT_TRUE(out[0].as<a::BasicGet>()->no_ack);
  b.send(ch, a::BasicGetEmpty{});
  b.run();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_FALSE(got[1].has_value());
  EXPECT_FALSE(s.wants_transport_closed());
}

TEST_F(ClientChannelTest, BrokerClosesTheChannel) {
  std::vector<Error> closed;
  ChannelEvents ev;
  ev.closed = [&](const Error& e) { closed.push_back(e); };
  uint16_t ch = testing::open_served_channel(b, true, std::move(ev));
  publish(ch, "rk", "1");
  publish(ch, "rk", "2");
  b.serve();
  std::vector<std::optional<Error>> declared;
  s.exchange_declare(ch, {.name = "missing"}, true, [&](const std::optional<Error>& e) { declared.push_back(e); });
  std::vector<Sent> sent = b.take();
  ASSERT_EQ(testing::method_names(sent), (std::vector<std::string>{std::to_string(ch) + ":exchange.declare"}));
  EXPECT_TRUE(sent[0].as<a::ExchangeDeclare>()->passive);
  b.send(ch, a::ChannelClose{.reply_code = 404, .reply_text = "NOT_FOUND - no exchange 'missing'"});
  std::vector<Sent> out = b.take();
  EXPECT_EQ(testing::method_names(out), (std::vector<std::string>{std::to_string(ch) + ":channel.close-ok"}));
  b.run();
  EXPECT_EQ(confirms.per, (std::vector<std::vector<Outcome>>{{Outcome::Unknown}, {Outcome::Unknown}}));
  ASSERT_EQ(closed.size(), 1u);
  EXPECT_EQ(closed[0].code, 404);
  ASSERT_EQ(declared.size(), 1u);
  ASSERT_TRUE(declared[0].has_value());
  EXPECT_EQ(declared[0]->code, 404);
  EXPECT_FALSE(s.channel_open(ch));
  EXPECT_EQ(s.pending_confirms(ch), 0u);
  try {
    publish(ch, "rk", "3");
    ADD_FAILURE() << "publish on a closed channel";
  } catch (const ClientError& e) {
    EXPECT_EQ(e.error().code, 404);
  }
  EXPECT_FALSE(s.has_output());
  b.run();
  EXPECT_EQ(confirms.per.size(), 3u);
  EXPECT_TRUE(confirms.per[2].empty()) << "a refused publish's callback ran";
  // The connection is fine, and a new channel works.
  EXPECT_EQ(s.state(), Session::State::Open);
  uint16_t ch2 = testing::open_served_channel(b, false);
  EXPECT_NE(ch2, ch) << "a closed channel's number is reused before the application let go of it";
}

TEST_F(ClientChannelTest, BrokerCancelsAConsumer) {
  uint16_t ch = testing::open_served_channel(b, false);
  int cancelled = 0, delivered = 0;
  s.consume(ch, {.queue = "q"},
            {.delivery = [&](Delivery&&) { ++delivered; }, .cancelled = [&] { ++cancelled; }}, nullptr);
  b.serve();
  b.send(ch, a::BasicCancel{.consumer_tag = "amq.ctag-1"});
  std::vector<Sent> out = b.take();
  ASSERT_EQ(testing::method_names(out), (std::vector<std::string>{std::to_string(ch) + ":basic.cancel-ok"}));
  EXPECT_EQ(out[0].as<a::BasicCancelOk>()->consumer_tag, "amq.ctag-1");
  b.run();
  EXPECT_EQ(cancelled, 1);
  // A delivery still in flight for it goes back to the queue.
  b.feed(FakeBroker::content(ch, a::BasicDeliver{.consumer_tag = "amq.ctag-1", .delivery_tag = 4}, "late"));
  out = b.take();
  ASSERT_EQ(out.size(), 1u);
  ASSERT_NE(out[0].as<a::BasicReject>(), nullptr);
  EXPECT_EQ(out[0].as<a::BasicReject>()->delivery_tag, 4u);
  EXPECT_TRUE(out[0].as<a::BasicReject>()->requeue);
  b.run();
  EXPECT_EQ(delivered, 0);
  EXPECT_EQ(cancelled, 1);
}

TEST_F(ClientChannelTest, ApplicationClosesAndReleasesAChannel) {
  uint16_t ch = testing::open_served_channel(b, true);
  publish(ch, "rk", "1");
  b.take();
  int done = 0;
  s.close_channel(ch, [&](const std::optional<Error>& e) {
    EXPECT_FALSE(e.has_value());
    ++done;
  });
  std::vector<Sent> out = b.serve();
  EXPECT_EQ(testing::method_names(out), (std::vector<std::string>{std::to_string(ch) + ":channel.close"}));
  b.run();
  EXPECT_EQ(done, 1);
  EXPECT_EQ(confirms.per, (std::vector<std::vector<Outcome>>{{Outcome::Unknown}}));
  EXPECT_THROW(publish(ch, "rk", "2"), ClientError);
  s.release_channel(ch);
  EXPECT_EQ(testing::open_served_channel(b, false), ch);
}

TEST_F(ClientChannelTest, ChannelFlowIsAnswered) {
  uint16_t ch = testing::open_served_channel(b, false);
  b.send(ch, a::ChannelFlow{.active = false});
  std::vector<Sent> out = b.take();
  ASSERT_EQ(out.size(), 1u);
  ASSERT_NE(out[0].as<a::ChannelFlowOk>(), nullptr);
  EXPECT_FALSE(out[0].as<a::ChannelFlowOk>()->active);
}

}  // namespace
}  // namespace warren::client
