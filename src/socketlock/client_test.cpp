// The client library against a real primary in this process: threads and
// Unix sockets, no other processes (tests/integration has those).
#include "socketlock/client.hpp"

#include <gtest/gtest.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <future>
#include <thread>

using namespace std::chrono_literals;
using namespace warren;
using socketlock::Client;
using socketlock::LockConfig;

namespace {

class ClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/warren-client-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir = tmpl;
    path = dir + "/s.sock";
  }
  void TearDown() override {
    unlink((path + ".lock").c_str());
    rmdir(dir.c_str());
  }
  LockConfig config() {
    LockConfig c;
    c.request_timeout = 2s;
    c.confirm_timeout = 2s;
    c.max_ttl = 30s;
    return c;
  }
  std::string dir, path;
};

TEST_F(ClientTest, FirstClientBecomesPrimaryAndOthersJoinIt) {
  auto a = Client::connect(path, config());
  EXPECT_TRUE(a->is_primary());
  auto b = Client::connect(path, config());
  EXPECT_FALSE(b->is_primary());
  EXPECT_NE(a->client_id(), b->client_id());
  b->close();
  a->close();
}

TEST_F(ClientTest, WriteLocksExcludeEachOtherAndTokensIncrease) {
  auto a = Client::connect(path, config());
  auto b = Client::connect(path, config());
  socketlock::Lock la = a->acquire_write();
  EXPECT_TRUE(la.valid());
  auto fb = std::async(std::launch::async, [&] { return b->acquire_write(); });
  EXPECT_EQ(fb.wait_for(200ms), std::future_status::timeout);
  locks::Token first = la.token();
  la.release();
  socketlock::Lock lb = fb.get();
  EXPECT_GT(lb.token(), first);
  lb.release();
  b->close();
  a->close();
}

