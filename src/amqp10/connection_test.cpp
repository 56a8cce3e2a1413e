// The AMQP 1.0 connection: headers, SASL, open/close, idle time-out.
#include "amqp10/engine_test_util.hpp"

namespace warren::amqp10::test {
namespace {

class ConnectionTest : public ::testing::Test {
 protected:
  broker::SeededEnv env;
  broker::Broker broker{env, start_time()};
  ServerOptions opts;

  void sasl_init(Peer& p, std::string mechanism, std::optional<std::string> response) {
    p.feed(kSaslHeader);
    auto got = p.take();
    ASSERT_EQ(got.size(), 2u) << names(got);
    EXPECT_EQ(got[0].header, kSaslHeader);
    auto* m = got[1].as<SaslMechanisms>();
    ASSERT_TRUE(m);
    EXPECT_EQ(m->sasl_server_mechanisms, (std::vector<std::string>{"PLAIN", "ANONYMOUS"}));
    SaslInit init;
    init.mechanism = std::move(mechanism);
    init.initial_response = std::move(response);
    p.sasl(init);
  }
  uint8_t outcome(Peer& p) {
    auto got = p.take();
    for (auto& g : got)
      if (auto* o = g.as<SaslOutcome>()) return o->code;
    ADD_FAILURE() << "no sasl-outcome in " << names(got);
    return 255;
  }
};

TEST_F(ConnectionTest, SaslPlainThenOpen) {
  Peer p(broker, opts);
  sasl_init(p, "PLAIN", std::string("\0guest\0guest", 12));
  EXPECT_EQ(outcome(p), sasl_code::kOk);
  p.feed(kAmqpHeader);
  Open o;
  o.container_id = "c";
  o.max_frame_size = 4096;
  p.send(0, o);
  auto got = p.take();
  ASSERT_EQ(got.size(), 2u) << names(got);
  EXPECT_EQ(got[0].header, kAmqpHeader);
  auto* open = got[1].as<Open>();
  ASSERT_TRUE(open);
  EXPECT_TRUE(open->container_id.starts_with("warren"));
  EXPECT_EQ(open->max_frame_size, opts.max_frame_size);
  EXPECT_EQ(open->idle_time_out, 60000u);
  EXPECT_EQ(open->offered_capabilities, std::vector<std::string>{"ANONYMOUS-RELAY"});
  EXPECT_EQ(p.conn->user(), "guest");
  EXPECT_FALSE(p.t.closed);
}

TEST_F(ConnectionTest, SaslExternalIsTheCertificatesCnWhenEnabled) {
  auto mechanisms_and_outcome = [&](std::optional<std::string> cn, std::optional<std::string> response) {
    Peer p(broker, opts);
    p.t.cn = std::move(cn);
    p.feed(kSaslHeader);
    auto got = p.take();
    auto* m = got.size() == 2 ? got[1].as<SaslMechanisms>() : nullptr;
    std::vector<std::string> offered = m ? m->sasl_server_mechanisms : std::vector<std::string>{};
    SaslInit init;
    init.mechanism = "EXTERNAL";
    init.initial_response = std::move(response);
    p.sasl(init);
    return std::pair{offered, outcome(p)};
  };
  auto [offered, code] = mechanisms_and_outcome("guest", std::nullopt);
  EXPECT_EQ(offered, (std::vector<std::string>{"PLAIN", "ANONYMOUS"}));  // off by default
  EXPECT_EQ(code, sasl_code::kAuth);
  opts.cert_login = true;
  std::tie(offered, code) = mechanisms_and_outcome("guest", std::nullopt);
  EXPECT_EQ(offered, (std::vector<std::string>{"EXTERNAL", "PLAIN", "ANONYMOUS"}));
  EXPECT_EQ(code, sasl_code::kOk);
  EXPECT_EQ(mechanisms_and_outcome("guest", "guest").second, sasl_code::kOk);      // naming itself
  EXPECT_EQ(mechanisms_and_outcome("guest", "admin").second, sasl_code::kAuth);    // naming someone else
  EXPECT_EQ(mechanisms_and_outcome("nobody", std::nullopt).second, sasl_code::kAuth);  // no such user
  EXPECT_EQ(mechanisms_and_outcome(std::nullopt, std::nullopt).second, sasl_code::kAuth);  // no certificate
}

TEST_F(ConnectionTest, SaslPlainWithAuthzid) {
  opts.directory->put_user({.name = "alice", .password_hash = auth::hash_password("secret")});
  opts.directory->set_permission("alice", "/", {});
  Peer p(broker, opts, 1, false);
  sasl_init(p, "PLAIN", std::string("alice\0alice\0secret", 18));
  EXPECT_EQ(outcome(p), sasl_code::kOk);
  EXPECT_FALSE(p.t.closed);
}

TEST_F(ConnectionTest, SaslBadPasswordIsAuthThenClose) {
  Peer p(broker, opts);
  sasl_init(p, "PLAIN", std::string("\0guest\0nope", 11));
  EXPECT_EQ(outcome(p), sasl_code::kAuth);
  EXPECT_TRUE(p.t.closed);
  EXPECT_TRUE(p.conn->finished());
}

TEST_F(ConnectionTest, SaslUnknownMechanismIsAuth) {
  Peer p(broker, opts);
  sasl_init(p, "CRAM-MD5", std::nullopt);
  EXPECT_EQ(outcome(p), sasl_code::kAuth);
  EXPECT_TRUE(p.t.closed);
}

TEST_F(ConnectionTest, SaslAnonymousIsGuestFromLoopbackOnly) {
  {
    Peer p(broker, opts, 1, true);
    sasl_init(p, "ANONYMOUS", std::nullopt);
    EXPECT_EQ(outcome(p), sasl_code::kOk);
    EXPECT_EQ(p.conn->user(), "guest");
  }
  {
    Peer p(broker, opts, 2, false);
    sasl_init(p, "ANONYMOUS", std::nullopt);
    EXPECT_EQ(outcome(p), sasl_code::kAuth);
  }
  {
    Peer p(broker, opts, 3, false);  // guest's password is right, but not from here
    sasl_init(p, "PLAIN", std::string("\0guest\0guest", 12));
    EXPECT_EQ(outcome(p), sasl_code::kAuth);
  }
}

TEST_F(ConnectionTest, NoSaslIsGuestFromLoopback) {
  Peer p(broker, opts);
  p.open();
  EXPECT_EQ(p.conn->user(), "guest");
  EXPECT_FALSE(p.t.closed);
}

TEST_F(ConnectionTest, NoSaslFromElsewhereIsClosedUnauthorized) {
  Peer p(broker, opts, 1, false);
  p.feed(kAmqpHeader);
  Open o;
  o.container_id = "c";
  p.send(0, o);
  auto got = p.take();
  ASSERT_EQ(got.size(), 3u) << names(got);
  ASSERT_TRUE(got[2].as<Close>());
  ASSERT_TRUE(got[2].as<Close>()->error);
  EXPECT_EQ(got[2].as<Close>()->error->condition, amqp_error::kUnauthorizedAccess);
  EXPECT_TRUE(p.t.closed);
}

TEST_F(ConnectionTest, WrongHeadersAreAnsweredWithOursAndClosed) {
  {
    Peer p(broker, opts);
    p.feed(std::string_view("AMQP\2\1\0\0", 8));  // TLS: we offer SASL
    auto got = p.take();
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].header, kSaslHeader);
    EXPECT_TRUE(p.t.closed);
  }
  {
    Peer p(broker, opts, 2);
    p.feed(std::string_view("AMQP\0\1\0\7", 8));
    auto got = p.take();
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].header, kAmqpHeader);
    EXPECT_TRUE(p.t.closed);
  }
  {
    Peer p(broker, opts, 3);  // SASL done, then the SASL header again
    p.feed(kSaslHeader);
    SaslInit init;
    init.mechanism = "ANONYMOUS";
    p.sasl(init);
    p.feed(kSaslHeader);
    EXPECT_TRUE(p.t.closed);
  }
}

