// The AMQP 0-9-1 connection engine: channels, publishing, confirms,
// consuming, transactions and output back-pressure, with two connections
// on one broker.
#include <gtest/gtest.h>

#include "amqp091/connection.hpp"
#include "amqp091/engine_test_util.hpp"

namespace warren::amqp091::test {
namespace {

using ChannelTest = EngineTest;

std::string table_bytes(const FieldTable& t) {
  std::string out;
  EXPECT_TRUE(encode_table_entries(out, t));
  return out;
}

void select_confirms(Peer& p, uint16_t ch) {
  p.send(ch, ConfirmSelect{});
  ASSERT_TRUE(p.take_one().is<ConfirmSelectOk>());
}

TEST_F(ChannelTest, ChannelErrorClosesOnlyTheChannel) {
  auto p = open_peer(1);
  p->open_channel(2);
  QueueDeclare d;
  d.queue = "missing";
  d.passive = true;
  p->send(1, d);
  CloseInfo c = expect_channel_close(p->take_one(), 1, ReplyCode::NotFound);
  EXPECT_EQ(c.class_id, 50);
  EXPECT_EQ(c.method_id, 10);
  EXPECT_EQ(c.reply_text, "NOT_FOUND - no queue 'missing' in vhost '/'");
  // Until close-ok, the channel's other methods are dropped.
  p->send(1, BasicQos{});
  EXPECT_TRUE(p->take().empty());
  // Channel 2 is unharmed.
  p->send(2, BasicQos{});
  EXPECT_TRUE(p->take_one().is<BasicQosOk>());
  p->send(1, ChannelCloseOk{});
  EXPECT_TRUE(p->take().empty());
  p->open_channel(1);
  p->declare_queue(1, "q");
  EXPECT_FALSE(p->t.closed);
}

// A core error that is a connection error in 0-9-1 is worded once, as RabbitMQ's.
TEST_F(ChannelTest, AnUnknownExchangeTypeClosesTheConnectionWithRabbitMQsText) {
  auto p = open_peer(1);
  ExchangeDeclare d;
  d.exchange = "x";
  d.type = "foo";
  p->send(1, d);
  CloseInfo c = expect_connection_close(p->take_one(), ReplyCode::CommandInvalid);
  EXPECT_EQ(c.reply_text, "COMMAND_INVALID - unknown exchange type 'foo'");
  EXPECT_EQ(c.class_id, 40);
  EXPECT_EQ(c.method_id, 10);
}

TEST_F(ChannelTest, ClientChannelCloseIsAnsweredAndTheIdReusable) {
  auto p = open_peer(1);
  ChannelClose c;
  c.reply_code = 200;
  p->send(1, c);
  auto ok = p->take_one();
  EXPECT_TRUE(ok.is<ChannelCloseOk>());
  EXPECT_EQ(ok.channel, 1);
  p->open_channel(1);
}

TEST_F(ChannelTest, ConfirmAcksAreBatchedOncePerFeed) {
  auto a = open_peer(1);
  a->declare_queue(1, "q");
  select_confirms(*a, 1);
  a->feed(Peer::publish_frames(1, "", "q", "m1") + Peer::publish_frames(1, "", "q", "m2") +
          Peer::publish_frames(1, "", "q", "m3"));
  OutFrame f = a->take_one();
  auto ack = f.as<BasicAck>();
  ASSERT_TRUE(ack.has_value()) << f.name();
  EXPECT_EQ(f.channel, 1);
  EXPECT_EQ(ack->delivery_tag, 3u);
  EXPECT_TRUE(ack->multiple);
  a->publish(1, "", "q", "m4");
  ack = a->take_one().as<BasicAck>();
  ASSERT_TRUE(ack.has_value());
  EXPECT_EQ(ack->delivery_tag, 4u);
  EXPECT_FALSE(ack->multiple);
  EXPECT_EQ(queue("q")->ready_count(), 4u);
}

// RabbitMQ confirms what was routed before a close that comes in the same read.
TEST_F(ChannelTest, PublishesBeforeAClientCloseAreConfirmedFirst) {
  auto a = open_peer(1);
  a->declare_queue(1, "q");
  select_confirms(*a, 1);
  a->feed(Peer::publish_frames(1, "", "q", "m1") + Peer::publish_frames(1, "", "q", "m2") +
          Peer::frame(1, ChannelClose{}));
  auto f = a->take();
  ASSERT_EQ(f.size(), 2u) << test::names(f);
  auto ack = f[0].as<BasicAck>();
  ASSERT_TRUE(ack.has_value()) << f[0].name();
  EXPECT_EQ(ack->delivery_tag, 2u);
  EXPECT_TRUE(f[1].is<ChannelCloseOk>());
  a->open_channel(1);
  select_confirms(*a, 1);
  a->feed(Peer::publish_frames(1, "", "q", "m3") + Peer::frame(0, ConnectionClose{}));
  f = a->take();
  ASSERT_EQ(f.size(), 2u) << test::names(f);
  EXPECT_TRUE(f[0].is<BasicAck>()) << f[0].name();
  EXPECT_TRUE(f[1].is<ConnectionCloseOk>());
}

TEST_F(ChannelTest, PrefetchLimitsUnackedDeliveries) {
  auto a = open_peer(1);
  auto b = open_peer(2);
  a->declare_queue(1, "q");
  b->consume(1, "q", "ctag-b", /*prefetch=*/2);
  std::string five;
  for (int i = 1; i <= 5; ++i) five += Peer::publish_frames(1, "", "q", "m" + std::to_string(i));
  a->feed(five);
  auto got = contents(b->take());
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].body, "m1");
  EXPECT_EQ(got[1].body, "m2");
  EXPECT_EQ(queue("q")->ready_count(), 3u);

