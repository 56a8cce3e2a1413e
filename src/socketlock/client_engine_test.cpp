// The socketlock client engine, driven by strings and a fake clock; and the
// client engine against the real server engine over an in-memory wire.
#include "socketlock/client_engine.hpp"

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <set>

#include "socketlock/server.hpp"

using namespace std::chrono_literals;
using namespace warren;
using socketlock::ClientEngine;
using socketlock::ClientEvent;
using socketlock::SessionId;
using Kind = socketlock::ClientEvent::Kind;

namespace {

socketlock::ClientOptions client_options(std::string id) {
  socketlock::ClientOptions o;
  o.client_id = std::move(id);
  o.hello_timeout = 2s;
  o.status_interval = 10s;
  o.heartbeat = 30s;
  return o;
}

// The words of one output line, without its newline.
std::vector<std::string> words(const std::string& line) {
  std::string_view l(line);
  if (!l.empty() && l.back() == '\n') l.remove_suffix(1);
  std::vector<std::string> w;
  for (std::string_view x : socketlock::split_words(l)) w.emplace_back(x);
  return w;
}

std::vector<ClientEvent> events_of(ClientEngine& c) {
  std::vector<ClientEvent> ev;
  c.take_events(ev);
  return ev;
}

class ClientEngineTest : public ::testing::Test {
 protected:
  warren::TimePoint now = warren::TimePoint{} + 1h;
  ClientEngine c{client_options("a")};

  std::string take() { return std::exchange(c.output(), ""); }
  std::vector<ClientEvent> events() { return events_of(c); }
  void hear(const std::string& line) { c.feed(line + "\n", now); }
  void tick(warren::Duration d) {
    now += d;
    c.advance(now);
  }
  // Starts and answers HELLO in the seed dialect.
  void connect() {
    c.start(now);
    ASSERT_EQ(take(), "a HELLO\n");
    hear("a CONNECTED");
    auto ev = events();
    ASSERT_EQ(ev.size(), 1u);
    ASSERT_EQ(ev[0].kind, Kind::Ready);
  }
  // Acquires `token` in the seed dialect, ends with the lock held.
  void hold(locks::Mode mode, std::optional<std::chrono::seconds> ttl, locks::Token token) {
    ASSERT_TRUE(c.acquire(mode, ttl, now));
    take();
    std::string t = std::to_string(token);
    hear(std::string("a ") + (mode == locks::Mode::Shared ? "READLOCK " : "WRITELOCK ") + t);
    ASSERT_EQ(take(), "a CONFIRM " + t + "\n");
    hear("a LOCKOK " + t);
    auto ev = events();
    ASSERT_EQ(ev.size(), 1u);
    ASSERT_EQ(ev[0].kind, Kind::Acquired);
    ASSERT_TRUE(c.holding());
  }
  // Falls back to the Go dialect and is assigned `id`.
  void connect_go(const std::string& id) {
    c.start(now);
    ASSERT_EQ(take(), "a HELLO\n");
    tick(2s);
    ASSERT_EQ(take(), "HELLO\n");
    hear("CONNECTED " + id);
    auto ev = events();
    ASSERT_EQ(ev.size(), 1u);
    ASSERT_EQ(ev[0].kind, Kind::Ready);
  }
};

TEST_F(ClientEngineTest, HelloThenReady) {
  c.start(now);
  EXPECT_EQ(take(), "a HELLO\n");
  EXPECT_FALSE(c.ready());
  EXPECT_FALSE(c.acquire(locks::Mode::Exclusive, std::nullopt, now));  // not before the answer
  EXPECT_EQ(take(), "");
  hear("a CONNECTED");
  auto ev = events();
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].kind, Kind::Ready);
  EXPECT_TRUE(c.ready());
  EXPECT_FALSE(c.go_dialect());
  EXPECT_EQ(c.client_id(), "a");
  hear("a CONNECTED");  // a repeated answer is no second Ready
  EXPECT_TRUE(events().empty());
}

TEST_F(ClientEngineTest, LinesMaySplitAcrossReadsAndUseCrLf) {
  c.start(now);
  take();
  c.feed("a CONN", now);
  EXPECT_TRUE(events().empty());
  c.feed("ECTED\r\n", now);
  auto ev = events();
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].kind, Kind::Ready);
}

