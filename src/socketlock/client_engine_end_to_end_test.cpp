// Client engines against the real server engine over an in-memory wire:
// the two must agree on contention, TTL expiry, cancel (also crossing
// LOCKOK), and the Go-dialect fallback.
#include "socketlock/client_engine_test_fixture.hpp"

#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <utility>

#include "socketlock/server.hpp"

namespace warren::socketlock::test {
namespace {

struct Wire : socketlock::SessionIo {
  std::map<SessionId, std::string> to_client;
  std::set<SessionId> closed;
  void send(SessionId s, std::string_view b) override { to_client[s] += b; }
  void close(SessionId s) override { closed.insert(s); }
};

class EndToEndTest : public ::testing::Test {
 protected:
  static socketlock::ServerOptions server_options() {
    socketlock::ServerOptions o;
    o.lock.policy = locks::Policy::WriterPreferred;
    o.lock.request_timeout = 60s;
    o.lock.confirm_timeout = 5s;
    o.hello_timeout = 5s;
    return o;
  }
  warren::TimePoint now = warren::TimePoint{} + 1h;
  Wire wire;
  socketlock::Server server{server_options(), 100, wire};
  std::map<SessionId, std::unique_ptr<ClientEngine>> clients;

  // Opens session `s` and starts a client on it; its HELLO is not yet sent.
  ClientEngine& open(SessionId s, const std::string& id) {
    server.open(s, now);
    auto& c = clients[s] = std::make_unique<ClientEngine>(client_options(id));
    c->start(now);
    return *c;
  }
  ClientEngine& connect(SessionId s, const std::string& id) {
    ClientEngine& c = open(s, id);
    pump();
    EXPECT_TRUE(c.ready());
    EXPECT_FALSE(c.go_dialect());
    return c;
  }
  // Moves bytes both ways until nothing moves.
  void pump() {
    for (int round = 0;; ++round) {
      ASSERT_LT(round, 100) << "the engines keep talking";
      bool moved = false;
      for (auto& [s, c] : clients) {
        if (!c->output().empty()) {
          server.feed(s, std::exchange(c->output(), ""), now);
          moved = true;
        }
        if (std::string& in = wire.to_client[s]; !in.empty()) {
          c->feed(std::exchange(in, ""), now);
          moved = true;
        }
      }
      if (!moved) return;
    }
  }
  void tick(warren::Duration d) {
    now += d;
    server.advance(now);
    for (auto& [s, c] : clients) c->advance(now);
    pump();
  }
  static std::vector<ClientEvent> events(ClientEngine& c) { return events_of(c); }
  static void expect_acquired(ClientEngine& c, locks::Token token) {
    auto ev = events(c);
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_EQ(ev[0].kind, Kind::Acquired);
    EXPECT_EQ(ev[0].token, token);
    EXPECT_TRUE(c.holding());
  }
  void expect_holder(SessionId s, locks::Token token) {
    locks::Snapshot snap = server.lock().snapshot();
    ASSERT_EQ(snap.holders.size(), 1u);
    EXPECT_EQ(snap.holders[0].owner, s);
    EXPECT_EQ(snap.holders[0].token, token);
  }
};

TEST_F(EndToEndTest, TwoClientsContendForAWriteLock) {
  ClientEngine& a = connect(1, "a");
  ClientEngine& b = connect(2, "b");
  events(a);
  events(b);
  ASSERT_TRUE(a.acquire(locks::Mode::Exclusive, std::nullopt, now));
  pump();
  expect_acquired(a, 100);
  ASSERT_TRUE(b.acquire(locks::Mode::Exclusive, std::nullopt, now));
  pump();
  EXPECT_TRUE(events(b).empty());
  EXPECT_TRUE(b.busy());
  tick(10s);  // both poll or wait; a's lock stays
  EXPECT_TRUE(events(a).empty());
  EXPECT_TRUE(a.holding());
  a.release(now);
  pump();
  expect_acquired(b, 101);
  expect_holder(2, 101);
  EXPECT_TRUE(events(a).empty());
  tick(40s);  // heartbeats and polls are answered: nobody breaks
  EXPECT_TRUE(events(a).empty());
  EXPECT_TRUE(events(b).empty());
  EXPECT_TRUE(a.ready());
  EXPECT_TRUE(b.holding());
}

TEST_F(EndToEndTest, TtlExpiryIsSeenByTheHolderAndPassesTheLockOn) {
  ClientEngine& a = connect(1, "a");
  ClientEngine& b = connect(2, "b");
  events(a);
  events(b);
  ASSERT_TRUE(a.acquire(locks::Mode::Exclusive, 15s, now));
  pump();
  expect_acquired(a, 100);
  ASSERT_TRUE(b.acquire(locks::Mode::Shared, std::nullopt, now));
  pump();
  tick(15s);
  auto ev = events(a);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].kind, Kind::Lost);
  expect_acquired(b, 101);
  EXPECT_TRUE(events(a).empty());  // the server's LOCKTIMEOUT for the RELEASE changes nothing
}