TEST_F(ConnectionTest, FramesBeforeOpenAreLimitedTo512Bytes) {
  Peer p(broker, opts);
  p.feed(kAmqpHeader);
  Open o;
  o.container_id = std::string(600, 'x');
  p.send(0, o);
  auto got = p.take();
  ASSERT_GE(got.size(), 2u) << names(got);
  auto* close = got.back().as<Close>();
  ASSERT_TRUE(close);
  ASSERT_TRUE(close->error);
  EXPECT_EQ(close->error->condition, connection_error::kFramingError);
  EXPECT_TRUE(p.t.closed);
}

TEST_F(ConnectionTest, AfterOpenBigFramesAreFine) {
  Peer p(broker, opts);
  p.open();
  Begin b;
  b.incoming_window = 10;
  b.outgoing_window = 10;
  b.properties = Value::map({{Value::symbol("pad"), Value::string(std::string(2000, 'x'))}});
  p.send(0, b);
  auto got = p.take();
  ASSERT_EQ(got.size(), 1u) << names(got);
  EXPECT_TRUE(got[0].as<Begin>());
}

TEST_F(ConnectionTest, PeerCloseIsAnsweredAndReleases) {
  Peer p(broker, opts);
  p.open();
  p.send(0, Close{});
  auto got = p.take();
  ASSERT_EQ(got.size(), 1u) << names(got);
  EXPECT_TRUE(got[0].as<Close>());
  EXPECT_FALSE(got[0].as<Close>()->error);
  EXPECT_TRUE(p.t.closed);
  p.feed(std::string_view("garbage"));
  EXPECT_EQ(p.t.sends_after_close, 0u);
}