  BasicAck ack;
  ack.delivery_tag = 1;
  b->send(1, ack);
  got = contents(b->take());
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].method.as<BasicDeliver>()->delivery_tag, 3u);
  EXPECT_EQ(got[0].body, "m3");

  ack.delivery_tag = 3;
  ack.multiple = true;
  b->send(1, ack);
  got = contents(b->take());
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].body, "m4");
  EXPECT_EQ(got[1].body, "m5");
  EXPECT_EQ(queue("q")->unacked_count(), 2u);
}

TEST_F(ChannelTest, DeliverCarriesTagsRoutingAndThePublishersPropertiesVerbatim) {
  auto a = open_peer(1);
  auto b = open_peer(2);
  a->declare_queue(1, "q");
  ExchangeDeclare x;
  x.exchange = "x";
  x.type = "direct";
  a->send(1, x);
  ASSERT_TRUE(a->take_one().is<ExchangeDeclareOk>());
  QueueBind bind;
  bind.queue = "q";
  bind.exchange = "x";
  bind.routing_key = "k";
  a->send(1, bind);
  ASSERT_TRUE(a->take_one().is<QueueBindOk>());
  b->consume(1, "q", "ctag-b");

  BasicProperties props;
  props.content_type = "text/plain";
  props.content_encoding = "utf-8";
  FieldTable headers;
  headers.add("h1", std::string("v1"));
  headers.add("h2", int32_t(-7));
  headers.add("nested", FieldTable{{"deep", true}});
  props.headers = headers;
  props.delivery_mode = 2;
  props.priority = 3;
  props.correlation_id = "corr";
  props.reply_to = "replies";
  props.expiration = "60000";
  props.message_id = "mid-1";
  props.timestamp = 1700000000;
  props.type = "t";
  props.app_id = "app";
  std::string raw = property_bytes(props);
  std::string sent = Peer::publish_frames(1, "x", "k", "hello", raw);
  a->feed(sent);

  auto got = contents(b->take());
  ASSERT_EQ(got.size(), 1u);
  auto d = got[0].method.as<BasicDeliver>();
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(got[0].method.channel, 1);
  EXPECT_EQ(d->consumer_tag, "ctag-b");
  EXPECT_EQ(d->delivery_tag, 1u);
  EXPECT_FALSE(d->redelivered);
  EXPECT_EQ(d->exchange, "x");
  EXPECT_EQ(d->routing_key, "k");
  EXPECT_EQ(got[0].body, "hello");
  // The header frame as A sent it: class, weight, size and property octets.
  std::string a_header = Peer::header_frame(1, 5, raw);
  EXPECT_EQ(got[0].header.payload(), a_header.substr(kFrameHeaderSize, a_header.size() - kFrameOverhead));
}

