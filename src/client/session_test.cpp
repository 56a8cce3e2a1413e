// Session, the connection level: handshake and tuning, heartbeats, backoff,
// blocked/unblocked and protocol errors (refused logins and closes are
// session_close_test.cpp's). A fake broker (client/testing/fake_broker.hpp)
// plays the other side; no socket, no clock.
#include "client/session.hpp"

#include <gtest/gtest.h>

#include "client/testing/fake_broker.hpp"

namespace warren::client {
namespace {

using testing::EventLog;
using testing::FakeBroker;
using testing::on;
using testing::Sent;
namespace a = warren::amqp091;

// What the connection-level events reported.
TEST(ClientSessionHandshake, StartOkTuneOkOpenAndOpenedEvent) {
  EventLog ev;
  Session s({.user = "alice", .password = "pw", .vhost = "prod", .heartbeat_s = 30, .frame_max = 65536},
            ev.events());
  FakeBroker b(s);
  EXPECT_TRUE(s.wants_transport(b.now));
  EXPECT_EQ(s.state(), Session::State::Idle);
  std::vector<Sent> sent = b.handshake(/*heartbeat=*/60, /*frame_max=*/131072);
  EXPECT_TRUE(b.saw_protocol_header);
  ASSERT_EQ(testing::method_names(sent),
            (std::vector<std::string>{"0:connection.start-ok", "0:connection.tune-ok", "0:connection.open"}));
  auto* start_ok = sent[0].as<a::ConnectionStartOk>();
  EXPECT_EQ(start_ok->mechanism, "PLAIN");
  EXPECT_EQ(start_ok->response, std::string_view("\0alice\0pw", 9));
  std::string_view props(reinterpret_cast<const char*>(start_ok->client_properties.bytes().data()),
                         start_ok->client_properties.bytes().size());
  EXPECT_NE(props.find("publisher_confirms"), std::string_view::npos);
  EXPECT_NE(props.find("warren-client"), std::string_view::npos);
  auto* tune_ok = sent[1].as<a::ConnectionTuneOk>();
  EXPECT_EQ(tune_ok->heartbeat, 30);
  EXPECT_EQ(tune_ok->frame_max, 65536u);
  EXPECT_EQ(sent[2].as<a::ConnectionOpen>()->virtual_host, "prod");
  EXPECT_EQ(s.heartbeat(), 30);
  EXPECT_EQ(s.frame_max(), 65536u);
  // Open as soon as open-ok came: nothing to recover in the first epoch.
  EXPECT_EQ(s.state(), Session::State::Open);
  EXPECT_EQ(s.epoch(), 1u);
  EXPECT_TRUE(s.ever_opened());
  EXPECT_TRUE(b.take().empty());
  b.run();
  EXPECT_EQ(ev.opened, (std::vector<uint64_t>{1}));
  EXPECT_FALSE(s.wants_transport(b.now + std::chrono::hours(1)));
}

TEST(ClientSessionHandshake, NoOpenedEventBeforeOpenOk) {
  EventLog ev;
  Session s({}, ev.events());
  FakeBroker b(s);
  s.transport_up(b.now);
  b.take();
  b.send(0, a::ConnectionStart{});
  b.send(0, a::ConnectionTune{.frame_max = 131072});
  b.take();
  b.run();
  EXPECT_EQ(s.state(), Session::State::Handshake);
  EXPECT_TRUE(ev.opened.empty());
}

struct TuneCase {
  uint16_t ours_hb, theirs_hb, want_hb;
  uint32_t ours_fm, theirs_fm, want_fm;
};

class ClientSessionTune : public ::testing::TestWithParam<TuneCase> {};

TEST_P(ClientSessionTune, Negotiates) {
  TuneCase t = GetParam();
  Session s({.heartbeat_s = t.ours_hb, .frame_max = t.ours_fm});
  FakeBroker b(s);
  std::vector<Sent> sent = b.handshake(t.theirs_hb, t.theirs_fm);
  ASSERT_EQ(sent.size(), 3u);
  auto* tune_ok = sent[1].as<a::ConnectionTuneOk>();
  ASSERT_NE(tune_ok, nullptr);
  EXPECT_EQ(tune_ok->heartbeat, t.want_hb);
  EXPECT_EQ(tune_ok->frame_max, t.want_fm);
  EXPECT_EQ(s.heartbeat(), t.want_hb);
  EXPECT_EQ(s.frame_max(), t.want_fm);
}

INSTANTIATE_TEST_SUITE_P(Cases, ClientSessionTune,
                         ::testing::Values(TuneCase{60, 0, 60, 131072, 0, 131072},      // broker: no opinion
                                           TuneCase{0, 60, 0, 131072, 131072, 131072},  // we ask for none
                                           TuneCase{10, 60, 10, 8192, 131072, 8192},    // ours lower
                                           TuneCase{60, 10, 10, 131072, 4096, 4096},    // theirs lower
                                           TuneCase{60, 60, 60, 0, 65536, 65536},       // we: no limit
                                           TuneCase{60, 60, 60, 0, 0, 131072}));        // neither

TEST(ClientSessionHandshake, PublishIsCutAtTheNegotiatedFrameMax) {
  Session s({.frame_max = 131072});
  FakeBroker b(s);
  b.connect(0, 4096);
  uint16_t ch = testing::open_served_channel(b, false);
  std::string body(10000, 'x');
  s.publish(ch, {.exchange = "ex", .routing_key = "rk", .body = body}, nullptr);
  std::vector<Sent> out = b.take();
  ASSERT_EQ(out.size(), 5u);  // method, header, three bodies
  EXPECT_TRUE(out[0].is<a::BasicPublish>());
  EXPECT_EQ(out[1].type, a::kFrameHeader);
  EXPECT_EQ(out[2].payload->size(), 4088u);
  EXPECT_EQ(out[3].payload->size(), 4088u);
  EXPECT_EQ(out[4].payload->size(), 10000u - 2 * 4088);
}

TEST(ClientSessionHandshake, BrokerAnsweringWithAProtocolHeaderDropsTheTransport) {
  Session s({});
  FakeBroker b(s);
  s.transport_up(b.now);
  b.take();
  b.feed(std::string_view("AMQP\0\0\x09\x01", 8));
  EXPECT_TRUE(s.wants_transport_closed());
}

TEST(ClientSessionHandshake, SilentBrokerTimesOutAfterTenSeconds) {
  Session s({});
  FakeBroker b(s);
  s.transport_up(b.now);
  b.take();
  ASSERT_TRUE(s.next_deadline().has_value());
  EXPECT_EQ(*s.next_deadline(), b.now + std::chrono::seconds(10));
  s.tick(b.now + std::chrono::milliseconds(9999));
  EXPECT_FALSE(s.wants_transport_closed());
  s.tick(b.now + std::chrono::seconds(10));
  EXPECT_TRUE(s.wants_transport_closed());
}

// ---- heartbeats

TEST(ClientSessionHeartbeat, SentAfterHalfTheIntervalWithoutOutput) {
  Session s({.heartbeat_s = 10});
  FakeBroker b(s);
  b.connect(10);
  TimePoint t0 = b.now;
  ASSERT_TRUE(s.next_deadline().has_value());
  EXPECT_EQ(*s.next_deadline(), t0 + std::chrono::seconds(5));
  s.tick(t0 + std::chrono::milliseconds(4999));
  EXPECT_FALSE(s.has_output());
  s.tick(t0 + std::chrono::seconds(5));
  b.now = t0 + std::chrono::seconds(5);
  std::vector<Sent> out = b.take();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].type, a::kFrameHeartbeat);
  EXPECT_EQ(out[0].channel, 0);
  // The next one is due half an interval after that output.
  s.tick(t0 + std::chrono::seconds(9));
  EXPECT_FALSE(s.has_output());
  s.tick(t0 + std::chrono::seconds(10));
  EXPECT_TRUE(s.has_output());
  EXPECT_FALSE(s.wants_transport_closed());
}

