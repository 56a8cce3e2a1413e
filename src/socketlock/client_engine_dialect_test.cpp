// The socketlock client engine's fallback to the Go dialect (a bare HELLO
// after a silent one, lock names instead of tokens) and a late seed answer;
// then what else it reads: lines for other clients, overlong lines, SHOW
// output; and when it next needs advancing.
#include "socketlock/client_engine_test_fixture.hpp"

#include <string>

#include "socketlock/protocol.hpp"

namespace warren::socketlock::test {
namespace {

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

}  // namespace
}  // namespace warren::socketlock::test