TEST_F(ChannelTest, LargeBodyIsCutToTheConsumersFrameMax) {
  auto a = open_peer(1);
  auto b = open_peer(2, 0, 4096);
  a->declare_queue(1, "q");
  b->consume(1, "q", "c");
  std::string body(10000, '\0');
  for (size_t i = 0; i < body.size(); ++i) body[i] = char(i * 7);
  a->publish(1, "", "q", body);
  std::vector<OutFrame> frames = b->take();
  for (const OutFrame& f : frames) EXPECT_LE(f.payload().size() + kFrameOverhead, 4096u);
  auto got = contents(frames);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].body_frames, 3u);
  EXPECT_EQ(got[0].body, body);
}

TEST_F(ChannelTest, MandatoryUnroutableIsReturnedBeforeItsAck) {
  auto a = open_peer(1);
  select_confirms(*a, 1);
  a->feed(Peer::publish_frames(1, "", "nowhere", "lost", std::string_view("\0\0", 2), /*mandatory=*/true));
  auto frames = a->take();
  ASSERT_EQ(frames.size(), 4u) << names(frames);
  auto ret = frames[0].as<BasicReturn>();
  ASSERT_TRUE(ret.has_value()) << names(frames);
  EXPECT_EQ(ret->reply_code, 312);
  EXPECT_EQ(ret->reply_text, "NO_ROUTE");
  EXPECT_EQ(ret->exchange, "");
  EXPECT_EQ(ret->routing_key, "nowhere");
  auto got = contents(frames);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].body, "lost");
  auto ack = frames[3].as<BasicAck>();
  ASSERT_TRUE(ack.has_value()) << names(frames);
  EXPECT_EQ(ack->delivery_tag, 1u);
}

TEST_F(ChannelTest, NotMandatoryUnroutableIsJustAcked) {
  auto a = open_peer(1);
  select_confirms(*a, 1);
  a->publish(1, "", "nowhere", "lost");
  EXPECT_TRUE(a->take_one().is<BasicAck>());
}

TEST_F(ChannelTest, RejectPublishOverflowIsNacked) {
  auto a = open_peer(1);
  FieldTable args;
  args.add("x-max-length", int32_t(1));
  args.add("x-overflow", std::string("reject-publish"));
  a->declare_queue(1, "q", table_bytes(args));
  select_confirms(*a, 1);
  a->feed(Peer::publish_frames(1, "", "q", "fits") + Peer::publish_frames(1, "", "q", "does not"));
  auto frames = a->take();
  ASSERT_EQ(frames.size(), 2u) << names(frames);
  auto ack = frames[0].as<BasicAck>();
  ASSERT_TRUE(ack.has_value()) << names(frames);
  EXPECT_EQ(ack->delivery_tag, 1u);
  EXPECT_FALSE(ack->multiple);
  auto nack = frames[1].as<BasicNack>();
  ASSERT_TRUE(nack.has_value()) << names(frames);
  EXPECT_EQ(nack->delivery_tag, 2u);
  EXPECT_EQ(queue("q")->ready_count(), 1u);
}

TEST_F(ChannelTest, PublishToAMissingExchangeIsA404) {
  auto a = open_peer(1);
  a->publish(1, "no-such-exchange", "k", "m");
  CloseInfo c = expect_channel_close(a->take_one(), 1, ReplyCode::NotFound);
  EXPECT_EQ(c.class_id, 60);
  EXPECT_EQ(c.method_id, 40);
}

TEST_F(ChannelTest, TransactionRollbackRoutesNothingCommitRoutes) {
  auto a = open_peer(1);
  a->declare_queue(1, "q");
  a->send(1, TxSelect{});
  ASSERT_TRUE(a->take_one().is<TxSelectOk>());
  a->publish(1, "", "q", "rolled back");
  EXPECT_TRUE(a->take().empty());
  EXPECT_EQ(queue("q")->ready_count(), 0u);
  a->send(1, TxRollback{});
  EXPECT_TRUE(a->take_one().is<TxRollbackOk>());
  EXPECT_EQ(queue("q")->ready_count(), 0u);

  a->publish(1, "", "q", "committed");
  EXPECT_EQ(queue("q")->ready_count(), 0u);
  a->send(1, TxCommit{});
  EXPECT_TRUE(a->take_one().is<TxCommitOk>());
  EXPECT_EQ(queue("q")->ready_count(), 1u);
  // The channel stays transactional.
  a->publish(1, "", "q", "next");
  EXPECT_EQ(queue("q")->ready_count(), 1u);
  a->send(1, BasicGet{});
  auto got = contents(a->take());
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].body, "committed");
}

