#include "net/listener.hpp"

#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <vector>

#include "net/socket.hpp"
#include "net/test_util.hpp"

namespace warren::net {
namespace {

using namespace testing;

TEST(Listener, TcpOnEphemeralPortEchoes) {
  EventLoop loop;
  Echo echo;
  std::vector<std::unique_ptr<Socket>> accepted;
  auto l = Listener::tcp(loop, "127.0.0.1", 0, [&](int fd) { accepted.push_back(Socket::adopt(loop, fd, &echo)); });
  ASSERT_NE(l->port(), 0);

  int fd = Socket::connect_tcp("127.0.0.1", l->port());
  ASSERT_GE(fd, 0) << std::strerror(errno);
  Recorder rec;
  auto client = Socket::adopt(loop, fd, &rec);
  const std::string msg = pattern(300000);  // several reads and writes on the way
  client->send(msg);
  EXPECT_TRUE(run_until(loop, [&] { return rec.data.size() >= msg.size(); }));
  EXPECT_TRUE(rec.data == msg);
  EXPECT_EQ(accepted.size(), 1u);

  client->close();
  EXPECT_TRUE(run_until(loop, [&] { return rec.closes == 1 && echo.closes == 1; }));
}

TEST(Listener, ConnectTcpToClosedPortFails) {
  EventLoop loop;
  uint16_t port;
  {
    auto l = Listener::tcp(loop, "127.0.0.1", 0, [](int fd) { ::close(fd); });
    port = l->port();
  }
  EXPECT_EQ(Socket::connect_tcp("127.0.0.1", port), -1);
  EXPECT_EQ(errno, ECONNREFUSED);
}

TEST(Listener, UnixSocketDoesNotUnlinkExistingFile) {
  EventLoop loop;
  TempDir dir;
  const std::string path = dir.file("taken.sock");
  std::ofstream(path) << "someone else's";
  try {
    Listener::unix_socket(loop, path, [](int) {});
    FAIL() << "bind over an existing file must fail";
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code().value(), EADDRINUSE);
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
  }
  EXPECT_TRUE(std::filesystem::exists(path));
}

TEST(Listener, DestructionLeavesSocketFileForTheCaller) {
  EventLoop loop;
  TempDir dir;
  const std::string path = dir.file("mine.sock");
  Listener::unix_socket(loop, path, [](int) {}).reset();
  EXPECT_TRUE(std::filesystem::exists(path));
  EXPECT_EQ(Socket::connect_unix(path), -1);
  EXPECT_EQ(errno, ECONNREFUSED);
}

TEST(Listener, AcceptsManyPendingConnections) {
  EventLoop loop;
  TempDir dir;
  const std::string path = dir.file("many.sock");
  int accepted = 0;
  auto l = Listener::unix_socket(loop, path, [&](int fd) {
    ++accepted;
    ::close(fd);
  });
  std::vector<int> fds;
  for (int i = 0; i < 200; ++i) fds.push_back(Socket::connect_unix(path));
  EXPECT_TRUE(run_until(loop, [&] { return accepted == 200; }));
  for (int fd : fds) ::close(fd);
}

TEST(Listener, BacksOffInsteadOfSpinningWhenOutOfFds) {
  EventLoop loop;
  TempDir dir;
  const std::string path = dir.file("full.sock");
  int accepted = 0;
  auto l = Listener::unix_socket(loop, path, [&](int fd) {
    ++accepted;
    ::close(fd);
  });
  // One normal accept first: UBSan's vptr check needs a free fd the first
  // time it sees a call site, and there will be none below.
  int first = Socket::connect_unix(path);
  ASSERT_TRUE(run_until(loop, [&] { return accepted == 1; }));
  int client = Socket::connect_unix(path);
  ASSERT_GE(client, 0);

  rlimit old{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &old), 0);
  rlimit low = old;
  low.rlim_cur = 256;
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &low), 0);
  std::vector<int> filler;  // use up every descriptor so accept4 fails with EMFILE
  for (int fd; (fd = ::dup(0)) >= 0;) filler.push_back(fd);
  uint64_t t0 = loop.turns();
  run_for(loop, 50ms);
  uint64_t turns = loop.turns() - t0;
  for (int fd : filler) ::close(fd);
  setrlimit(RLIMIT_NOFILE, &old);

  EXPECT_EQ(accepted, 1);
  EXPECT_LT(turns, 10u);  // a level-triggered listener would otherwise wake every turn
  EXPECT_TRUE(run_until(loop, [&] { return accepted == 2; }));  // resumes after the back-off
  ::close(client);
  ::close(first);
}

}  // namespace
}  // namespace warren::net