TEST(ClientSessionHeartbeat, OtherOutputCountsAsLiveness) {
  Session s({.heartbeat_s = 10});
  FakeBroker b(s);
  b.connect(10);
  uint16_t ch = testing::open_served_channel(b, false);
  TimePoint t0 = b.now;
  b.now = t0 + std::chrono::seconds(4);
  s.publish(ch, {.exchange = "", .routing_key = "q", .body = "x"}, nullptr);
  b.take();
  s.tick(t0 + std::chrono::seconds(5));
  EXPECT_FALSE(s.has_output()) << "a heartbeat 1 s after a publish";
  s.tick(t0 + std::chrono::seconds(9));
  EXPECT_TRUE(s.has_output());
}

TEST(ClientSessionHeartbeat, TwoIntervalsWithoutInputWantTheTransportClosed) {
  EventLog ev;
  Session s({.heartbeat_s = 10}, ev.events());
  FakeBroker b(s);
  b.connect(10);
  TimePoint t0 = b.now;
  // Input at +15 s keeps it alive until +35 s.
  b.now = t0 + std::chrono::seconds(15);
  std::string hb;
  a::append_heartbeat(hb);
  b.feed(hb);
  s.tick(t0 + std::chrono::seconds(34));
  EXPECT_FALSE(s.wants_transport_closed());
  s.tick(t0 + std::chrono::seconds(35));
  ASSERT_TRUE(s.wants_transport_closed());
  EXPECT_NE(s.drop_reason()->text.find("heartbeat"), std::string::npos);
  s.transport_down(t0 + std::chrono::seconds(35), *s.drop_reason());  // as the driver does
  b.run();
  EXPECT_EQ(s.state(), Session::State::Idle);
  ASSERT_EQ(ev.lost.size(), 1u);
  EXPECT_NE(ev.lost[0].text.find("heartbeat"), std::string::npos);
}

TEST(ClientSessionHeartbeat, NoneNegotiatedNoneSentOrExpected) {
  Session s({.heartbeat_s = 0});
  FakeBroker b(s);
  b.connect(60);
  EXPECT_FALSE(s.next_deadline().has_value());
  s.tick(b.now + std::chrono::hours(1));
  EXPECT_FALSE(s.has_output());
  EXPECT_FALSE(s.wants_transport_closed());
}