TEST_F(ClientTest, LockDescriptorsKeepTheLockPastTheClient) {
  auto a = Client::connect(path, config());  // the primary
  std::vector<int> afds = a->lock_descriptors();
  EXPECT_EQ(afds.size(), 2u) << "its connection and its claim on the path";
  for (int fd : afds) {
    EXPECT_GE(fd, 3);
    EXPECT_EQ(::fcntl(fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
    ::close(fd);
  }
  auto b = Client::connect(path, config());
  auto c = Client::connect(path, config());
  socketlock::Lock lb = b->acquire_write();
  std::vector<int> bfds = b->lock_descriptors();
  ASSERT_EQ(bfds.size(), 1u) << "a client of another primary: its connection only";
  b.reset();  // drops b's connection (no EOL, no RELEASE), but the duplicate holds it open
  EXPECT_FALSE(lb.valid());
  EXPECT_THROW(c->acquire_write({.timeout = 500ms}), socketlock::Error);
  ::close(bfds[0]);  // the last holder: the primary sees the connection close
  socketlock::Lock lc = c->acquire_write({.timeout = 2s});
  EXPECT_TRUE(lc.valid());
  lc.release();
  c->close();
  a->close();
}

TEST_F(ClientTest, NestedAcquisitionsShareOneLockUntilTheLastRelease) {
  auto a = Client::connect(path, config());
  auto b = Client::connect(path, config());
  socketlock::Lock outer = a->acquire_write();
  socketlock::Lock inner = a->acquire_read();  // covered by the write lock: counts
  EXPECT_EQ(inner.token(), outer.token());
  outer.release();
  EXPECT_TRUE(inner.valid());
  EXPECT_THROW(b->acquire_write({.timeout = 300ms}), socketlock::Error);  // still held
  inner.release();
  socketlock::Lock lb = b->acquire_write({.timeout = 2s});
  EXPECT_TRUE(lb.valid());
  lb.release();
  b->close();
  a->close();
}

TEST_F(ClientTest, UpgradingAReadLockIsRefused) {
  auto a = Client::connect(path, config());
  socketlock::Lock r = a->acquire_read();
  try {
    a->acquire_write();
    FAIL() << "upgrade accepted";
  } catch (const socketlock::Error& e) {
    EXPECT_STREQ(e.what(), "socketlock: lock upgrade not supported");
  }
  r.release();
  a->close();
}

TEST_F(ClientTest, OneAcquireInFlightPerClient) {
  auto a = Client::connect(path, config());
  auto b = Client::connect(path, config());
  socketlock::Lock held = a->acquire_write();
  auto first = std::async(std::launch::async, [&] { return b->acquire_write({.timeout = 3s}); });
  std::this_thread::sleep_for(100ms);
  try {
    b->acquire_read();
    FAIL() << "second concurrent acquire accepted";
  } catch (const socketlock::Error& e) {
    EXPECT_STREQ(e.what(), "socketlock: multiple lock requests");
  }
  held.release();
  first.get().release();
  b->close();
  a->close();
}

TEST_F(ClientTest, ReqfailReasonsReachTheCaller) {
  auto a = Client::connect(path, config());
  try {
    a->acquire_write({.ttl = 60s});
    FAIL();
  } catch (const socketlock::Error& e) {
    EXPECT_EQ(e.reason(), "timeout too long");
    EXPECT_STREQ(e.what(), "socketlock: timeout too long");
  }
  auto b = Client::connect(path, config());
  socketlock::Lock held = a->acquire_write();
  try {
    b->acquire_write();  // the primary's request timeout is 2 s
    FAIL();
  } catch (const socketlock::Error& e) {
    EXPECT_EQ(e.reason(), "timeout waiting for lock");
  }
  held.release();
  b->close();
  a->close();
}

TEST_F(ClientTest, LocalTimeoutCancelsAndTheClientStaysUsable) {
  auto a = Client::connect(path, config());
  auto b = Client::connect(path, config());
  socketlock::Lock held = a->acquire_write();
  EXPECT_THROW(b->acquire_write({.timeout = 200ms}), socketlock::Error);
  held.release();
  // The cancelled request must not have left a queued request behind.
  socketlock::Lock lb = b->acquire_write({.timeout = 2s});
  EXPECT_TRUE(lb.valid());
  lb.release();
  b->close();
  a->close();
}

TEST_F(ClientTest, TtlExpiryIsSeenByTheHolderAndFreesTheLock) {
  LockConfig c = config();
  c.status_interval = 200ms;
  auto a = Client::connect(path, c);
  auto b = Client::connect(path, c);
  std::atomic<int> lost{0};
  a->on_lost([&](locks::Token, const std::string&) { ++lost; });
  socketlock::Lock la = a->acquire_write({.ttl = 1s});
  EXPECT_TRUE(la.valid());
  socketlock::Lock lb = b->acquire_write({.timeout = 3s});  // granted once a's TTL passes
  EXPECT_FALSE(la.valid());
  EXPECT_THROW(la.check(), socketlock::LockLost);
  EXPECT_GT(lb.token(), la.token());
  for (int i = 0; i < 50 && lost == 0; ++i) std::this_thread::sleep_for(20ms);
  EXPECT_EQ(lost, 1);
  la.release();
  lb.release();
  b->close();
  a->close();
}

TEST_F(ClientTest, CloseWaitsForHeldLocks) {
  auto a = Client::connect(path, config());
  socketlock::Lock l = a->acquire_write();
  std::atomic<bool> closed{false};
  std::thread t([&] {
    a->close();
    closed = true;
  });
  std::this_thread::sleep_for(200ms);
  EXPECT_FALSE(closed);
  l.release();
  t.join();
  EXPECT_TRUE(closed);
}

TEST_F(ClientTest, LosingThePrimaryMarksLocksLostAndTheSurvivorTakesOver) {
  auto primary = Client::connect(path, config());
  ASSERT_TRUE(primary->is_primary());
  auto b = Client::connect(path, config());
  socketlock::Lock lb = b->acquire_read();
  locks::Token before = lb.token();
  primary.reset();  // no close(): the primary goes away without a word
  for (int i = 0; i < 100 && lb.valid(); ++i) std::this_thread::sleep_for(10ms);
  EXPECT_FALSE(lb.valid());
  EXPECT_EQ(lb.lost_reason(), "connection to the primary lost");
  lb.release();
  socketlock::Lock again = b->acquire_write({.timeout = 5s});  // served by b itself after the jitter
  EXPECT_GT(again.token() >> 32, before >> 32);                // a new epoch
  EXPECT_TRUE(b->is_primary());
  again.release();
  b->close();
}

TEST_F(ClientTest, ShowListsTheHolder) {
  auto a = Client::connect(path, config());
  socketlock::Lock l = a->acquire_write();
  std::vector<std::string> lines = a->show();
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0].rfind("HOLDER " + std::to_string(l.token()) + " write " + a->client_id(), 0), 0u) << lines[0];
  EXPECT_EQ(lines[1].rfind("SHOWEND", 0), 0u);
  l.release();
  a->close();
}

TEST_F(ClientTest, ConnectWithoutPrimaryAndNoRightToBecomeOneFails) {
  LockConfig c = config();
  c.may_become_primary = false;
  c.connect_timeout = 300ms;
  EXPECT_THROW(Client::connect(path, c), socketlock::Error);
}

}  // namespace
