// Session, the end of things: refused logins, the application's close, and
// what a session closing for good (or an epoch ending) owes the callbacks
// still waiting: each runs once, with the error.
#include <gtest/gtest.h>

#include "client/session.hpp"
#include "client/testing/fake_broker.hpp"

namespace warren::client {
namespace {

using testing::EventLog;
using testing::FakeBroker;
using testing::on;
using testing::Sent;
namespace a = warren::amqp091;

// ---- refused logins

void refuse_login(FakeBroker& b, uint16_t code) {
  b.s.transport_up(b.now);
  b.take();
  b.send(0, a::ConnectionStart{});
  b.take();
  b.send(0, a::ConnectionTune{.frame_max = 131072});
  b.take();
  b.send(0, a::ConnectionClose{.reply_code = code, .reply_text = "ACCESS_REFUSED - Login was refused"});
  std::vector<Sent> out = b.take();
  ASSERT_EQ(testing::method_names(out), (std::vector<std::string>{"0:connection.close-ok"}));
  EXPECT_TRUE(b.s.wants_transport_closed());
  b.s.transport_down(b.now, {0, "end of file"});
}

TEST(ClientSessionLogin, RefusedAtFirstConnectIsClosed) {
  EventLog ev;
  Session s({}, ev.events());
  FakeBroker b(s);
  refuse_login(b, 403);
  b.run();
  EXPECT_EQ(s.state(), Session::State::Closed);
  ASSERT_TRUE(s.closed_reason().has_value());
  EXPECT_EQ(s.closed_reason()->code, 403);
  ASSERT_EQ(ev.closed.size(), 1u);
  EXPECT_EQ(ev.closed[0].code, 403);
  EXPECT_FALSE(s.wants_transport(b.now + std::chrono::hours(1)));
  EXPECT_FALSE(s.next_deadline().has_value());
}

TEST(ClientSessionLogin, RefusedOnReconnectIsClosedWithoutRetrying) {
  EventLog ev;
  Session s({.seed = 1}, ev.events());
  FakeBroker b(s);
  b.connect();
  uint16_t ch = testing::open_served_channel(b, true);
  s.transport_down(b.now, {0, "reset"});
  b.now = *s.next_deadline();
  ASSERT_TRUE(s.wants_transport(b.now));
  refuse_login(b, 403);
  b.run();
  EXPECT_EQ(s.state(), Session::State::Closed);
  EXPECT_EQ(s.closed_reason()->code, 403);
  EXPECT_EQ(ev.closed.size(), 1u);
  for (int i = 1; i <= 10; ++i) EXPECT_FALSE(s.wants_transport(b.now + std::chrono::seconds(i)));
  try {
    s.publish(ch, {.routing_key = "q", .body = "x"}, nullptr);
    ADD_FAILURE() << "publish on a closed session";
  } catch (const ClientError& e) {
    EXPECT_EQ(e.error().code, 403);
  }
  EXPECT_FALSE(s.has_output());
}

TEST(ClientSessionLogin, BrokerWithoutPlainIsClosedForGood) {
  Session s({.seed = 2});
  FakeBroker b(s);
  b.connect();
  s.transport_down(b.now, {0, "reset"});
  b.now = *s.next_deadline();
  s.transport_up(b.now);
  b.take();
  b.send(0, a::ConnectionStart{.mechanisms = "AMQPLAIN EXTERNAL"});
  EXPECT_TRUE(b.take().empty()) << "a start-ok for a mechanism the broker does not offer";
  ASSERT_TRUE(s.wants_transport_closed());
  s.transport_down(b.now, *s.drop_reason());
  EXPECT_EQ(s.state(), Session::State::Closed);
  EXPECT_NE(s.closed_reason()->text.find("PLAIN"), std::string::npos);
  EXPECT_FALSE(s.wants_transport(b.now + std::chrono::hours(1)));
}

TEST(ClientSessionLogin, OtherCloseDuringAReconnectHandshakeRetries) {
  Session s({.seed = 1});
  FakeBroker b(s);
  b.connect();
  s.transport_down(b.now, {0, "reset"});
  b.now = *s.next_deadline();
  refuse_login(b, 320);  // CONNECTION_FORCED: the broker is going down, not a refusal
  EXPECT_EQ(s.state(), Session::State::Idle);
  ASSERT_TRUE(s.next_deadline().has_value());
  EXPECT_TRUE(s.wants_transport(*s.next_deadline()));
}

TEST(ClientSessionConnection, CloseByTheApplication) {
  EventLog ev;
  Session s({}, ev.events());
  FakeBroker b(s);
  b.connect();
  int done = 0;
  std::optional<Error> result{Error{1, "not called"}};
  s.close([&](const std::optional<Error>& e) {
    ++done;
    result = e;
  });
  std::vector<Sent> out = b.serve();
  ASSERT_EQ(testing::method_names(out), (std::vector<std::string>{"0:connection.close"}));
  EXPECT_EQ(out[0].as<a::ConnectionClose>()->reply_code, 200);
  EXPECT_TRUE(s.wants_transport_closed());
  s.transport_down(b.now, {0, "eof"});
  b.run();
  EXPECT_EQ(s.state(), Session::State::Closed);
  EXPECT_EQ(done, 1);
  EXPECT_FALSE(result.has_value());
  EXPECT_EQ(s.closed_reason()->code, 200);
  EXPECT_TRUE(ev.lost.empty());
  EXPECT_EQ(ev.closed.size(), 1u);
  EXPECT_FALSE(s.wants_transport(b.now + std::chrono::hours(1)));
}

// A handshake method once the connection is open is a broken broker: not
// answered (which would tune again, or recover a second time) but refused.

// A channel whose first open is still to come when the session closes for
// good hears so: its open callback fails, once.
enum class ClosedBy { FirstConnectFailed, LoginRefusedOnReconnect, ApplicationWhileIdle };

class ClientPendingOpenOnFinalClose : public ::testing::TestWithParam<ClosedBy> {};

TEST_P(ClientPendingOpenOnFinalClose, OpenCallbackFailsOnce) {
  Session s({.seed = 9});
  FakeBroker b(s);
  if (GetParam() != ClosedBy::FirstConnectFailed) {
    b.connect();
    s.transport_down(b.now, {0, "reset"});
  }
  std::vector<std::optional<Error>> results;
  uint16_t ch = s.open_channel({}, [&](const std::optional<Error>& e) { results.push_back(e); });
  switch (GetParam()) {
    case ClosedBy::FirstConnectFailed: s.connect_failed(b.now, {0, "connection refused"}); break;
    case ClosedBy::LoginRefusedOnReconnect:
      b.now = *s.next_deadline();
      s.transport_up(b.now);
      b.take();
      b.send(0, a::ConnectionStart{});
      b.send(0, a::ConnectionTune{.frame_max = 131072});
      b.send(0, a::ConnectionClose{.reply_code = 403, .reply_text = "ACCESS_REFUSED"});
      s.transport_down(b.now, {0, "eof"});
      break;
    case ClosedBy::ApplicationWhileIdle: s.close(nullptr); break;
  }
  b.run();
  EXPECT_EQ(s.state(), Session::State::Closed);
  ASSERT_EQ(results.size(), 1u) << "the channel's open callback never ran";
  ASSERT_TRUE(results[0].has_value());
  EXPECT_EQ(results[0]->code, GetParam() == ClosedBy::LoginRefusedOnReconnect   ? 403
                              : GetParam() == ClosedBy::ApplicationWhileIdle ? 200
                                                                              : 0);
  EXPECT_FALSE(s.channel_open(ch));
  s.close(nullptr);
  b.run();
  EXPECT_EQ(results.size(), 1u);
}

INSTANTIATE_TEST_SUITE_P(Ways, ClientPendingOpenOnFinalClose,
                         ::testing::Values(ClosedBy::FirstConnectFailed, ClosedBy::LoginRefusedOnReconnect,
                                           ClosedBy::ApplicationWhileIdle));

TEST(ClientRecovery, CallsInFlightFailOnceWhenTheTransportGoes) {
  Session s({.seed = 10});
  FakeBroker b(s);
  b.connect();
  uint16_t ch = testing::open_served_channel(b, false);
  std::vector<std::optional<Error>> qos_done;
  std::vector<std::optional<Error>> get_done;
  s.qos(ch, 5, [&](const std::optional<Error>& e) { qos_done.push_back(e); });
  s.get(ch, "q", false, [&](const std::optional<Error>& e, std::optional<Delivery>&&) { get_done.push_back(e); });
  EXPECT_EQ(b.take().size(), 1u);  // the get waits behind the qos
  s.transport_down(b.now, {0, "reset"});
  b.run();
  ASSERT_EQ(qos_done.size(), 1u);
  ASSERT_EQ(get_done.size(), 1u);
  EXPECT_TRUE(qos_done[0].has_value());
  EXPECT_TRUE(get_done[0].has_value());
  // The failed qos is not replayed: the channel comes back without it.
  b.now = *s.next_deadline();
  std::vector<Sent> out = b.connect();
  std::vector<std::string> names = testing::method_names(out);
  ASSERT_FALSE(names.empty());
  EXPECT_EQ(names.back(), on(ch, "channel.open"));
  b.run();
  EXPECT_EQ(qos_done.size(), 1u);
  EXPECT_EQ(get_done.size(), 1u);
}

}  // namespace
}  // namespace warren::client
