// The engine's side of RabbitMQ compatibility points: sender-selected
// distribution (CC/BCC headers, flagged at publish time without decoding
// other headers), channel_max, long names in error texts, and the
// reserved and default exchange names.
#include <gtest/gtest.h>

#include "amqp091/connection.hpp"
#include "amqp091/engine_test_util.hpp"

namespace warren::amqp091::test {
namespace {

using CompatTest = EngineTest;

std::string headers_props(FieldTable headers) {
  BasicProperties p;
  p.headers = std::move(headers);
  return property_bytes(p);
}

TEST_F(CompatTest, CCAndBCCRouteAndBCCIsNotDelivered) {
  auto p = open_peer(1);
  for (const char* q : {"a", "b", "c"}) p->declare_queue(1, q);
  p->feed(Peer::publish_frames(
      1, "", "a", "m",
      headers_props({{"CC", FieldArray{std::string("b")}}, {"BCC", FieldArray{std::string("c")}}, {"k", int32_t(1)}})));
  EXPECT_TRUE(p->take().empty());
  for (const char* q : {"a", "b", "c"}) {
    BasicGet g;
    g.queue = q;
    g.no_ack = true;
    p->send(1, g);
    std::vector<Content> got = contents(p->take());
    ASSERT_EQ(got.size(), 1u) << q;
    EXPECT_EQ(got[0].method.as<BasicGetOk>()->routing_key, "a");
    ContentHeader h;
    ASSERT_TRUE(decode_content_header(as_bytes(got[0].header.payload()), h).ok());
    BasicProperties props;
    ASSERT_TRUE(h.properties.decode(props).ok());
    ASSERT_TRUE(props.headers);
    EXPECT_EQ(*props.headers, (FieldTable{{"CC", FieldArray{std::string("b")}}, {"k", int32_t(1)}})) << q;
  }
}

TEST_F(CompatTest, ACCHeaderThatIsNotAnArrayClosesTheChannel) {
  auto p = open_peer(1);
  p->declare_queue(1, "a");
  p->feed(Peer::publish_frames(1, "", "a", "m", headers_props({{"CC", std::string("b")}})));
  CloseInfo c = expect_channel_close(p->take_one(), 1, ReplyCode::PreconditionFailed);
  EXPECT_EQ(c.reply_text, "PRECONDITION_FAILED - invalid message: {unacceptable_type_in_header,\"CC\",longstr}");
  EXPECT_EQ(c.class_id, 60);
  EXPECT_EQ(c.method_id, 40);
  EXPECT_EQ(queue("a")->ready_count(), 0u);
}

TEST_F(CompatTest, AMandatoryReturnCarriesNoBCC) {
  auto p = open_peer(1);
  p->feed(Peer::publish_frames(1, "amq.direct", "nobody", "m",
                               headers_props({{"BCC", FieldArray{std::string("nobody-either")}}}), true));
  std::vector<Content> got = contents(p->take());
  ASSERT_EQ(got.size(), 1u);
  ASSERT_TRUE(got[0].method.is<BasicReturn>());
  ContentHeader h;
  ASSERT_TRUE(decode_content_header(as_bytes(got[0].header.payload()), h).ok());
  BasicProperties props;
  ASSERT_TRUE(h.properties.decode(props).ok());
  EXPECT_EQ(props.headers, FieldTable{});
}

TEST_F(CompatTest, OpeningMoreChannelsThanChannelMaxIsNotAllowed) {
  auto p = peer(1);
  p->handshake(0, 131072, /*channel_max=*/2);
  p->open_channel(1);
  p->open_channel(2);
  p->send(2, ChannelClose{});
  ASSERT_TRUE(p->take_one().is<ChannelCloseOk>());
  p->open_channel(2);  // a closed channel's place is free again
  p->send(3, ChannelOpen{});
  CloseInfo c = expect_connection_close(p->take_one(), ReplyCode::NotAllowed);
  EXPECT_EQ(c.reply_text, "NOT_ALLOWED - number of channels opened (2) has reached the negotiated channel_max (2)");
  EXPECT_EQ(c.class_id, 0);
  EXPECT_EQ(c.method_id, 0);
}

TEST_F(CompatTest, AChannelNumberAboveChannelMaxIsAChannelError) {
  auto p = peer(1);
  p->handshake(0, 131072, /*channel_max=*/2);
  p->send(3, ChannelOpen{});
  CloseInfo c = expect_connection_close(p->take_one(), ReplyCode::ChannelError);
  EXPECT_EQ(c.reply_text, "CHANNEL_ERROR - channel number 3 exceeds negotiated channel_max 2");
}

TEST_F(CompatTest, ErrorTextsNamingLongNamesAreCutAsRabbitMQCutsThem) {
  auto p = open_peer(1);
  QueueDeclare d;
  const std::string name(255, 'q');
  d.queue = name;
  d.passive = true;
  p->send(1, d);
  CloseInfo c = expect_channel_close(p->take_one(), 1, ReplyCode::NotFound);
  EXPECT_LE(c.reply_text.size(), 255u);
  EXPECT_TRUE(c.reply_text.starts_with("NOT_FOUND - no queue 'qqq")) << c.reply_text;
}

TEST_F(CompatTest, NamesAreBytesAndReservedNamesAreRefused) {
  auto p = open_peer(1);
  // Not UTF-8: RabbitMQ 3.10 takes a name as bytes, and so do we.
  const std::string odd("\xff\xfe\x00q", 4);
  p->declare_queue(1, odd);
  EXPECT_TRUE(queue(odd));
  ExchangeDeclare x;
  x.exchange = odd;
  x.type = "fanout";
  p->send(1, x);
  EXPECT_TRUE(p->take_one().is<ExchangeDeclareOk>());

  x.exchange = "";
  p->send(1, x);
  CloseInfo c = expect_channel_close(p->take_one(), 1, ReplyCode::AccessRefused);
  EXPECT_EQ(c.reply_text, "ACCESS_REFUSED - operation not permitted on the default exchange");
  p->send(1, ChannelCloseOk{});
  p->open_channel(2);
  x.exchange = "amq.mine";
  p->send(2, x);
  c = expect_channel_close(p->take_one(), 2, ReplyCode::AccessRefused);
  EXPECT_EQ(c.reply_text, "ACCESS_REFUSED - exchange name 'amq.mine' contains reserved prefix 'amq.*'");
  p->send(2, ChannelCloseOk{});
  p->open_channel(3);
  QueueDeclare q;
  q.queue = "amq.mine";
  p->send(3, q);
  c = expect_channel_close(p->take_one(), 3, ReplyCode::AccessRefused);
  EXPECT_EQ(c.reply_text, "ACCESS_REFUSED - queue name 'amq.mine' contains reserved prefix 'amq.*'");
}

TEST_F(CompatTest, CRAndLFAreStrippedFromDeclaredDeletedAndBoundNames) {
  auto p = open_peer(1);
  p->declare_queue(1, "q\r\n");
  EXPECT_TRUE(queue("q"));
  EXPECT_FALSE(queue("q\r\n"));
  ExchangeDeclare x;
  x.exchange = "x\n";
  x.type = "fanout";
  p->send(1, x);
  ASSERT_TRUE(p->take_one().is<ExchangeDeclareOk>());
  EXPECT_TRUE(broker.vhost("/")->find_exchange("x"));
  QueueBind b;
  b.queue = "\nq";
  b.exchange = "x\r";
  p->send(1, b);
  ASSERT_TRUE(p->take_one().is<QueueBindOk>());
  p->publish(1, "x", "", "m");
  EXPECT_EQ(queue("q")->ready_count(), 1u);
  // Purge takes the name as sent, as RabbitMQ does.
  QueuePurge purge;
  purge.queue = "q\n";
  p->send(1, purge);
  CloseInfo c = expect_channel_close(p->take_one(), 1, ReplyCode::NotFound);
  EXPECT_EQ(c.reply_text, "NOT_FOUND - no queue 'q\n' in vhost '/'");
  p->send(1, ChannelCloseOk{});
  p->open_channel(2);
  QueueDelete del;
  del.queue = "q\r";
  p->send(2, del);
  ASSERT_TRUE(p->take_one().is<QueueDeleteOk>());
  EXPECT_FALSE(queue("q"));
  ExchangeDelete xd;
  xd.exchange = "\rx";
  p->send(2, xd);
  ASSERT_TRUE(p->take_one().is<ExchangeDeleteOk>());
  EXPECT_FALSE(broker.vhost("/")->find_exchange("x"));
}

}  // namespace
}  // namespace warren::amqp091::test