TEST_F(ClientEngineTest, AcquireWriteConfirmsTheOfferAndWaitsForLockOk) {
  connect();
  ASSERT_TRUE(c.acquire(locks::Mode::Exclusive, std::nullopt, now));
  EXPECT_EQ(take(), "a REQWRITE\n");
  EXPECT_TRUE(c.busy());
  hear("a WRITELOCK 100");
  EXPECT_EQ(take(), "a CONFIRM 100\n");
  EXPECT_TRUE(events().empty());  // not active until the server says so
  EXPECT_FALSE(c.holding());
  hear("a LOCKOK 100");
  auto ev = events();
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].kind, Kind::Acquired);
  EXPECT_EQ(ev[0].lock_id, "100");
  EXPECT_EQ(ev[0].token, 100u);
  EXPECT_EQ(ev[0].mode, locks::Mode::Exclusive);
  EXPECT_TRUE(c.holding());
  EXPECT_FALSE(c.busy());
}

TEST_F(ClientEngineTest, LockOkForAnotherTokenIsNotTheLock) {
  connect();
  hold(locks::Mode::Shared, std::nullopt, 7);
  c.release(now);
  take();
  ASSERT_TRUE(c.acquire(locks::Mode::Shared, std::nullopt, now));
  take();
  hear("a READLOCK 8");
  EXPECT_EQ(take(), "a CONFIRM 8\n");
  hear("a LOCKOK 7");  // a late answer to STATUS 7
  EXPECT_TRUE(events().empty());
  hear("a LOCKOK 8");
  auto ev = events();
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].token, 8u);
  EXPECT_EQ(ev[0].mode, locks::Mode::Shared);
}

TEST_F(ClientEngineTest, AcquireWithTtl) {
  connect();
  ASSERT_TRUE(c.acquire(locks::Mode::Shared, 5s, now));
  EXPECT_EQ(take(), "a REQREAD 5\n");
}

TEST_F(ClientEngineTest, SecondAcquireIsRefusedWhileBusyOrHolding) {
  connect();
  ASSERT_TRUE(c.acquire(locks::Mode::Exclusive, std::nullopt, now));
  take();
  EXPECT_FALSE(c.acquire(locks::Mode::Shared, std::nullopt, now));  // requested
  hear("a WRITELOCK 100");
  take();
  EXPECT_FALSE(c.acquire(locks::Mode::Shared, std::nullopt, now));  // confirming
  hear("a LOCKOK 100");
  events();
  EXPECT_FALSE(c.acquire(locks::Mode::Shared, std::nullopt, now));  // holding
  EXPECT_EQ(take(), "");
}

TEST_F(ClientEngineTest, ReleaseSendsReleaseAndAllowsANewAcquire) {
  connect();
  hold(locks::Mode::Exclusive, std::nullopt, 100);
  c.release(now);
  EXPECT_EQ(take(), "a RELEASE 100\n");
  EXPECT_FALSE(c.holding());
  hear("a RELEASED 100");
  EXPECT_TRUE(events().empty());
  c.release(now);  // nothing held: nothing sent
  EXPECT_EQ(take(), "");
  EXPECT_TRUE(c.acquire(locks::Mode::Exclusive, std::nullopt, now));
}

TEST_F(ClientEngineTest, ReqfailWhileRequestedFailsTheAcquire) {
  connect();
  ASSERT_TRUE(c.acquire(locks::Mode::Exclusive, std::nullopt, now));
  take();
  hear("a REQFAIL timeout waiting for lock");
  auto ev = events();
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].kind, Kind::AcquireFailed);
  EXPECT_EQ(ev[0].text, "timeout waiting for lock");
  EXPECT_EQ(ev[0].mode, locks::Mode::Exclusive);
  EXPECT_FALSE(c.busy());
  EXPECT_TRUE(c.acquire(locks::Mode::Exclusive, std::nullopt, now));
}

TEST_F(ClientEngineTest, ReqfailWhileConfirmingFailsTheAcquire) {
  connect();
  ASSERT_TRUE(c.acquire(locks::Mode::Shared, std::nullopt, now));
  hear("a READLOCK 100");
  take();
  hear("a REQFAIL timeout waiting for confirm");
  auto ev = events();
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].kind, Kind::AcquireFailed);
  EXPECT_EQ(ev[0].text, "timeout waiting for confirm");
  EXPECT_FALSE(c.busy());
  EXPECT_FALSE(c.holding());
  hear("a LOCKOK 100");  // too late: the attempt is over
  EXPECT_TRUE(events().empty());
  EXPECT_FALSE(c.holding());
}