TEST_F(EndToEndTest, CancelOfAQueuedRequestThenAcquireAgain) {
  ClientEngine& a = connect(1, "a");
  ClientEngine& b = connect(2, "b");
  events(a);
  events(b);
  ASSERT_TRUE(a.acquire(locks::Mode::Exclusive, std::nullopt, now));
  pump();
  expect_acquired(a, 100);
  ASSERT_TRUE(b.acquire(locks::Mode::Exclusive, std::nullopt, now));
  pump();
  ASSERT_TRUE(b.cancel(now));
  pump();
  auto ev = events(b);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].kind, Kind::Cancelled);
  a.release(now);
  pump();
  EXPECT_TRUE(events(b).empty());
  EXPECT_TRUE(server.lock().snapshot().holders.empty());
  ASSERT_TRUE(b.acquire(locks::Mode::Exclusive, std::nullopt, now));
  pump();
  expect_acquired(b, 101);
}

TEST_F(EndToEndTest, CancelCrossingLockOkDoesNotLeakTheLock) {
  ClientEngine& a = connect(1, "a");
  ClientEngine& b = connect(2, "b");
  events(a);
  events(b);
  ASSERT_TRUE(a.acquire(locks::Mode::Exclusive, std::nullopt, now));
  server.feed(1, std::exchange(a.output(), ""), now);
  a.feed(std::exchange(wire.to_client[1], ""), now);  // the offer; a confirms
  ASSERT_TRUE(a.cancel(now));                          // and cancels before LOCKOK
  pump();
  auto ev = events(a);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].kind, Kind::Cancelled);
  EXPECT_FALSE(a.holding());
  EXPECT_TRUE(server.lock().snapshot().holders.empty());
  ASSERT_TRUE(b.acquire(locks::Mode::Exclusive, std::nullopt, now));
  pump();
  expect_acquired(b, 101);
}

TEST_F(EndToEndTest, GoDialectFallbackAgainstTheServer) {
  // The test plays a Go server for a moment: it drops "<id> HELLO", so the
  // client falls back to a bare HELLO, which the server answers in kind.
  ClientEngine& a = open(1, "a");
  ASSERT_EQ(std::exchange(a.output(), ""), "a HELLO\n");
  ClientEngine& b = connect(2, "b");
  events(b);
  tick(2s);
  ASSERT_TRUE(a.ready());
  ASSERT_TRUE(a.go_dialect());
  EXPECT_NE(a.client_id(), "a");
  EXPECT_FALSE(a.client_id().empty());
  auto ev = events(a);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].kind, Kind::Ready);

  ASSERT_TRUE(a.acquire(locks::Mode::Exclusive, 60s, now));
  pump();
  ev = events(a);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].kind, Kind::Acquired);
  EXPECT_EQ(ev[0].token, 0u);
  EXPECT_FALSE(ev[0].lock_id.empty());
  expect_holder(1, 100);  // the server took the silent CONFIRM

  ASSERT_TRUE(b.acquire(locks::Mode::Exclusive, std::nullopt, now));
  pump();
  tick(10s);  // a polls STATUS by name; the server says LOCKOK
  tick(10s);
  EXPECT_TRUE(events(a).empty());
  EXPECT_TRUE(a.holding());
  EXPECT_TRUE(events(b).empty());
  a.release(now);
  pump();
  expect_acquired(b, 101);
  EXPECT_TRUE(events(a).empty());  // the release was silent and nothing failed

  // A second Go-dialect lock with a TTL; expiry is noticed on both sides.
  b.release(now);
  pump();
  ASSERT_TRUE(a.acquire(locks::Mode::Shared, 5s, now));
  pump();
  ev = events(a);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].kind, Kind::Acquired);
  tick(5s);
  ev = events(a);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].kind, Kind::Lost);
  EXPECT_TRUE(server.lock().snapshot().holders.empty());
  tick(1s);
  EXPECT_TRUE(events(a).empty());
  EXPECT_TRUE(wire.closed.empty());
}

TEST_F(EndToEndTest, SlowSeedAnswerAfterFallback) {
  // The server answers "<id> HELLO" only after the bare HELLO went out.
  ClientEngine& a = open(1, "a");
  a.advance(now + 2s);
  now += 2s;
  pump();
  ASSERT_TRUE(a.ready());
  EXPECT_EQ(a.client_id(), "a");
  EXPECT_FALSE(a.go_dialect());
  events(a);
  ASSERT_TRUE(a.acquire(locks::Mode::Exclusive, std::nullopt, now));
  pump();
  expect_acquired(a, 100);
}

}  // namespace
}  // namespace warren::socketlock::test
