// Permissions and vhost limits through the 0-9-1 engine: which method
// needs which permission, RabbitMQ's reply codes and texts, and that a
// refusal closes only the channel.
#include <gtest/gtest.h>

#include "amqp091/engine_test_util.hpp"

namespace warren::amqp091::test {
namespace {

class ConnectionTestBase : public EngineTest {
 protected:
  uint64_t next_id_ = 1;
};

ConnectionTuneOk tune_ok() {
  ConnectionTuneOk t;
  t.channel_max = 2047;
  t.frame_max = 131072;
  return t;
}

class AccessTest : public EngineTest {
 protected:
  // guest may configure "cfg.*", write "w.*" and amq.default, read "r.*".
  void SetUp() override {
    opts.directory->set_permission("guest", "/",
                                   {.configure = "^cfg\\.", .write = "^(w\\.|cfg\\.|amq\\.default$)", .read = "^(r\\.|cfg\\.)"});
  }
  // Sends `m` on channel 1 and expects it refused with 403 and `text`.
  template <class M>
  void expect_refused(Peer& p, const M& m, std::string_view text) {
    p.send(1, m);
    CloseInfo c = expect_channel_close(p.take_one(), 1, ReplyCode::AccessRefused);
    EXPECT_EQ(c.reply_text, "ACCESS_REFUSED - " + std::string(text));
    p.send(1, ChannelCloseOk{});
    p.open_channel(1);
  }
};

TEST_F(AccessTest, DeclareAndDeleteNeedConfigure) {
  auto p = open_peer(1);
  QueueDeclare q;
  q.queue = "orders";
  expect_refused(*p, q, "configure access to queue 'orders' in vhost '/' refused for user 'guest'");
  ExchangeDeclare x;
  x.exchange = "events";
  x.type = "fanout";
  expect_refused(*p, x, "configure access to exchange 'events' in vhost '/' refused for user 'guest'");
  p->declare_queue(1, "cfg.q");
  QueueDelete del;
  del.queue = "r.q";
  expect_refused(*p, del, "configure access to queue 'r.q' in vhost '/' refused for user 'guest'");
  ExchangeDelete xd;
  xd.exchange = "events";
  expect_refused(*p, xd, "configure access to exchange 'events' in vhost '/' refused for user 'guest'");
}

TEST_F(AccessTest, PassiveDeclareNeedsNothing) {
  broker::QueueDeclareOk ok;
  ASSERT_FALSE(broker.vhost("/")->declare_queue({.name = "other"}, now, ok));
  auto p = open_peer(1);
  QueueDeclare q;
  q.queue = "other";
  q.passive = true;
  p->send(1, q);
  EXPECT_TRUE(p->take_one().is<QueueDeclareOk>());
}

TEST_F(AccessTest, ServerNamedQueuesAreCheckedUnderTheirNewName) {
  auto p = open_peer(1);
  QueueDeclare q;  // amq.gen-...: not configurable here
  p->send(1, q);
  CloseInfo c = expect_channel_close(p->take_one(), 1, ReplyCode::AccessRefused);
  EXPECT_NE(c.reply_text.find("configure access to queue 'amq.gen-"), std::string::npos) << c.reply_text;
  opts.directory->set_permission("guest", "/", {.configure = "^amq\\.gen-"});
  p->send(1, ChannelCloseOk{});
  p->open_channel(1);
  p->send(1, q);
  EXPECT_TRUE(p->take_one().is<QueueDeclareOk>());
}

TEST_F(AccessTest, DeadLetteringNeedsReadOnTheQueueAndWriteOnItsExchange) {
  auto p = open_peer(1);
  std::string args;
  FieldTable t;
  t.add("x-dead-letter-exchange", std::string("amq.fanout"));
  ASSERT_TRUE(encode_table_entries(args, t));
  QueueDeclare q;
  q.queue = "cfg.dl";
  q.arguments = TableView(args);
  expect_refused(*p, q, "write access to exchange 'amq.fanout' in vhost '/' refused for user 'guest'");
  EXPECT_FALSE(queue("cfg.dl"));
}

TEST_F(AccessTest, PublishNeedsWriteOnTheExchange) {
  auto p = open_peer(1);
  p->declare_queue(1, "cfg.q");
  p->publish(1, "", "cfg.q", "allowed: amq.default");
  EXPECT_TRUE(p->take().empty());
  EXPECT_EQ(queue("cfg.q")->ready_count(), 1u);
  p->publish(1, "amq.topic", "k", "refused");
  CloseInfo c = expect_channel_close(p->take_one(), 1, ReplyCode::AccessRefused);
  EXPECT_EQ(c.reply_text, "ACCESS_REFUSED - write access to exchange 'amq.topic' in vhost '/' refused for user 'guest'");
  // Before the lookup, as RabbitMQ: a 403, not a 404, for a missing exchange.
  p->send(1, ChannelCloseOk{});
  p->open_channel(1);
  p->publish(1, "no-such", "k", "refused");
  expect_channel_close(p->take_one(), 1, ReplyCode::AccessRefused);
}

TEST_F(AccessTest, ConsumeGetAndPurgeNeedRead) {
  broker::QueueDeclareOk ok;
  ASSERT_FALSE(broker.vhost("/")->declare_queue({.name = "secret"}, now, ok));
  auto p = open_peer(1);
  BasicConsume c;
  c.queue = "secret";
  expect_refused(*p, c, "read access to queue 'secret' in vhost '/' refused for user 'guest'");
  BasicGet g;
  g.queue = "secret";
  expect_refused(*p, g, "read access to queue 'secret' in vhost '/' refused for user 'guest'");
  QueuePurge pu;
  pu.queue = "secret";
  expect_refused(*p, pu, "read access to queue 'secret' in vhost '/' refused for user 'guest'");
}

TEST_F(AccessTest, BindNeedsWriteOnTheDestinationAndReadOnTheSource) {
  auto p = open_peer(1);
  p->declare_queue(1, "cfg.q");
  QueueBind b;
  b.queue = "cfg.q";
  b.exchange = "amq.direct";  // not readable
  expect_refused(*p, b, "read access to exchange 'amq.direct' in vhost '/' refused for user 'guest'");
  opts.directory->set_permission("guest", "/", {.configure = "^cfg\\.", .write = "^w\\.", .read = ".*"});
  b.queue = "cfg.q";  // not writable any more
  expect_refused(*p, b, "write access to queue 'cfg.q' in vhost '/' refused for user 'guest'");
  ExchangeBind eb;
  eb.destination = "amq.topic";
  eb.source = "amq.direct";
  expect_refused(*p, eb, "write access to exchange 'amq.topic' in vhost '/' refused for user 'guest'");
}

TEST_F(AccessTest, NoPermissionsInTheVhostRefusesTheConnection) {
  opts.directory->clear_permission("guest", "/");
  auto p = peer(1);
  p->feed(std::string_view("AMQP\0\0\x09\x01", 8));
  p->take();
  p->send(0, Peer::start_ok("PLAIN", std::string_view("\0guest\0guest", 12)));
  p->take();
  p->send(0, tune_ok());
  p->send(0, ConnectionOpen{});
  CloseInfo c = expect_connection_close(p->take_one(), ReplyCode::NotAllowed);
  EXPECT_EQ(c.reply_text, "NOT_ALLOWED - access to vhost '/' refused for user 'guest'");
}

TEST_F(AccessTest, VhostLimits) {
  broker.vhost("/")->set_limits(/*max_connections=*/1, /*max_queues=*/1);
  auto p = open_peer(1);
  p->declare_queue(1, "cfg.one");
  QueueDeclare q;
  q.queue = "cfg.two";
  p->send(1, q);
  CloseInfo c = expect_channel_close(p->take_one(), 1, ReplyCode::PreconditionFailed);
  EXPECT_EQ(c.reply_text, "PRECONDITION_FAILED - cannot declare queue 'cfg.two': queue limit in vhost '/' (1) is reached");

  auto second = peer(2);
  second->feed(std::string_view("AMQP\0\0\x09\x01", 8));
  second->take();
  second->send(0, Peer::start_ok("PLAIN", std::string_view("\0guest\0guest", 12)));
  second->take();
  second->send(0, tune_ok());
  second->send(0, ConnectionOpen{});
  c = expect_connection_close(second->take_one(), ReplyCode::NotAllowed);
  EXPECT_EQ(c.reply_text, "NOT_ALLOWED - access to vhost '/' refused for user 'guest': connection limit (1) is reached");
  // The first one's close makes room.
  p->send(0, ConnectionClose{});
  auto third = peer(3);
  third->handshake();
}

TEST_F(ConnectionTestBase, ExternalLogsInAsTheCertificatesCnOnlyWhenEnabled) {
  auto start_mechanisms = [&](std::optional<std::string> cn) {
    auto p = peer(next_id_++);
    p->t.cn = std::move(cn);
    p->feed(std::string_view("AMQP\0\0\x09\x01", 8));
    auto start = p->take_one().as<ConnectionStart>();
    return std::pair{std::move(p), start ? std::string(start->mechanisms) : std::string("?")};
  };
  EXPECT_EQ(start_mechanisms("guest").second, "PLAIN AMQPLAIN");  // off by default
  opts.cert_login = true;
  EXPECT_EQ(start_mechanisms(std::nullopt).second, "PLAIN AMQPLAIN");  // no certificate
  auto [p, mechanisms] = start_mechanisms("guest");
  EXPECT_EQ(mechanisms, "PLAIN AMQPLAIN EXTERNAL");
  p->send(0, Peer::start_ok("EXTERNAL", ""));
  EXPECT_TRUE(p->take_one().is<ConnectionTune>());
  EXPECT_EQ(p->conn().user(), "guest");
  auto [stranger, _] = start_mechanisms("nobody");  // a CN that is no user
  stranger->send(0, Peer::start_ok("EXTERNAL", ""));
  expect_connection_close(stranger->take_one(), ReplyCode::AccessRefused);
}

}  // namespace
}  // namespace warren::amqp091::test