TEST_F(ClientEngineTest, ReqfailWithNothingInFlightIsIgnored) {
  connect();
  hear("a REQFAIL invalid lock id");
  EXPECT_TRUE(events().empty());
  hold(locks::Mode::Exclusive, std::nullopt, 100);
  hear("a REQFAIL invalid lock id");
  EXPECT_TRUE(events().empty());
  EXPECT_TRUE(c.holding());
}

TEST_F(ClientEngineTest, StatusIsPolledWhileHolding) {
  connect();
  hold(locks::Mode::Exclusive, std::nullopt, 100);
  tick(9s);
  EXPECT_EQ(take(), "");
  tick(1s);
  EXPECT_EQ(take(), "a STATUS 100\n");
  hear("a LOCKOK 100");
  EXPECT_TRUE(events().empty());
  EXPECT_TRUE(c.holding());
  tick(9999ms);
  EXPECT_EQ(take(), "");
  tick(1ms);
  EXPECT_EQ(take(), "a STATUS 100\n");
  c.release(now);
  take();
  tick(10s);
  EXPECT_EQ(take(), "");  // no polling without a lock
}

TEST_F(ClientEngineTest, LockTimeoutForTheHeldLockLosesIt) {
  connect();
  hold(locks::Mode::Exclusive, std::nullopt, 100);
  hear("a LOCKTIMEOUT 99");  // another (older) lock of ours
  EXPECT_TRUE(events().empty());
  EXPECT_TRUE(c.holding());
  hear("a LOCKTIMEOUT 100");
  auto ev = events();
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].kind, Kind::Lost);
  EXPECT_EQ(ev[0].text, "lock expired");
  EXPECT_EQ(ev[0].lock_id, "100");
  EXPECT_EQ(ev[0].token, 100u);
  EXPECT_FALSE(c.holding());
  EXPECT_EQ(take(), "");
  EXPECT_TRUE(c.acquire(locks::Mode::Exclusive, std::nullopt, now));
}

TEST_F(ClientEngineTest, LocalTtlExpiryCountsFromConfirm) {
  connect();
  ASSERT_TRUE(c.acquire(locks::Mode::Shared, 5s, now));
  take();
  hear("a READLOCK 100");
  EXPECT_EQ(take(), "a CONFIRM 100\n");
  now += 1s;  // LOCKOK arrives a second later; the server's lease started at CONFIRM
  hear("a LOCKOK 100");
  events();
  ASSERT_EQ(c.next_deadline(), now + 4s);
  tick(3999ms);
  EXPECT_EQ(take(), "");
  EXPECT_TRUE(events().empty());
  tick(1ms);
  auto ev = events();
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].kind, Kind::Lost);
  EXPECT_EQ(ev[0].text, "lock ttl expired");
  EXPECT_EQ(ev[0].lock_id, "100");
  EXPECT_EQ(take(), "a RELEASE 100\n");
  EXPECT_FALSE(c.holding());
  hear("a LOCKTIMEOUT 100");  // the server's answer to that RELEASE
  EXPECT_TRUE(events().empty());
}

TEST_F(ClientEngineTest, TtlExpiryIsNoticedAfterALongStop) {
  // A SIGSTOPped process resumes an hour later and advances once.
  connect();
  hold(locks::Mode::Exclusive, 5s, 100);
  tick(1h);
  auto ev = events();
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].kind, Kind::Lost);
  EXPECT_EQ(ev[0].text, "lock ttl expired");
  EXPECT_EQ(take(), "a RELEASE 100\n");  // no STATUS for the dead lock, no PING
  EXPECT_FALSE(c.holding());
  EXPECT_TRUE(c.ready());
}

TEST_F(ClientEngineTest, PingAfterSilenceBothWays) {
  connect();
  tick(29s);
  EXPECT_EQ(take(), "");
  tick(1s);
  EXPECT_EQ(take(), "a PING\n");
  hear("a PONG");
  tick(29s);
  EXPECT_EQ(take(), "");
  tick(1s);
  EXPECT_EQ(take(), "a PING\n");
  EXPECT_TRUE(events().empty());
  EXPECT_TRUE(c.ready());
}