TEST_F(ChannelTest, AcksInATransactionWaitForCommit) {
  auto a = open_peer(1);
  auto b = open_peer(2);
  a->declare_queue(1, "q");
  a->publish(1, "", "q", "m");
  b->send(1, TxSelect{});
  b->take();
  b->consume(1, "q", "c");
  b->take();
  BasicAck ack;
  ack.delivery_tag = 1;
  b->send(1, ack);
  EXPECT_EQ(queue("q")->unacked_count(), 1u);
  b->send(1, TxCommit{});
  EXPECT_TRUE(b->take_one().is<TxCommitOk>());
  EXPECT_EQ(queue("q")->unacked_count(), 0u);
}

TEST_F(ChannelTest, CommitOfAnUnknownTagClosesTheChannelWithoutCommitOk) {
  auto a = open_peer(1);
  a->declare_queue(1, "q");
  a->send(1, TxSelect{});
  a->take();
  a->publish(1, "", "q", "published before the bad ack");
  BasicAck ack;
  ack.delivery_tag = 5;
  a->send(1, ack);
  EXPECT_TRUE(a->take().empty());
  a->send(1, TxCommit{});
  auto f = a->take();
  ASSERT_EQ(f.size(), 1u) << names(f);
  expect_channel_close(f[0], 1, ReplyCode::PreconditionFailed);
  EXPECT_EQ(queue("q")->ready_count(), 1u);  // what came before the bad ack was applied
}

TEST_F(ChannelTest, ConfirmSelectAfterTxSelectIsAPreconditionFailure) {
  auto a = open_peer(1);
  a->send(1, TxSelect{});
  a->take();
  a->send(1, ConfirmSelect{});
  CloseInfo c = expect_channel_close(a->take_one(), 1, ReplyCode::PreconditionFailed);
  EXPECT_EQ(c.class_id, 85);
  EXPECT_EQ(c.method_id, 10);
  EXPECT_FALSE(a->t.closed);
}

TEST_F(ChannelTest, TxCommitWithoutSelectIsAPreconditionFailure) {
  auto a = open_peer(1);
  a->send(1, TxCommit{});
  expect_channel_close(a->take_one(), 1, ReplyCode::PreconditionFailed);
}

// Small bodies gather in a buffer the channel reuses: a transaction must
// keep each one's bytes, and a body in several frames must arrive whole.
TEST_F(ChannelTest, SmallBodiesKeepTheirBytesInATransactionAndAcrossFrames) {
  auto a = open_peer(1);
  a->declare_queue(1, "q");
  a->send(1, TxSelect{});
  a->take();
  const std::string large(broker::Message::kInlineBody + 10, 'L');
  a->feed(Peer::publish_frames(1, "", "q", "first") + Peer::publish_frames(1, "", "q", "second") +
          Peer::publish_frames(1, "", "q", large) + Peer::publish_frames(1, "", "q", ""));
  EXPECT_EQ(queue("q")->ready_count(), 0u);
  a->send(1, TxCommit{});
  ASSERT_TRUE(a->take_one().is<TxCommitOk>());
  BasicPublish p;
  p.routing_key = "q";
  a->feed(Peer::frame(1, p) + Peer::header_frame(1, 6) + Peer::body_frame(1, "thi") +
          Peer::body_frame(1, "rd"));
  a->feed(Peer::body_frame(1, "!"));
  a->send(1, TxCommit{});  // the channel stays transactional
  ASSERT_TRUE(a->take_one().is<TxCommitOk>());
  BasicGet get;
  get.queue = "q";
  get.no_ack = true;
  const std::string wanted[] = {"first", "second", large, "", "third!"};
  for (const std::string& want : wanted) {
    a->send(1, get);
    auto got = contents(a->take());
    ASSERT_EQ(got.size(), 1u) << want;
    EXPECT_EQ(got[0].body, want);
  }
}