TEST_F(ConnectionTest, DecodeErrorClosesWithTheCodecsCondition) {
  Peer p(broker, opts);
  p.open();
  const char bad[] = {0, 0, 0, 12, 2, 0, 0, 0, 0, 0x53, 0x11, 0x7f};  // begin, then a bad constructor
  p.feed(std::string_view(bad, sizeof bad));
  auto got = p.take();
  ASSERT_EQ(got.size(), 1u) << names(got);
  ASSERT_TRUE(got[0].as<Close>());
  EXPECT_EQ(got[0].as<Close>()->error->condition, amqp_error::kDecodeError);
  EXPECT_TRUE(p.t.closed);
}

TEST_F(ConnectionTest, FrameOnAChannelWithoutSessionIsAnError) {
  Peer p(broker, opts);
  p.open();
  Flow f;
  p.send(3, f);
  auto got = p.take();
  ASSERT_EQ(got.size(), 1u) << names(got);
  EXPECT_TRUE(got[0].as<Close>());
  EXPECT_TRUE(p.t.closed);
}

TEST_F(ConnectionTest, EmptyFramesAtHalfThePeersIdleTimeOut) {
  Peer p(broker, opts);
  p.open(65536, 10000);
  EXPECT_EQ(p.conn->next_deadline(), p.now + 5s);
  p.advance(4999ms);
  EXPECT_TRUE(p.take().empty());
  p.advance(1ms);
  auto got = p.take();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_TRUE(std::holds_alternative<std::monostate>(got[0].body));
  EXPECT_EQ(got[0].size, 8u);
  EXPECT_EQ(p.conn->next_deadline(), p.now + 5s);
}

TEST_F(ConnectionTest, SilentPeerIsClosedAfterTwiceOurIdleTimeOut) {
  opts.idle_time_out = 1000ms;
  Peer p(broker, opts);
  p.open();
  p.advance(1500ms);
  p.feed(std::string_view("\0\0\0\x08\x02\0\0\0", 8));  // an empty frame: alive
  p.advance(1999ms);
  EXPECT_FALSE(p.t.closed);
  p.advance(1ms);
  auto got = p.take();
  ASSERT_EQ(got.size(), 1u) << names(got);
  ASSERT_TRUE(got[0].as<Close>());
  EXPECT_EQ(got[0].as<Close>()->error->condition, amqp_error::kResourceLimitExceeded);
  EXPECT_TRUE(p.t.closed);
}

TEST_F(ConnectionTest, HandshakeTimeout) {
  Peer p(broker, opts);
  p.feed(kAmqpHeader);
  p.advance(opts.handshake_timeout);
  EXPECT_TRUE(p.t.closed);
}

TEST_F(ConnectionTest, SessionBeginAndEndBothWays) {
  Peer p(broker, opts);
  p.open();
  Begin b;
  b.next_outgoing_id = 7;
  b.incoming_window = 100;
  b.outgoing_window = 100;
  p.send(5, b);
  auto got = p.take();
  ASSERT_EQ(got.size(), 1u);
  auto* ours = got[0].as<Begin>();
  ASSERT_TRUE(ours);
  EXPECT_EQ(got[0].channel, 5);
  EXPECT_EQ(ours->remote_channel, 5);
  EXPECT_EQ(ours->incoming_window, opts.incoming_window);
  p.send(5, End{});
  got = p.take();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_TRUE(got[0].as<End>());
  // the channel is free again
  p.send(5, b);
  EXPECT_TRUE(p.take()[0].as<Begin>());
}

TEST_F(ConnectionTest, VhostFromHostname) {
  broker.add_vhost("other", start_time());
  Peer p(broker, opts);
  p.feed(kAmqpHeader);
  Open o;
  o.container_id = "c";
  o.hostname = "vhost:nope";
  p.send(0, o);
  auto got = p.take();
  ASSERT_TRUE(got.back().as<Close>());
  EXPECT_EQ(got.back().as<Close>()->error->condition, amqp_error::kNotFound);
}

}  // namespace
}  // namespace warren::amqp10::test