TEST_F(ClientEngineTest, NoPingWhileTrafficFlows) {
  connect();
  for (int i = 0; i < 10; ++i) {  // the server talks every 20 s
    tick(20s);
    hear("b SHOWEND 1 FIFO");  // any line is a sign of life, even one for another client
  }
  EXPECT_EQ(take(), "");
  for (int i = 0; i < 10; ++i) {  // we talk every 20 s
    tick(20s);
    c.eol(now);
  }
  EXPECT_EQ(take().find("PING"), std::string::npos);
}

TEST_F(ClientEngineTest, StatusPollingCountsAsTraffic) {
  connect();
  hold(locks::Mode::Exclusive, std::nullopt, 100);
  for (int i = 0; i < 10; ++i) {
    tick(10s);
    EXPECT_EQ(take(), "a STATUS 100\n");
    hear("a LOCKOK 100");
  }
}

TEST_F(ClientEngineTest, UnansweredPingBreaks) {
  connect();
  tick(30s);
  EXPECT_EQ(take(), "a PING\n");
  tick(29s);
  EXPECT_TRUE(events().empty());
  EXPECT_EQ(take(), "");
  tick(1s);
  auto ev = events();
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].kind, Kind::Broken);
  EXPECT_EQ(ev[0].text, "server unresponsive");
  EXPECT_FALSE(c.ready());
  EXPECT_FALSE(c.acquire(locks::Mode::Exclusive, std::nullopt, now));
}

TEST_F(ClientEngineTest, CancelWithdrawsTheRequest) {
  connect();
  EXPECT_FALSE(c.cancel(now));  // nothing to cancel
  EXPECT_EQ(take(), "");
  ASSERT_TRUE(c.acquire(locks::Mode::Exclusive, std::nullopt, now));
  take();
  EXPECT_TRUE(c.cancel(now));
  EXPECT_EQ(take(), "a CANCEL\n");
  EXPECT_TRUE(c.cancel(now));  // already cancelling: nothing more to send
  EXPECT_EQ(take(), "");
  EXPECT_FALSE(c.acquire(locks::Mode::Exclusive, std::nullopt, now));
  // Crossed on the wire with CANCEL: an offer and a failure, both ignored.
  hear("a WRITELOCK 100");
  EXPECT_EQ(take(), "");
  hear("a REQFAIL request cancelled");
  EXPECT_TRUE(events().empty());
  hear("a CANCELLED");
  auto ev = events();
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].kind, Kind::Cancelled);
  EXPECT_FALSE(c.busy());
  hear("a CANCELLED");  // nothing was cancelling
  EXPECT_TRUE(events().empty());
  EXPECT_TRUE(c.acquire(locks::Mode::Exclusive, std::nullopt, now));
  EXPECT_EQ(take(), "a REQWRITE\n");
}

TEST_F(ClientEngineTest, CancelAfterConfirmReleasesALockThatWasGrantedAnyway) {
  // CONFIRM and CANCEL cross LOCKOK on the wire: the server made the lock
  // active before it read CANCEL, which then had nothing to withdraw.
  connect();
  ASSERT_TRUE(c.acquire(locks::Mode::Exclusive, std::nullopt, now));
  take();
  hear("a WRITELOCK 100");
  EXPECT_EQ(take(), "a CONFIRM 100\n");
  EXPECT_TRUE(c.cancel(now));
  EXPECT_EQ(take(), "a CANCEL\n");
  hear("a LOCKOK 100");
  EXPECT_EQ(take(), "a RELEASE 100\n");  // nobody wants it any more
  EXPECT_TRUE(events().empty());
  EXPECT_FALSE(c.holding());
  hear("a CANCELLED");
  auto ev = events();
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].kind, Kind::Cancelled);
  hear("a RELEASED 100");
  EXPECT_TRUE(events().empty());
}