// The channel remembers the exchange it last published to: one deleted
// (or deleted and declared again) by another channel must not be used.
TEST_F(ChannelTest, PublishingAfterTheExchangeIsDeletedOrRedeclaredUsesTheCurrentOne) {
  auto a = open_peer(1);
  auto b = open_peer(2);
  auto declare = [&](std::string_view type, std::string_view queue) {
    ExchangeDeclare x;
    x.exchange = "x";
    x.type = type;
    b->send(1, x);
    ASSERT_TRUE(b->take_one().is<ExchangeDeclareOk>());
    b->declare_queue(1, queue);
    QueueBind bind;
    bind.queue = queue;
    bind.exchange = "x";
    bind.routing_key = "k";
    b->send(1, bind);
    ASSERT_TRUE(b->take_one().is<QueueBindOk>());
  };
  ExchangeDelete del;
  del.exchange = "x";
  declare("direct", "q1");
  a->publish(1, "x", "k", "m");
  EXPECT_EQ(queue("q1")->ready_count(), 1u);
  b->send(1, del);
  ASSERT_TRUE(b->take_one().is<ExchangeDeleteOk>());
  declare("fanout", "q2");
  a->publish(1, "x", "k", "m");
  EXPECT_EQ(queue("q1")->ready_count(), 1u);
  EXPECT_EQ(queue("q2")->ready_count(), 1u);
  b->send(1, del);
  ASSERT_TRUE(b->take_one().is<ExchangeDeleteOk>());
  a->publish(1, "x", "k", "m");
  CloseInfo c = expect_channel_close(a->take_one(), 1, ReplyCode::NotFound);
  EXPECT_EQ(c.reply_text, "NOT_FOUND - no exchange 'x' in vhost '/'");
  EXPECT_EQ(queue("q2")->ready_count(), 1u);
}

TEST_F(ChannelTest, GeneratedConsumerTagAndConsumeOkBeforeTheFirstDeliver) {
  auto a = open_peer(1);
  auto b = open_peer(2);
  a->declare_queue(1, "q");
  a->feed(Peer::publish_frames(1, "", "q", "waiting 1") + Peer::publish_frames(1, "", "q", "waiting 2"));
  BasicConsume c;
  c.queue = "q";
  b->send(1, c);
  auto frames = b->take();
  ASSERT_FALSE(frames.empty());
  auto ok = frames[0].as<BasicConsumeOk>();
  ASSERT_TRUE(ok.has_value()) << names(frames);
  EXPECT_TRUE(ok->consumer_tag.starts_with("amq.ctag-")) << ok->consumer_tag;
  auto got = contents(frames);
  ASSERT_EQ(got.size(), 2u) << names(frames);
  EXPECT_EQ(got[0].method.as<BasicDeliver>()->consumer_tag, ok->consumer_tag);
  EXPECT_EQ(got[0].body, "waiting 1");
  // A second consumer gets another generated tag.
  b->send(1, c);
  auto ok2 = b->take_one().as<BasicConsumeOk>();
  ASSERT_TRUE(ok2.has_value());
  EXPECT_TRUE(ok2->consumer_tag.starts_with("amq.ctag-"));
  EXPECT_NE(std::string(ok2->consumer_tag), std::string(ok->consumer_tag));
}

TEST_F(ChannelTest, ReusingAConsumerTagIsNotAllowed) {
  auto a = open_peer(1);
  a->declare_queue(1, "q");
  a->consume(1, "q", "tag");
  BasicConsume c;
  c.queue = "q";
  c.consumer_tag = "tag";
  a->send(1, c);
  expect_connection_close(a->take_one(), ReplyCode::NotAllowed);
}

TEST_F(ChannelTest, CancelStopsDeliveries) {
  auto a = open_peer(1);
  a->declare_queue(1, "q");
  a->consume(1, "q", "tag", 0, /*no_ack=*/true);
  BasicCancel cancel;
  cancel.consumer_tag = "tag";
  a->send(1, cancel);
  auto ok = a->take_one().as<BasicCancelOk>();
  ASSERT_TRUE(ok.has_value());
  EXPECT_EQ(ok->consumer_tag, "tag");
  a->publish(1, "", "q", "m");
  EXPECT_TRUE(a->take().empty());
  EXPECT_EQ(queue("q")->ready_count(), 1u);
}

TEST_F(ChannelTest, QueueDeletedUnderAConsumerCancelsIt) {
  auto a = open_peer(1);
  auto b = open_peer(2);
  a->declare_queue(1, "q");
  b->consume(1, "q", "tag");
  QueueDelete del;
  del.queue = "q";
  a->send(1, del);
  EXPECT_TRUE(a->take_one().is<QueueDeleteOk>());
  auto cancel = b->take_one().as<BasicCancel>();  // b has consumer_cancel_notify
  ASSERT_TRUE(cancel.has_value());
  EXPECT_EQ(cancel->consumer_tag, "tag");
  b->send(1, BasicQos{});  // the channel goes on
  EXPECT_TRUE(b->take_one().is<BasicQosOk>());
}

