// The AMQP 0-9-1 connection engine: the handshake, framing rules and
// heartbeats, driven through a fake transport and a fake clock.
#include "amqp091/connection.hpp"

#include <gtest/gtest.h>

#include "amqp091/engine_test_util.hpp"

namespace warren::amqp091::test {
namespace {

constexpr std::string_view kHeader("AMQP\0\0\x09\x01", 8);
constexpr std::string_view kGuest("\0guest\0guest", 12);

using ConnectionTest = EngineTest;

// ------------------------------------------------------------------ handshake

TEST_F(ConnectionTest, HandshakeStartTuneOpen) {
  auto p = peer(1);
  p->feed(kHeader);
  OutFrame start_frame = p->take_one();
  auto start = start_frame.as<ConnectionStart>();
  ASSERT_TRUE(start.has_value()) << start_frame.name();
  EXPECT_EQ(start_frame.channel, 0);
  EXPECT_EQ(start->version_major, 0);
  EXPECT_EQ(start->version_minor, 9);
  EXPECT_EQ(start->mechanisms, "PLAIN AMQPLAIN");
  FieldTable props;
  ASSERT_TRUE(start->server_properties.decode(props).ok());
  auto* product = props.find("product");
  ASSERT_NE(product, nullptr);
  EXPECT_EQ(std::get<std::string>(*product), "Warren");
  auto* caps = props.find("capabilities");
  ASSERT_NE(caps, nullptr);
  ASSERT_TRUE(std::holds_alternative<FieldTable>(*caps));
  for (const char* c : {"publisher_confirms", "exchange_exchange_bindings", "basic.nack", "consumer_cancel_notify",
                        "connection.blocked", "authentication_failure_close", "per_consumer_qos",
                        "direct_reply_to"}) {
    auto* v = std::get<FieldTable>(*caps).find(c);
    ASSERT_NE(v, nullptr) << c;
    EXPECT_EQ(*v, FieldValue(true)) << c;
  }

  p->send(0, Peer::start_ok("PLAIN", kGuest));
  auto tune = p->take_one().as<ConnectionTune>();
  ASSERT_TRUE(tune.has_value());
  EXPECT_EQ(tune->channel_max, 2047);
  EXPECT_EQ(tune->frame_max, 131072u);
  EXPECT_EQ(tune->heartbeat, 60);

  ConnectionTuneOk ok;
  ok.channel_max = 2047;
  ok.frame_max = 131072;
  ok.heartbeat = 60;
  p->send(0, ok);
  EXPECT_TRUE(p->take().empty());  // tune-ok has no answer
  p->send(0, ConnectionOpen{});
  EXPECT_TRUE(p->take_one().is<ConnectionOpenOk>());
  EXPECT_EQ(p->conn().user(), "guest");
  EXPECT_FALSE(p->t.closed);
  EXPECT_FALSE(p->conn().finished());
}

TEST_F(ConnectionTest, AmqplainLogin) {
  auto p = peer(1);
  p->feed(kHeader);
  p->take();
  FieldTable creds;
  creds.add("LOGIN", std::string("guest"));
  creds.add("PASSWORD", std::string("guest"));
  std::string response;
  ASSERT_TRUE(encode_table_entries(response, creds));
  p->send(0, Peer::start_ok("AMQPLAIN", response));
  EXPECT_TRUE(p->take_one().is<ConnectionTune>());
}

TEST_F(ConnectionTest, GuestFromAnotherHostIsRefused) {
  auto p = peer(1, /*loopback=*/false);
  p->feed(kHeader);
  p->take();
  p->send(0, Peer::start_ok("PLAIN", kGuest));
  expect_connection_close(p->take_one(), ReplyCode::AccessRefused);
  EXPECT_TRUE(p->t.closed);
  EXPECT_TRUE(p->conn().finished());
}

TEST_F(ConnectionTest, NonGuestUserFromAnotherHostLogsIn) {
  opts.directory->put_user({.name = "alice", .password_hash = auth::hash_password("secret")});
  opts.directory->set_permission("alice", "/", {});
  auto p = peer(1, /*loopback=*/false);
  p->feed(kHeader);
  p->take();
  p->send(0, Peer::start_ok("PLAIN", std::string_view("\0alice\0secret", 13)));
  EXPECT_TRUE(p->take_one().is<ConnectionTune>());
}

TEST_F(ConnectionTest, WrongPasswordIsRefusedWithRabbitMQsText) {
  auto p = peer(1);
  p->feed(kHeader);
  p->take();
  p->send(0, Peer::start_ok("PLAIN", std::string_view("\0guest\0nope", 11)));
  CloseInfo c = expect_connection_close(p->take_one(), ReplyCode::AccessRefused);
  EXPECT_TRUE(c.reply_text.starts_with("ACCESS_REFUSED - Login was refused using authentication mechanism PLAIN"))
      << c.reply_text;
  EXPECT_TRUE(p->t.closed);
}

TEST_F(ConnectionTest, UnknownVhostIsNotAllowed) {
  auto p = peer(1);
  p->feed(kHeader);
  p->take();
  p->send(0, Peer::start_ok("PLAIN", kGuest));
  p->take();
  ConnectionTuneOk ok;
  ok.channel_max = 2047;
  ok.frame_max = 131072;
  p->send(0, ok);
  ConnectionOpen open;
  open.virtual_host = "/nope";
  p->send(0, open);
  CloseInfo c = expect_connection_close(p->take_one(), ReplyCode::NotAllowed);
  EXPECT_EQ(c.class_id, 10);
  EXPECT_EQ(c.method_id, 40);
  EXPECT_TRUE(p->t.closed);
}

TEST_F(ConnectionTest, WrongProtocolHeaderGetsOursAndAClose) {
  for (std::string_view wrong : {std::string_view("HTTP/1.1"), std::string_view("AMQP\x01\x01\x00\x09", 8),
                                 std::string_view("AMQP\0\0\x09\x02", 8)}) {
    SCOPED_TRACE(testing::PrintToString(std::string(wrong)));
    auto p = peer(1);
    p->feed(wrong);
    EXPECT_EQ(p->t.out, kHeader);
    EXPECT_TRUE(p->t.closed);
    EXPECT_TRUE(p->conn().finished());
    p->feed(kHeader);  // nothing more
    EXPECT_EQ(p->t.out, kHeader);
  }
}

TEST_F(ConnectionTest, HeaderOneByteAtATime) {
  auto p = peer(1);
  for (size_t i = 0; i + 1 < kHeader.size(); ++i) {
    p->feed(kHeader.substr(i, 1));
    EXPECT_TRUE(p->t.out.empty()) << "after " << i + 1 << " octets";
  }
  p->feed(kHeader.substr(kHeader.size() - 1));
  EXPECT_TRUE(p->take_one().is<ConnectionStart>());
  // And the frames after it, split anywhere.
  std::string rest = Peer::frame(0, Peer::start_ok("PLAIN", kGuest));
  for (char c : rest) p->feed(std::string_view(&c, 1));
  EXPECT_TRUE(p->take_one().is<ConnectionTune>());
}

TEST_F(ConnectionTest, HeaderAndStartOkInOneRead) {
  auto p = peer(1);
  p->feed(std::string(kHeader) + Peer::frame(0, Peer::start_ok("PLAIN", kGuest)));
  auto f = p->take();
  ASSERT_EQ(f.size(), 2u) << names(f);
  EXPECT_TRUE(f[0].is<ConnectionStart>());
  EXPECT_TRUE(f[1].is<ConnectionTune>());
}

TEST_F(ConnectionTest, TuneOkOutOfBoundsIsNotAllowed) {
  struct Case {
    uint16_t channel_max;
    uint32_t frame_max;
  };
  for (Case c : {Case{2047, 131073}, Case{2047, 4095}, Case{2047, 1}, Case{2048, 131072}, Case{2047, 0}}) {
    SCOPED_TRACE(testing::Message() << "channel_max " << c.channel_max << " frame_max " << c.frame_max);
    auto p = peer(1);
    p->feed(kHeader);
    p->send(0, Peer::start_ok("PLAIN", kGuest));
    p->take();
    ConnectionTuneOk ok;
    ok.channel_max = c.channel_max;
    ok.frame_max = c.frame_max;
    p->send(0, ok);
    expect_connection_close(p->take_one(), ReplyCode::NotAllowed);
    EXPECT_TRUE(p->t.closed);
  }
}

TEST_F(ConnectionTest, HandshakeTimesOut) {
  auto p = peer(1);
  p->feed(kHeader);
  ASSERT_EQ(p->conn().next_deadline(), now + opts.handshake_timeout);
  now += opts.handshake_timeout - 1ms;
  p->advance();
  EXPECT_FALSE(p->t.closed);
  now += 1ms;
  p->advance();
  EXPECT_TRUE(p->t.closed);
  EXPECT_EQ(p->conn().next_deadline(), std::nullopt);
}

TEST_F(ConnectionTest, MethodBeforeOpenIsUnexpected) {
  auto p = peer(1);
  p->feed(kHeader);
  p->take();
  p->send(1, ChannelOpen{});
  expect_connection_close(p->take_one(), ReplyCode::UnexpectedFrame);
  EXPECT_TRUE(p->t.closed);
}

// --------------------------------------------------------------------- frames

TEST_F(ConnectionTest, FrameLargerThanFrameMaxIsAFrameError) {
  auto p = open_peer(1, 0, 4096);
  QueueDeclare d;
  std::string big(5000, 'a');
  std::string args;
  FieldTable t;
  t.add("x-pad", big);
  encode_table_entries(args, t);
  d.arguments = TableView(args);
  p->send(1, d);
  expect_connection_close(p->take_one(), ReplyCode::FrameError);
}

// The limit applies from the frame after tune-ok, even in the same read.
TEST_F(ConnectionTest, FrameMaxAppliesRightAfterTuneOkInTheSameRead) {
  auto p = peer(1);
  ConnectionTuneOk tune;
  tune.channel_max = 2047;
  tune.frame_max = 4096;
  QueueDeclare d;
  std::string args;
  FieldTable t;
  t.add("x-pad", std::string(5000, 'a'));
  encode_table_entries(args, t);
  d.arguments = TableView(args);
  p->feed(std::string(kHeader) + Peer::frame(0, Peer::start_ok("PLAIN", kGuest)) + Peer::frame(0, tune) +
          Peer::frame(0, ConnectionOpen{}) + Peer::frame(1, ChannelOpen{}) + Peer::frame(1, d));
  auto f = p->take();
  ASSERT_EQ(f.size(), 5u) << names(f);
  EXPECT_TRUE(f[3].is<ChannelOpenOk>());
  expect_connection_close(f[4], ReplyCode::FrameError);
}

TEST_F(ConnectionTest, BadFrameEndIsAFrameError) {
  auto p = open_peer(1);
  std::string f = Peer::frame(1, ChannelFlow{});
  f.back() = 'x';
  p->feed(f);
  CloseInfo c = expect_connection_close(p->take_one(), ReplyCode::FrameError);
  EXPECT_NE(c.reply_text.find("invalid_frame_end_marker"), std::string_view::npos) << c.reply_text;
}

TEST_F(ConnectionTest, UnknownClassIsNotImplemented) {
  auto p = open_peer(1);
  std::string payload("\x00\x63\x00\x0a", 4);  // class 99, method 10
  std::string f;
  append_frame(f, kFrameMethod, 1, as_bytes(payload));
  p->feed(f);
  expect_connection_close(p->take_one(), ReplyCode::NotImplemented);
}

TEST_F(ConnectionTest, MethodOnAChannelNeverOpenedIsAChannelError) {
  auto p = open_peer(1);
  p->send(7, QueueDeclare{});
  expect_connection_close(p->take_one(), ReplyCode::ChannelError);
}

TEST_F(ConnectionTest, SecondChannelOpenIsAChannelError) {
  auto p = open_peer(1);
  p->send(1, ChannelOpen{});
  CloseInfo c = expect_connection_close(p->take_one(), ReplyCode::ChannelError);
  EXPECT_EQ(c.class_id, 20);
  EXPECT_EQ(c.method_id, 10);
}

TEST_F(ConnectionTest, ChannelAboveChannelMaxIsAChannelError) {
  auto p = open_peer(1);
  p->send(2048, ChannelOpen{});
  expect_connection_close(p->take_one(), ReplyCode::ChannelError);
}

TEST_F(ConnectionTest, ContentHeaderWithoutPublishIsUnexpected) {
  auto p = open_peer(1);
  p->feed(Peer::header_frame(1, 3));
  expect_connection_close(p->take_one(), ReplyCode::UnexpectedFrame);
}

TEST_F(ConnectionTest, ContentBodyWithoutPublishIsUnexpected) {
  auto p = open_peer(1);
  p->feed(Peer::body_frame(1, "abc"));
  expect_connection_close(p->take_one(), ReplyCode::UnexpectedFrame);
}

TEST_F(ConnectionTest, MethodWhileContentIsExpectedIsUnexpected) {
  auto p = open_peer(1);
  p->send(1, BasicPublish{});
  EXPECT_TRUE(p->take().empty());
  p->send(1, BasicQos{});
  expect_connection_close(p->take_one(), ReplyCode::UnexpectedFrame);
  // Also between the header and the body.
  auto q = open_peer(2);
  q->feed(Peer::frame(1, BasicPublish{}) + Peer::header_frame(1, 5));
  q->send(1, BasicQos{});
  expect_connection_close(q->take_one(), ReplyCode::UnexpectedFrame);
}

TEST_F(ConnectionTest, BodyLongerThanDeclaredIsAFrameError) {
  auto p = open_peer(1);
  p->feed(Peer::frame(1, BasicPublish{}) + Peer::header_frame(1, 5) + Peer::body_frame(1, "0123456789"));
  expect_connection_close(p->take_one(), ReplyCode::FrameError);
}

TEST_F(ConnectionTest, HeartbeatOnAChannelIsAFrameError) {
  auto p = open_peer(1);
  std::string f;
  append_frame(f, kFrameHeartbeat, 1, {});
  p->feed(f);
  expect_connection_close(p->take_one(), ReplyCode::FrameError);
}

TEST_F(ConnectionTest, HeartbeatOnChannelZeroIsFine) {
  auto p = open_peer(1);
  std::string f;
  append_heartbeat(f);
  p->feed(f);
  EXPECT_TRUE(p->take().empty());
  EXPECT_FALSE(p->t.closed);
}

TEST_F(ConnectionTest, MessageAboveMaxSizeClosesOnlyTheChannel) {
  opts.max_message_size = 100;
  auto p = open_peer(1);
  std::string body(101, 'x');
  p->feed(Peer::publish_frames(1, "", "q", body));
  CloseInfo c = expect_channel_close(p->take_one(), 1, ReplyCode::PreconditionFailed);
  EXPECT_EQ(c.class_id, 60);
  EXPECT_EQ(c.method_id, 40);
  EXPECT_FALSE(p->t.closed);
  p->open_channel(2);
  p->publish(2, "", "q", std::string(100, 'y'));  // at the limit: fine
  EXPECT_TRUE(p->take().empty());
  p->send(1, ChannelCloseOk{});
  p->open_channel(1);
}

TEST_F(ConnectionTest, AfterServerCloseOnlyCloseOkCounts) {
  auto p = open_peer(1);
  p->send(9, BasicQos{});  // 504: channel 9 was never opened
  expect_connection_close(p->take_one(), ReplyCode::ChannelError);
  EXPECT_FALSE(p->t.closed);
  p->send(2, ChannelOpen{});
  p->send(1, BasicQos{});
  std::string hb;
  append_heartbeat(hb);
  p->feed(hb);
  EXPECT_TRUE(p->take().empty());
  EXPECT_FALSE(p->t.closed);
  p->send(0, ConnectionCloseOk{});
  EXPECT_TRUE(p->take().empty());
  EXPECT_TRUE(p->t.closed);
  EXPECT_TRUE(p->conn().finished());
}

TEST_F(ConnectionTest, ServerCloseTimesOutWithoutCloseOk) {
  auto p = open_peer(1);
  p->send(9, BasicQos{});
  p->take();
  ASSERT_EQ(p->conn().next_deadline(), now + opts.close_timeout);
  now += opts.close_timeout;
  p->advance();
  EXPECT_TRUE(p->t.closed);
}

TEST_F(ConnectionTest, ClientCloseIsAnsweredAndEnds) {
  auto p = open_peer(1);
  ConnectionClose c;
  c.reply_code = 200;
  c.reply_text = "bye";
  p->send(0, c);
  EXPECT_TRUE(p->take_one().is<ConnectionCloseOk>());
  EXPECT_TRUE(p->t.closed);
  EXPECT_TRUE(p->conn().finished());
  size_t before = p->t.out.size();
  p->send(1, BasicQos{});
  p->advance();
  p->conn().output_drained(now);
  EXPECT_EQ(p->t.out.size(), before);
}

// ----------------------------------------------------------------- heartbeats

TEST_F(ConnectionTest, HeartbeatSentAfterOurSilence) {
  auto p = open_peer(1, /*heartbeat=*/2);
  ASSERT_EQ(p->conn().next_deadline(), now + 2s);
  now += 1999ms;
  p->advance();
  EXPECT_TRUE(p->take().empty());
  now += 1ms;  // 2 s after open-ok
  p->advance();
  auto f = p->take();
  ASSERT_EQ(f.size(), 1u) << names(f);
  EXPECT_EQ(f[0].type, kFrameHeartbeat);
  EXPECT_EQ(f[0].channel, 0);
  EXPECT_TRUE(f[0].payload().empty());
  // And every 2 s of silence after that, as long as the client talks.
  std::string hb;
  append_heartbeat(hb);
  for (int i = 0; i < 3; ++i) {
    now += 1s;
    p->feed(hb);
    p->advance();
    EXPECT_TRUE(p->take().empty());
    now += 1s;
    p->advance();
    auto g = p->take();
    ASSERT_EQ(g.size(), 1u) << names(g);
    EXPECT_EQ(g[0].type, kFrameHeartbeat);
  }
}

TEST_F(ConnectionTest, HeartbeatWaitsForOurLastFrame) {
  auto p = open_peer(1, 2);
  now += 1500ms;
  p->send(1, BasicQos{});  // qos-ok goes out at 1.5 s
  p->take();
  EXPECT_EQ(p->conn().next_deadline(), now + 2s);
  now += 1999ms;
  p->advance();
  EXPECT_TRUE(p->take().empty());
  now += 1ms;
  p->advance();
  auto f = p->take();
  ASSERT_EQ(f.size(), 1u) << names(f);
  EXPECT_EQ(f[0].type, kFrameHeartbeat);
}

// As the I/O layer drives it: advance() only when next_deadline() comes.
// A client that beats twice per interval must still get our heartbeats.
TEST_F(ConnectionTest, HeartbeatsFlowWhileTheClientBeatsMoreOften) {
  auto p = open_peer(1, 2);
  std::string hb;
  append_heartbeat(hb);
  TimePoint last_ours = now;
  int ours = 0;
  for (int step = 1; step <= 100; ++step) {  // 10 s in 100 ms steps
    now += 100ms;
    if (step % 10 == 0) p->feed(hb);  // every second
    if (auto d = p->conn().next_deadline(); d && *d <= now) p->advance();
    for (const OutFrame& f : p->take()) {
      EXPECT_EQ(f.type, kFrameHeartbeat);
      EXPECT_LE(now - last_ours, 2100ms) << "at step " << step;
      last_ours = now;
      ++ours;
    }
  }
  EXPECT_GE(ours, 4);
  EXPECT_FALSE(p->t.closed);
}

TEST_F(ConnectionTest, SilentClientIsDisconnectedAfterTwoHeartbeats) {
  auto p = open_peer(1, 2);
  now += 3999ms;
  p->advance();
  EXPECT_FALSE(p->t.closed);
  now += 1ms;
  p->advance();
  EXPECT_TRUE(p->t.closed);
  EXPECT_TRUE(p->conn().finished());
  EXPECT_EQ(p->conn().next_deadline(), std::nullopt);
}

TEST_F(ConnectionTest, InputResetsTheMissedHeartbeatClock) {
  auto p = open_peer(1, 2);
  std::string hb;
  append_heartbeat(hb);
  now += 3s;
  p->feed(hb);
  now += 3999ms;  // 7 s after open, 4 s after the heartbeat
  p->advance();
  EXPECT_FALSE(p->t.closed);
  now += 1ms;
  p->advance();
  EXPECT_TRUE(p->t.closed);
}

TEST_F(ConnectionTest, NoHeartbeatNegotiatedNoDeadline) {
  auto p = open_peer(1, 0);
  EXPECT_EQ(p->conn().next_deadline(), std::nullopt);
  now += 1h;
  p->advance();
  EXPECT_TRUE(p->take().empty());
  EXPECT_FALSE(p->t.closed);
}

}  // namespace
}  // namespace warren::amqp091::test
