// The socketlock client engine in the seed dialect, driven by strings and a
// fake clock: HELLO, acquire and release, REQFAIL, status polling, the
// lock's expiry (LOCKTIMEOUT and the local TTL), heartbeats, and cancel.
#include "socketlock/client_engine_test_fixture.hpp"

namespace warren::socketlock::test {
namespace {

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

}  // namespace
}  // namespace warren::socketlock::test