TEST_F(ClientEngineTest, CancelBeforeAnyOfferDoesNotReleaseAnOldToken) {
  connect();
  hold(locks::Mode::Exclusive, std::nullopt, 100);
  c.release(now);
  ASSERT_TRUE(c.acquire(locks::Mode::Exclusive, std::nullopt, now));
  ASSERT_TRUE(c.cancel(now));
  take();
  hear("a LOCKOK 100");  // a late STATUS answer about the old lock
  EXPECT_EQ(take(), "");
  hear("a CANCELLED");
  ASSERT_EQ(events().size(), 1u);
}

TEST_F(ClientEngineTest, GoFallbackAfterSilentHello) {
  c.start(now);
  EXPECT_EQ(take(), "a HELLO\n");
  tick(1999ms);
  EXPECT_EQ(take(), "");
  tick(1ms);
  EXPECT_EQ(take(), "HELLO\n");
  EXPECT_FALSE(c.ready());
  hear("CONNECTED c9");
  auto ev = events();
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].kind, Kind::Ready);
  EXPECT_TRUE(c.ready());
  EXPECT_TRUE(c.go_dialect());
  EXPECT_EQ(c.client_id(), "c9");

  ASSERT_TRUE(c.acquire(locks::Mode::Exclusive, std::nullopt, now));
  std::string req = take();
  ASSERT_EQ(req.rfind("c9 REQWRITE ", 0), 0u) << req;
  ASSERT_EQ(req.back(), '\n');
  std::string name = req.substr(12, req.size() - 13);
  ASSERT_FALSE(name.empty());
  EXPECT_EQ(name.find(' '), std::string::npos) << name;
  EXPECT_FALSE(c.cancel(now));  // the Go dialect cannot withdraw a request
  EXPECT_EQ(take(), "");
  hear("c9 WRITELOCK " + name + "x");  // not our name
  EXPECT_EQ(take(), "");
  hear("c9 WRITELOCK " + name);
  EXPECT_EQ(take(), "c9 CONFIRM " + name + "\n");
  ev = events();
  ASSERT_EQ(ev.size(), 1u);  // Go servers never acknowledge CONFIRM
  EXPECT_EQ(ev[0].kind, Kind::Acquired);
  EXPECT_EQ(ev[0].lock_id, name);
  EXPECT_EQ(ev[0].token, 0u);
  EXPECT_EQ(ev[0].mode, locks::Mode::Exclusive);
  EXPECT_TRUE(c.holding());
  tick(10s);
  EXPECT_EQ(take(), "c9 STATUS " + name + "\n");
  c.release(now);
  EXPECT_EQ(take(), "c9 RELEASE " + name + "\n");

  // Each request has a fresh name, with the TTL after it.
  ASSERT_TRUE(c.acquire(locks::Mode::Shared, 7s, now));
  req = take();
  ASSERT_EQ(req.rfind("c9 REQREAD ", 0), 0u) << req;
  auto w = words(req);
  ASSERT_EQ(w.size(), 4u) << req;
  EXPECT_NE(w[2], name);
  EXPECT_EQ(w[3], "7");
}

TEST_F(ClientEngineTest, GoDialectLockTimeoutLosesTheLock) {
  connect_go("c9");
  ASSERT_TRUE(c.acquire(locks::Mode::Shared, std::nullopt, now));
  std::string name = words(take()).at(2);
  hear("c9 READLOCK " + name);
  take();
  events();
  hear("c9 LOCKTIMEOUT " + name);
  auto ev = events();
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].kind, Kind::Lost);
  EXPECT_EQ(ev[0].lock_id, name);
}

TEST_F(ClientEngineTest, GoDialectLateConfirmLosesTheLock) {
  // Go servers are silent on a good CONFIRM and say REQFAIL on a late one.
  connect_go("c9");
  ASSERT_TRUE(c.acquire(locks::Mode::Exclusive, std::nullopt, now));
  std::string name = words(take()).at(2);
  hear("c9 WRITELOCK " + name);
  take();
  ASSERT_EQ(events().at(0).kind, Kind::Acquired);
  hear("c9 REQFAIL timeout waiting for confirm");
  auto ev = events();
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].kind, Kind::Lost);
  EXPECT_FALSE(c.holding());
}

TEST_F(ClientEngineTest, NoAnswerToEitherHelloBreaks) {
  c.start(now);
  take();
  tick(2s);
  EXPECT_EQ(take(), "HELLO\n");
  tick(1999ms);
  EXPECT_TRUE(events().empty());
  tick(1ms);
  auto ev = events();
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].kind, Kind::Broken);
  EXPECT_FALSE(c.ready());
  EXPECT_FALSE(c.next_deadline());
}

