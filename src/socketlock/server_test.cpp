// The socketlock server engine, driven by strings and a fake clock.
#include "socketlock/server.hpp"

#include <gtest/gtest.h>

#include <map>

using namespace std::chrono_literals;
using namespace warren;
using socketlock::SessionId;

namespace {

struct FakeTransport : socketlock::SessionIo {
  std::map<SessionId, std::string> out;
  std::map<SessionId, bool> closed;
  void send(SessionId s, std::string_view b) override { out[s] += b; }
  void close(SessionId s) override { closed[s] = true; }
};

class ServerTest : public ::testing::Test {
 protected:
  static socketlock::ServerOptions options() {
    socketlock::ServerOptions o;
    o.lock.policy = locks::Policy::WriterPreferred;
    o.lock.request_timeout = 5s;
    o.lock.confirm_timeout = 2s;
    o.lock.max_ttl = 60s;
    o.hello_timeout = 3s;
    return o;
  }
  FakeTransport t;
  warren::TimePoint now = warren::TimePoint{} + 1h;
  socketlock::Server server{options(), 100, t};

  // Opens session `s`, says `<id> HELLO`, and expects CONNECTED.
  void hello(SessionId s, const std::string& id) {
    server.open(s, now);
    say(s, id + " HELLO");
    ASSERT_EQ(take(s), id + " CONNECTED\n");
  }
  // The Go dialect's bare HELLO: returns the id the server assigned.
  std::string go_hello(SessionId s) {
    server.open(s, now);
    say(s, "HELLO");
    std::string reply = take(s);
    EXPECT_EQ(reply.rfind("CONNECTED ", 0), 0u) << reply;
    return reply.size() > 11 ? reply.substr(10, reply.size() - 11) : std::string();
  }
  void say(SessionId s, const std::string& line) { server.feed(s, line + "\n", now); }
  std::string take(SessionId s) { return std::exchange(t.out[s], ""); }
  void tick(warren::Duration d) {
    now += d;
    server.advance(now);
  }
};

TEST_F(ServerTest, SeedDialectAcquireConfirmStatusRelease) {
  hello(1, "a");
  say(1, "a REQWRITE");
  EXPECT_EQ(take(1), "a WRITELOCK 100\n");
  say(1, "a CONFIRM 100");
  EXPECT_EQ(take(1), "a LOCKOK 100\n");
  say(1, "a STATUS 100");
  EXPECT_EQ(take(1), "a LOCKOK 100\n");
  say(1, "a RELEASE 100");
  EXPECT_EQ(take(1), "a RELEASED 100\n");
  say(1, "a STATUS 100");
  EXPECT_EQ(take(1), "a LOCKTIMEOUT 100\n");
  say(1, "a PING");
  EXPECT_EQ(take(1), "a PONG\n");
}

TEST_F(ServerTest, RepliesEchoTheClientsOwnId) {
  hello(1, "proc-7f3a");
  say(1, "proc-7f3a REQREAD 10");
  EXPECT_EQ(take(1), "proc-7f3a READLOCK 100\n");
}

TEST_F(ServerTest, GoDialectBareHelloAssignsIdAndNamesLocks) {
  std::string id = go_hello(1);
  ASSERT_FALSE(id.empty());
  say(1, id + " REQREAD lx1 5");
  EXPECT_EQ(take(1), id + " READLOCK lx1\n");
  say(1, id + " CONFIRM lx1");
  EXPECT_EQ(take(1), "");  // Go servers are silent on success
  say(1, id + " STATUS lx1");
  EXPECT_EQ(take(1), id + " LOCKOK lx1\n");
  say(1, id + " RELEASE lx1");
  EXPECT_EQ(take(1), "");
  say(1, id + " STATUS lx1");
  EXPECT_EQ(take(1), id + " LOCKTIMEOUT lx1\n");
}

TEST_F(ServerTest, GoDialectLoneNumberIsALockName) {
  std::string id = go_hello(1);
  ASSERT_FALSE(id.empty());
  say(1, id + " REQWRITE 42");
  EXPECT_EQ(take(1), id + " WRITELOCK 42\n");
}

TEST_F(ServerTest, SeedDialectRefusesAnyArgumentThatIsNotATtl) {
  // The seed: "<id> REQREAD [seconds]". After "<id> HELLO" a word that is
  // not a whole positive number of seconds is an invalid TTL, never a lock
  // name (names are the Go dialect's, after a bare HELLO).
  hello(1, "a");
  for (const char* verb : {"REQREAD", "REQWRITE"}) {
    for (const char* arg : {"-5", "abc", "1.5", "5 extra", "+5", "5s", "0x10", "1e3", "0", "-0",
                            "99999999999999999999", "18446744073709551616",
                            "123456789012345678901234567890", "lab12 7", "7 7"}) {
      say(1, std::string("a ") + verb + " " + arg);
      EXPECT_EQ(take(1), "a REQFAIL invalid ttl\n") << verb << " " << arg;
    }
  }
  // Nothing was queued by the refusals: a valid request is served at once.
  say(1, "a REQWRITE 007");
  EXPECT_EQ(take(1), "a WRITELOCK 100\n");
  say(1, "a CONFIRM 100");
  EXPECT_EQ(take(1), "a LOCKOK 100\n");
  EXPECT_EQ(server.lock().snapshot().holders.size(), 1u);
  // A number too large for any lease, yet a number: too long, not invalid.
  hello(2, "b");
  say(2, "b REQREAD 9999999999999999999");
  EXPECT_EQ(take(2), "b REQFAIL timeout too long\n");
}

TEST_F(ServerTest, SeedDialectInvalidTtlLeavesAHeldLockAlone) {
  hello(1, "a");
  say(1, "a REQWRITE 10");
  say(1, "a CONFIRM 100");
  take(1);
  say(1, "a REQREAD -5");
  EXPECT_EQ(take(1), "a REQFAIL invalid ttl\n");
  say(1, "a STATUS -5");
  EXPECT_EQ(take(1), "a REQFAIL invalid lock id\n");  // no lock of that name was made
  say(1, "a STATUS 100");
  EXPECT_EQ(take(1), "a LOCKOK 100\n");
}

TEST_F(ServerTest, GoDialectStillNamesItsLocks) {
  std::string id = go_hello(1);
  ASSERT_FALSE(id.empty());
  say(1, id + " REQREAD -5");
  EXPECT_EQ(take(1), id + " READLOCK -5\n");  // a name, as the Go server takes it
  say(1, id + " CONFIRM -5");
  say(1, id + " RELEASE -5");
  EXPECT_EQ(take(1), "");
  say(1, id + " REQWRITE abc 3");
  EXPECT_EQ(take(1), id + " WRITELOCK abc\n");
  say(1, id + " CONFIRM abc");
  say(1, id + " RELEASE abc");
  EXPECT_EQ(take(1), "");
  for (const char* bad : {"x -5", "x 1.5", "x abc", "x 0", "x 99999999999999999999", "x 5 extra"}) {
    say(1, id + " REQREAD " + bad);
    EXPECT_EQ(take(1), id + " REQFAIL invalid ttl\n") << bad;
  }
}

TEST_F(ServerTest, ReqfailReasons) {
  hello(1, "a");
  say(1, "a REQREAD 61");
  EXPECT_EQ(take(1), "a REQFAIL timeout too long\n");
  say(1, "a REQREAD 0");
  EXPECT_EQ(take(1), "a REQFAIL invalid ttl\n");
  say(1, "a REQREAD x y");
  EXPECT_EQ(take(1), "a REQFAIL invalid ttl\n");
  say(1, "a CONFIRM 12345");
  EXPECT_EQ(take(1), "a REQFAIL invalid lock id\n");
  say(1, "a RELEASE nonsense");
  EXPECT_EQ(take(1), "a REQFAIL invalid lock id\n");
  say(1, "a FROB");
  EXPECT_EQ(take(1), "a REQFAIL unknown command\n");
  say(1, "a REQREAD");
  take(1);
  say(1, "a REQWRITE");
  EXPECT_EQ(take(1), "a REQFAIL multiple lock requests\n");
}

TEST_F(ServerTest, CommandsBeforeHelloAndForeignIdsAreRefused) {
  server.open(1, now);
  say(1, "a REQWRITE");
  EXPECT_EQ(take(1), "a REQFAIL hello required\n");
  say(1, "a HELLO");
  take(1);
  say(1, "b REQWRITE");
  EXPECT_EQ(take(1), "b REQFAIL client id mismatch\n");
  say(1, "garbage");
  EXPECT_EQ(take(1), "- REQFAIL malformed command\n");
}

TEST_F(ServerTest, OtherClientsLockIdsAreInvalidAndUndisturbed) {
  hello(1, "a");
  hello(2, "b");
  say(1, "a REQWRITE");
  say(1, "a CONFIRM 100");
  take(1);
  for (const char* cmd : {"CONFIRM", "RELEASE", "STATUS", "REJECT"}) {
    say(2, std::string("b ") + cmd + " 100");
    EXPECT_EQ(take(2), "b REQFAIL invalid lock id\n") << cmd;
  }
  say(1, "a STATUS 100");
  EXPECT_EQ(take(1), "a LOCKOK 100\n");
}

TEST_F(ServerTest, OfferBlocksOthersUntilConfirmed) {
  hello(1, "a");
  hello(2, "b");
  say(1, "a REQREAD");
  EXPECT_EQ(take(1), "a READLOCK 100\n");
  say(2, "b REQREAD");
  EXPECT_EQ(take(2), "");  // blocked by a's outstanding offer
  say(1, "a CONFIRM 100");
  EXPECT_EQ(take(2), "b READLOCK 101\n");
}

TEST_F(ServerTest, ConfirmTimeoutInformsTheClientAndPassesTheLockOn) {
  hello(1, "a");
  hello(2, "b");
  say(1, "a REQWRITE");
  say(2, "b REQWRITE");
  EXPECT_EQ(take(1), "a WRITELOCK 100\n");
  tick(2s);
  EXPECT_EQ(take(1), "a REQFAIL timeout waiting for confirm\n");
  EXPECT_EQ(take(2), "b WRITELOCK 101\n");
  say(1, "a CONFIRM 100");
  EXPECT_EQ(take(1), "a REQFAIL timeout waiting for confirm\n");
}

TEST_F(ServerTest, RequestTimeout) {
  hello(1, "a");
  hello(2, "b");
  say(1, "a REQWRITE");
  say(1, "a CONFIRM 100");
  take(1);
  say(2, "b REQREAD");
  tick(4999ms);
  EXPECT_EQ(take(2), "");
  tick(1ms);
  EXPECT_EQ(take(2), "b REQFAIL timeout waiting for lock\n");
}

TEST_F(ServerTest, RejectAnswersWithReqfailAndFreesTheOffer) {
  hello(1, "a");
  hello(2, "b");
  say(1, "a REQWRITE");
  say(2, "b REQWRITE");
  take(1);
  say(1, "a REJECT 100");
  EXPECT_EQ(take(1), "a REQFAIL offer rejected\n");
  EXPECT_EQ(take(2), "b WRITELOCK 101\n");
}

TEST_F(ServerTest, TtlExpiryIsSilentAndSeenThroughStatus) {
  hello(1, "a");
  say(1, "a REQWRITE 3");
  say(1, "a CONFIRM 100");
  take(1);
  tick(3s);
  EXPECT_EQ(take(1), "");  // the server does not initiate messages for TTL expiry
  say(1, "a STATUS 100");
  EXPECT_EQ(take(1), "a LOCKTIMEOUT 100\n");
  say(1, "a RELEASE 100");  // a late release is answered, not an error
  EXPECT_EQ(take(1), "a LOCKTIMEOUT 100\n");
}

TEST_F(ServerTest, CancelWithdrawsAQueuedRequest) {
  hello(1, "a");
  hello(2, "b");
  say(1, "a REQWRITE");
  say(1, "a CONFIRM 100");
  say(2, "b REQWRITE");
  say(2, "b CANCEL");
  EXPECT_EQ(take(2), "b CANCELLED\n");
  say(1, "a RELEASE 100");
  EXPECT_EQ(take(2), "");  // nothing offered to b any more
  say(2, "b REQREAD");
  EXPECT_EQ(take(2), "b READLOCK 101\n");
}

TEST_F(ServerTest, DisconnectReleasesLocksAndOffersToTheNext) {
  hello(1, "a");
  hello(2, "b");
  say(1, "a REQWRITE");
  say(1, "a CONFIRM 100");
  say(2, "b REQWRITE");
  EXPECT_EQ(take(2), "");
  server.closed(1, now);
  EXPECT_EQ(take(2), "b WRITELOCK 101\n");
}

TEST_F(ServerTest, EolClosesTheSessionWithoutReplyAndReleases) {
  hello(1, "a");
  hello(2, "b");
  say(1, "a REQWRITE");
  say(1, "a CONFIRM 100");
  take(1);
  say(2, "b REQWRITE");
  say(1, "a EOL");
  EXPECT_EQ(take(1), "");
  EXPECT_TRUE(t.closed[1]);
  EXPECT_EQ(take(2), "b WRITELOCK 101\n");
}

TEST_F(ServerTest, SilentConnectionIsClosedAfterHelloTimeout) {
  server.open(1, now);
  ASSERT_TRUE(server.next_deadline());
  tick(3s);
  EXPECT_EQ(take(1), "- REQFAIL hello timeout\n");
  EXPECT_TRUE(t.closed[1]);
  EXPECT_EQ(server.sessions(), 0u);
}

TEST_F(ServerTest, OverlongLineClosesOnlyThatConnection) {
  hello(1, "a");
  hello(2, "b");
  say(2, "b REQWRITE");
  say(2, "b CONFIRM 100");
  take(2);
  server.feed(1, std::string(5000, 'x'), now);
  EXPECT_EQ(take(1), "a REQFAIL line too long (max 4096 bytes)\n");
  EXPECT_TRUE(t.closed[1]);
  say(2, "b STATUS 100");
  EXPECT_EQ(take(2), "b LOCKOK 100\n");
}

TEST_F(ServerTest, LinesMaySplitAcrossReadsAndUseCrLf) {
  hello(1, "a");
  server.feed(1, "a PI", now);
  EXPECT_EQ(take(1), "");
  server.feed(1, "NG\r\na PING\n", now);
  EXPECT_EQ(take(1), "a PONG\na PONG\n");
}

TEST_F(ServerTest, ShowListsHoldersOfferAndWaiters) {
  hello(1, "a");
  hello(2, "b");
  hello(3, "c");
  say(1, "a REQREAD 30");
  say(1, "a CONFIRM 100");
  say(2, "b REQWRITE");
  say(3, "c SHOW");
  EXPECT_EQ(take(3),
            "c HOLDER 100 read a 0 30000\n"
            "c WAITER write b 0 5000\n"
            "c SHOWEND 101 WriterPreferred\n");
}

}  // namespace