TEST_F(ChannelTest, BasicGetAndGetEmpty) {
  auto a = open_peer(1);
  a->declare_queue(1, "q");
  BasicGet get;
  get.queue = "q";
  a->send(1, get);
  EXPECT_TRUE(a->take_one().is<BasicGetEmpty>());
  a->feed(Peer::publish_frames(1, "", "q", "one") + Peer::publish_frames(1, "", "q", "two"));
  a->send(1, get);
  auto got = contents(a->take());
  ASSERT_EQ(got.size(), 1u);
  auto ok = got[0].method.as<BasicGetOk>();
  EXPECT_EQ(ok->delivery_tag, 1u);
  EXPECT_EQ(ok->message_count, 1u);
  EXPECT_EQ(ok->routing_key, "q");
  EXPECT_EQ(got[0].body, "one");
}

TEST_F(ChannelTest, FullOutputStopsDeliveriesUntilDrained) {
  opts.max_output = 1000;
  auto a = open_peer(1);
  auto b = open_peer(2);
  a->declare_queue(1, "q");
  b->consume(1, "q", "c");
  b->t.count_pending = true;  // B's peer reads nothing
  std::string body(600, 'b');
  std::string five;
  for (int i = 0; i < 5; ++i) five += Peer::publish_frames(1, "", "q", body);
  a->feed(five);
  auto got = contents(b->take());
  // The first fits; the second goes over the bound; then nothing more.
  ASSERT_EQ(got.size(), 2u);
  EXPECT_GT(b->t.pending, opts.max_output);
  EXPECT_GE(b->t.drain_requests, 1);
  EXPECT_EQ(queue("q")->ready_count(), 3u);
  a->publish(1, "", "q", body);  // still nothing
  EXPECT_TRUE(b->take().empty());

  b->t.pending = 0;
  b->t.count_pending = false;
  b->conn().output_drained(now);
  got = contents(b->take());
  EXPECT_EQ(got.size(), 4u);
  EXPECT_EQ(queue("q")->ready_count(), 0u);
}

TEST_F(ChannelTest, FlowOffStopsDeliveries) {
  auto a = open_peer(1);
  a->declare_queue(1, "q");
  a->consume(1, "q", "c", 0, true);
  ChannelFlow flow;
  flow.active = false;
  a->send(1, flow);
  auto ok = a->take_one().as<ChannelFlowOk>();
  ASSERT_TRUE(ok.has_value());
  EXPECT_FALSE(ok->active);
  a->publish(1, "", "q", "m");
  EXPECT_TRUE(a->take().empty());
  flow.active = true;
  a->send(1, flow);
  auto frames = a->take();
  ASSERT_FALSE(frames.empty());
  EXPECT_TRUE(frames[0].is<ChannelFlowOk>());
  EXPECT_EQ(contents(frames).size(), 1u);
}

TEST_F(ChannelTest, MemoryAlarmBlocksAPublisher) {
  auto a = open_peer(1);
  a->publish(1, "", "nowhere", "m");
  a->conn().resource_alarm({.memory = true});
  auto blocked = a->take_one().as<ConnectionBlocked>();  // a has the connection.blocked capability
  ASSERT_TRUE(blocked.has_value());
  EXPECT_EQ(blocked->reason, "low on memory");
  EXPECT_FALSE(a->t.reading);
  a->conn().resource_alarm({.memory = true, .disk = true});  // still blocked: nothing new is sent
  EXPECT_TRUE(a->take().empty());
  a->conn().resource_alarm({.disk = true});
  EXPECT_TRUE(a->take().empty());
  a->conn().resource_alarm({});
  EXPECT_TRUE(a->take_one().is<ConnectionUnblocked>());
  EXPECT_TRUE(a->t.reading);
}

TEST_F(ChannelTest, DiskAlarmBlocksAPublisherWithItsOwnReason) {
  auto a = open_peer(1);
  a->publish(1, "", "nowhere", "m");
  a->conn().resource_alarm({.disk = true});
  auto blocked = a->take_one().as<ConnectionBlocked>();
  ASSERT_TRUE(blocked.has_value());
  EXPECT_EQ(blocked->reason, "low on disk");
  EXPECT_FALSE(a->t.reading);
  a->conn().resource_alarm({});
  EXPECT_TRUE(a->take_one().is<ConnectionUnblocked>());
  EXPECT_TRUE(a->t.reading);
}

}  // namespace
}  // namespace warren::amqp091::test