TEST_F(ClientEngineTest, LateSeedAnswerAfterFallbackKeepsTheSeedDialect) {
  // The server was merely slow: "<id> CONNECTED" arrives after the bare
  // HELLO went out. It speaks the seed dialect, so we must too.
  c.start(now);
  take();
  tick(2s);
  EXPECT_EQ(take(), "HELLO\n");
  hear("a CONNECTED");
  auto ev = events();
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].kind, Kind::Ready);
  EXPECT_FALSE(c.go_dialect());
  EXPECT_EQ(c.client_id(), "a");
  hear("CONNECTED a");  // a Warren server's answer to the bare HELLO: too late to matter
  EXPECT_TRUE(events().empty());
  EXPECT_FALSE(c.go_dialect());
  ASSERT_TRUE(c.acquire(locks::Mode::Exclusive, std::nullopt, now));
  EXPECT_EQ(take(), "a REQWRITE\n");
}

TEST_F(ClientEngineTest, LinesForOtherClientsAreIgnored) {
  c.start(now);
  take();
  hear("b CONNECTED");
  EXPECT_TRUE(events().empty());
  EXPECT_FALSE(c.ready());
  hear("a CONNECTED");
  events();
  ASSERT_TRUE(c.acquire(locks::Mode::Exclusive, std::nullopt, now));
  take();
  hear("b WRITELOCK 100");
  hear("b REQFAIL timeout waiting for lock");
  hear("ab WRITELOCK 100");
  hear("WRITELOCK 100");
  EXPECT_EQ(take(), "");
  EXPECT_TRUE(events().empty());
  EXPECT_TRUE(c.busy());
  hear("a WRITELOCK 100");
  take();
  hear("b LOCKOK 100");
  EXPECT_TRUE(events().empty());
  hear("a LOCKOK 100");
  events();
  hear("b LOCKTIMEOUT 100");
  EXPECT_TRUE(events().empty());
  EXPECT_TRUE(c.holding());
  hear("CONNECTED x");  // a Go welcome after we are connected changes nothing
  EXPECT_EQ(c.client_id(), "a");
  EXPECT_FALSE(c.go_dialect());
}

TEST_F(ClientEngineTest, OverlongLineBreaks) {
  connect();
  c.feed(std::string(socketlock::kMaxLine + 1, 'x'), now);
  auto ev = events();
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].kind, Kind::Broken);
  EXPECT_FALSE(c.ready());
  hear("a CONNECTED");  // nothing more is read
  EXPECT_TRUE(events().empty());
}

TEST_F(ClientEngineTest, OverlongTerminatedLineBreaks) {
  connect();
  hear("a SHOWEND " + std::string(socketlock::kMaxLine, '9'));
  auto ev = events();
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].kind, Kind::Broken);
}

TEST_F(ClientEngineTest, ShowLines) {
  connect();
  ASSERT_TRUE(c.show(now));
  EXPECT_EQ(take(), "a SHOW\n");
  hear("a HOLDER 100 read a 0 30000");
  hear("a SHOWEND 101 WriterPreferred");
  auto ev = events();
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_EQ(ev[0].kind, Kind::Show);
  EXPECT_EQ(ev[0].text, "HOLDER 100 read a 0 30000");
  EXPECT_EQ(ev[1].kind, Kind::ShowEnd);
  EXPECT_EQ(ev[1].text, "101 WriterPreferred");
}

TEST_F(ClientEngineTest, NextDeadline) {
  EXPECT_FALSE(c.next_deadline());
  c.start(now);
  EXPECT_EQ(c.next_deadline(), now + 2s);
  hear("a CONNECTED");
  EXPECT_EQ(c.next_deadline(), now + 30s);  // heartbeat
  events();
  hold(locks::Mode::Exclusive, 25s, 100);
  EXPECT_EQ(c.next_deadline(), now + 10s);  // status poll
  tick(20s);
  EXPECT_EQ(c.next_deadline(), now + 5s);  // ttl, before the next poll at +10 s
}

// ---------------------------------------------------------------------------
// Client engines against the real server engine: the two must agree.

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