// ---- reconnection backoff

// The delay the session waits before it wants a transport again.
std::chrono::milliseconds backoff_delay(Session& s, TimePoint now) {
  auto d = s.next_deadline();
  EXPECT_TRUE(d.has_value());
  if (!d) return {};
  auto delay = std::chrono::duration_cast<std::chrono::milliseconds>(*d - now);
  EXPECT_FALSE(s.wants_transport(now));
  EXPECT_FALSE(s.wants_transport(*d - std::chrono::milliseconds(1)));
  EXPECT_TRUE(s.wants_transport(*d));
  return delay;
}

std::vector<std::chrono::milliseconds> backoff_run(uint64_t seed) {
  Session s({.backoff_min = std::chrono::milliseconds(100), .backoff_max = std::chrono::milliseconds(800), .seed = seed});
  FakeBroker b(s);
  b.connect();
  s.transport_down(b.now, {0, "connection reset"});
  std::vector<std::chrono::milliseconds> delays;
  for (int i = 0; i < 6; ++i) {
    auto d = backoff_delay(s, b.now);
    delays.push_back(d);
    b.now += d;
    s.connect_failed(b.now, {0, "connection refused"});
    EXPECT_EQ(s.state(), Session::State::Idle);
  }
  // Back in: the next loss starts from the minimum again.
  b.now = *s.next_deadline();
  b.connect();
  EXPECT_EQ(s.state(), Session::State::Open);
  s.transport_down(b.now, {0, "connection reset"});
  delays.push_back(backoff_delay(s, b.now));
  return delays;
}

TEST(ClientSessionBackoff, JitteredDoublingUpToTheMaximum) {
  using std::chrono::milliseconds;
  std::vector<milliseconds> d = backoff_run(42);
  ASSERT_EQ(d.size(), 7u);
  const int64_t ceilings[] = {100, 200, 400, 800, 800, 800, 100};
  for (size_t i = 0; i < d.size(); ++i) {
    EXPECT_GE(d[i].count(), ceilings[i] / 2) << i;
    EXPECT_LE(d[i].count(), ceilings[i]) << i;
  }
  // The same seed, the same delays.
  EXPECT_EQ(backoff_run(42), d);
}

TEST(ClientSessionBackoff, FirstConnectFailureClosesForGood) {
  EventLog ev;
  Session s({}, ev.events());
  FakeBroker b(s);
  s.connect_failed(b.now, {0, "connection refused"});
  b.run();
  EXPECT_EQ(s.state(), Session::State::Closed);
  EXPECT_FALSE(s.wants_transport(b.now + std::chrono::hours(1)));
  ASSERT_EQ(ev.closed.size(), 1u);
  EXPECT_EQ(ev.closed[0].text, "connection refused");
}

TEST(ClientSessionBackoff, NoRecoveryWhenDisabled) {
  Session s({.recover = false});
  FakeBroker b(s);
  b.connect();
  s.transport_down(b.now, {0, "reset"});
  EXPECT_EQ(s.state(), Session::State::Closed);
  EXPECT_FALSE(s.wants_transport(b.now + std::chrono::hours(1)));
}

// ---- connection.blocked, protocol errors

TEST(ClientSessionConnection, BlockedAndUnblockedEvents) {
  EventLog ev;
  Session s({}, ev.events());
  FakeBroker b(s);
  b.connect();
  b.send(0, a::ConnectionBlocked{.reason = "low on memory"});
  b.run();
  EXPECT_EQ(ev.blocked, (std::vector<std::string>{"low on memory"}));
  EXPECT_EQ(ev.unblocked, 0);
  b.send(0, a::ConnectionUnblocked{});
  b.run();
  EXPECT_EQ(ev.unblocked, 1);
  EXPECT_FALSE(s.wants_transport_closed());
}

TEST(ClientSessionConnection, HandshakeMethodsAfterOpenAreAProtocolError) {
  std::vector<std::string> wires = {FakeBroker::frame(0, a::ConnectionStart{}),
                                    FakeBroker::frame(0, a::ConnectionTune{.frame_max = 8192, .heartbeat = 5}),
                                    FakeBroker::frame(0, a::ConnectionOpenOk{})};
  for (const std::string& wire : wires) {
    Session s({.heartbeat_s = 0});
    FakeBroker b(s);
    b.connect();
    uint32_t frame_max = s.frame_max();
    b.feed(wire);
    std::vector<Sent> out = b.take();
    ASSERT_EQ(testing::method_names(out), (std::vector<std::string>{"0:connection.close"}));
    EXPECT_EQ(out[0].as<a::ConnectionClose>()->reply_code, 503);
    EXPECT_TRUE(s.wants_transport_closed());
    EXPECT_EQ(s.drop_reason()->code, 503);
    EXPECT_EQ(s.frame_max(), frame_max);
    EXPECT_EQ(s.state(), Session::State::Open);
  }
}

}  // namespace
}  // namespace warren::client
