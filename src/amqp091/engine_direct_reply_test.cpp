// Direct reply-to through the engine: a requester consuming from the
// pseudo-queue "amq.rabbitmq.reply-to", its requests' reply_to rewritten,
// replies delivered straight to it, RabbitMQ's 406s, and the name going
// away with the consumer by every path.
#include <gtest/gtest.h>

#include "amqp091/connection.hpp"
#include "amqp091/engine_test_util.hpp"

namespace warren::amqp091::test {
namespace {

constexpr std::string_view kReplyTo = "amq.rabbitmq.reply-to";

class DirectReplyTest : public EngineTest {
 protected:
  size_t registered() { return broker.vhost("/")->direct_reply().size(); }

  void consume_replies(Peer& p, uint16_t ch, std::string_view tag = "replies") {
    p.consume(ch, kReplyTo, tag, 0, /*no_ack=*/true);
  }
  // Publishes a request to "rpc" with reply_to "amq.rabbitmq.reply-to".
  void request(Peer& p, uint16_t ch, std::string_view body = "req") {
    BasicProperties props;
    props.reply_to = std::string(kReplyTo);
    props.correlation_id = "c-1";
    p.feed(Peer::publish_frames(ch, "", "rpc", body, property_bytes(props)));
  }
  // The server's view of the request: its properties, decoded.
  BasicProperties take_request(Peer& responder) {
    auto got = contents(responder.take());
    EXPECT_EQ(got.size(), 1u);
    if (got.empty()) return {};
    ContentHeader h;
    EXPECT_TRUE(decode_content_header(as_bytes(got[0].header.payload()), h).ok());
    BasicProperties props;
    EXPECT_TRUE(h.properties.decode(props).ok());
    return props;
  }
  // A requester on connection 1 and an RPC server on connection 2
  // consuming "rpc" (no-ack).
  void SetUp() override {
    requester = open_peer(1);
    server = open_peer(2);
    server->declare_queue(1, "rpc");
    server->consume(1, "rpc", "srv", 0, true);
  }
  std::unique_ptr<Peer> requester, server;
};

TEST_F(DirectReplyTest, RoundTripWithPropertiesVerbatim) {
  consume_replies(*requester, 1);
  EXPECT_EQ(registered(), 1u);
  request(*requester, 1);
  BasicProperties req = take_request(*server);
  ASSERT_TRUE(req.reply_to);
  EXPECT_TRUE(req.reply_to->starts_with("amq.rabbitmq.reply-to.")) << *req.reply_to;
  EXPECT_GT(req.reply_to->size(), kReplyTo.size() + 16);
  EXPECT_EQ(req.correlation_id, "c-1");  // the other properties are kept

  BasicProperties reply;
  reply.correlation_id = "c-1";
  reply.content_type = "application/json";
  FieldTable headers;
  headers.add("status", int32_t(200));
  reply.headers = headers;
  std::string raw = property_bytes(reply);
  server->feed(Peer::publish_frames(1, "", *req.reply_to, "{\"ok\":1}", raw));
  EXPECT_TRUE(server->take().empty());  // no return, nothing else

  auto got = contents(requester->take());
  ASSERT_EQ(got.size(), 1u);
  auto d = got[0].method.as<BasicDeliver>();
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(got[0].method.channel, 1);
  EXPECT_EQ(d->consumer_tag, "replies");
  EXPECT_FALSE(d->redelivered);
  EXPECT_EQ(d->exchange, "");
  EXPECT_EQ(d->routing_key, *req.reply_to);
  EXPECT_EQ(got[0].body, "{\"ok\":1}");
  std::string sent_header = Peer::header_frame(1, 8, raw);
  EXPECT_EQ(got[0].header.payload(), sent_header.substr(kFrameHeaderSize, sent_header.size() - kFrameOverhead));

  // Settled on delivery: acking it is an unknown tag, as for any no-ack delivery.
  BasicAck ack;
  ack.delivery_tag = d->delivery_tag;
  requester->send(1, ack);
  CloseInfo c = expect_channel_close(requester->take_one(), 1, ReplyCode::PreconditionFailed);
  EXPECT_EQ(c.reply_text, "PRECONDITION_FAILED - unknown delivery tag " + std::to_string(d->delivery_tag));
  EXPECT_EQ(registered(), 0u);  // the channel closed: its name went with it
}

TEST_F(DirectReplyTest, ManyRepliesIgnorePrefetchAndFlow) {
  BasicQos q;
  q.prefetch_count = 1;
  q.global = true;
  requester->send(1, q);
  ASSERT_TRUE(requester->take_one().is<BasicQosOk>());
  consume_replies(*requester, 1);
  request(*requester, 1);
  std::string name = *take_request(*server).reply_to;
  std::string ten;
  for (int i = 0; i < 10; ++i) ten += Peer::publish_frames(1, "", name, "r" + std::to_string(i));
  server->feed(ten);
  auto got = contents(requester->take());
  ASSERT_EQ(got.size(), 10u);
  EXPECT_EQ(got[9].body, "r9");
  EXPECT_LT(got[0].method.as<BasicDeliver>()->delivery_tag, got[9].method.as<BasicDeliver>()->delivery_tag);
}

TEST_F(DirectReplyTest, ConsumingWithAcksIs406) {
  BasicConsume c;
  c.queue = kReplyTo;
  c.no_ack = false;
  requester->send(1, c);
  CloseInfo info = expect_channel_close(requester->take_one(), 1, ReplyCode::PreconditionFailed);
  EXPECT_EQ(info.reply_text, "PRECONDITION_FAILED - reply consumer cannot acknowledge");
  EXPECT_EQ(info.class_id, 60);
  EXPECT_EQ(info.method_id, 20);
  EXPECT_EQ(registered(), 0u);
}

TEST_F(DirectReplyTest, ASecondReplyConsumerOnTheChannelIs406) {
  consume_replies(*requester, 1, "first");
  BasicConsume c;
  c.queue = kReplyTo;
  c.consumer_tag = "second";
  c.no_ack = true;
  requester->send(1, c);
  CloseInfo info = expect_channel_close(requester->take_one(), 1, ReplyCode::PreconditionFailed);
  EXPECT_EQ(info.reply_text, "PRECONDITION_FAILED - reply consumer already set");
  EXPECT_EQ(registered(), 0u);
}

TEST_F(DirectReplyTest, ServerNamedTagAndNowait) {
  BasicConsume c;
  c.queue = kReplyTo;
  c.no_ack = true;
  requester->send(1, c);
  auto ok = requester->take_one().as<BasicConsumeOk>();
  ASSERT_TRUE(ok.has_value());
  EXPECT_TRUE(ok->consumer_tag.starts_with("amq.ctag-")) << ok->consumer_tag;
  requester->open_channel(2);
  c.nowait = true;
  requester->send(2, c);
  EXPECT_TRUE(requester->take().empty());
  EXPECT_EQ(registered(), 2u);  // one per channel
}

TEST_F(DirectReplyTest, RequestWithoutAReplyConsumerIs406) {
  request(*requester, 1);
  CloseInfo info = expect_channel_close(requester->take_one(), 1, ReplyCode::PreconditionFailed);
  EXPECT_EQ(info.reply_text, "PRECONDITION_FAILED - fast reply consumer does not exist");
  EXPECT_EQ(info.class_id, 60);
  EXPECT_EQ(info.method_id, 40);
  EXPECT_TRUE(server->take().empty());  // not published
}

TEST_F(DirectReplyTest, TheConsumerBelongsToItsChannel) {
  consume_replies(*requester, 1);
  requester->open_channel(2);
  request(*requester, 2);
  CloseInfo info = expect_channel_close(requester->take_one(), 2, ReplyCode::PreconditionFailed);
  EXPECT_EQ(info.reply_text, "PRECONDITION_FAILED - fast reply consumer does not exist");
  EXPECT_EQ(registered(), 1u);  // channel 1's is untouched
}

TEST_F(DirectReplyTest, OtherReplyToValuesAreLeftAlone) {
  BasicProperties props;
  props.reply_to = "amq.rabbitmq.reply-to.not-rewritten";
  std::string raw = property_bytes(props);
  requester->feed(Peer::publish_frames(1, "", "rpc", "x", raw));
  auto got = contents(server->take());
  ASSERT_EQ(got.size(), 1u);
  std::string sent = Peer::header_frame(1, 1, raw);
  EXPECT_EQ(got[0].header.payload(), sent.substr(kFrameHeaderSize, sent.size() - kFrameOverhead));
}

TEST_F(DirectReplyTest, CancelRemovesTheName) {
  consume_replies(*requester, 1);
  request(*requester, 1);
  std::string name = *take_request(*server).reply_to;
  BasicCancel cancel;
  cancel.consumer_tag = "replies";
  requester->send(1, cancel);
  auto ok = requester->take_one().as<BasicCancelOk>();
  ASSERT_TRUE(ok.has_value());
  EXPECT_EQ(ok->consumer_tag, "replies");
  EXPECT_EQ(registered(), 0u);
  server->feed(Peer::publish_frames(1, "", name, "late"));
  EXPECT_TRUE(requester->take().empty());
  request(*requester, 1);  // no consumer any more
  CloseInfo info = expect_channel_close(requester->take_one(), 1, ReplyCode::PreconditionFailed);
  EXPECT_EQ(info.reply_text, "PRECONDITION_FAILED - fast reply consumer does not exist");
}

TEST_F(DirectReplyTest, MandatoryReplyIsReturnedWhenTheRequesterIsGoneAndAckedEitherWay) {
  consume_replies(*requester, 1);
  request(*requester, 1);
  std::string name = *take_request(*server).reply_to;
  server->send(1, ConfirmSelect{});
  ASSERT_TRUE(server->take_one().is<ConfirmSelectOk>());

  server->feed(Peer::publish_frames(1, "", name, "delivered", std::string_view("\0\0", 2), /*mandatory=*/true));
  auto frames = server->take();
  ASSERT_EQ(frames.size(), 1u) << names(frames);
  EXPECT_EQ(frames[0].as<BasicAck>()->delivery_tag, 1u);
  EXPECT_EQ(contents(requester->take()).size(), 1u);

  ChannelClose close;
  close.reply_code = 200;
  requester->send(1, close);
  ASSERT_TRUE(requester->take_one().is<ChannelCloseOk>());
  EXPECT_EQ(registered(), 0u);

  server->feed(Peer::publish_frames(1, "", name, "too late", std::string_view("\0\0", 2), /*mandatory=*/true));
  frames = server->take();
  ASSERT_EQ(frames.size(), 4u) << names(frames);
  auto ret = frames[0].as<BasicReturn>();
  ASSERT_TRUE(ret.has_value());
  EXPECT_EQ(ret->reply_code, 312);
  EXPECT_EQ(ret->reply_text, "NO_ROUTE");
  EXPECT_EQ(ret->routing_key, name);
  EXPECT_EQ(contents(frames)[0].body, "too late");
  EXPECT_EQ(frames[3].as<BasicAck>()->delivery_tag, 2u);
}

TEST_F(DirectReplyTest, QueueDeclareOfThePseudoQueue) {
  for (bool passive : {true, false}) {
    QueueDeclare d;
    d.queue = kReplyTo;
    d.passive = passive;
    requester->send(1, d);
    auto ok = requester->take_one().as<QueueDeclareOk>();
    ASSERT_TRUE(ok.has_value());
    EXPECT_EQ(ok->queue, kReplyTo);
    EXPECT_EQ(ok->message_count, 0u);
    EXPECT_EQ(ok->consumer_count, 1u);
  }
  consume_replies(*requester, 1);
  request(*requester, 1);
  std::string name = *take_request(*server).reply_to;
  QueueDeclare d;
  d.queue = name;
  d.passive = true;
  server->send(1, d);
  auto ok = server->take_one().as<QueueDeclareOk>();
  ASSERT_TRUE(ok.has_value());
  EXPECT_EQ(ok->queue, name);
  requester->destroy();
  EXPECT_EQ(registered(), 0u);
  server->send(1, d);
  CloseInfo info = expect_channel_close(server->take_one(), 1, ReplyCode::NotFound);
  EXPECT_EQ(info.reply_text, "NOT_FOUND - no queue '" + name + "' in vhost '/'");
}

TEST_F(DirectReplyTest, TheNameGoesWithTheConnectionByEveryPath) {
  // connection.close from the client
  consume_replies(*requester, 1);
  ConnectionClose close;
  close.reply_code = 200;
  requester->send(0, close);
  EXPECT_EQ(registered(), 0u);
  // the socket gone
  auto p = open_peer(3);
  consume_replies(*p, 1);
  EXPECT_EQ(registered(), 1u);
  p->conn().transport_closed(now);
  EXPECT_EQ(registered(), 0u);
  // a connection error: a content header without basic.publish
  p = open_peer(4);
  consume_replies(*p, 1);
  p->feed(Peer::header_frame(1, 1));
  expect_connection_close(p->take_one(), ReplyCode::UnexpectedFrame);
  EXPECT_EQ(registered(), 0u);
  // the engine destroyed
  p = open_peer(5);
  consume_replies(*p, 1);
  p->destroy();
  EXPECT_EQ(registered(), 0u);
}

}  // namespace
}  // namespace warren::amqp091::test
