// A graceful close must never cost the peer our last bytes: with unread
// input, close() sends RST, which the peer reads as ECONNRESET instead of
// our reply (net/linger.hpp). These tests fail without the lingering close.
#include "net/linger.hpp"

#include <gtest/gtest.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <functional>
#include <thread>

#include "net/listener.hpp"
#include "net/test_util.hpp"

namespace warren::net {
namespace {

using namespace std::chrono_literals;
using namespace testing;

// What a blocking client saw: its write's errno (0: all written), the bytes
// it read, and how the read ended (0: EOF; else errno).
struct PeerView {
  int write_errno = -1;
  std::string read;
  int read_end = -1;
};

// Writes `burst` (blocking, with MSG_NOSIGNAL), then reads to the end.
PeerView burst_then_read(int fd, const std::string& burst, bool keep_open = false) {
  PeerView v;
  size_t off = 0;
  v.write_errno = 0;
  while (off < burst.size()) {
    ssize_t n = ::send(fd, burst.data() + off, burst.size() - off, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      v.write_errno = errno;
      break;
    }
    off += static_cast<size_t>(n);
  }
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n > 0) {
      v.read.append(buf, static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    v.read_end = n == 0 ? 0 : errno;
    break;
  }
  if (!keep_open) ::close(fd);
  return v;
}

// The server's side: on the first bytes it answers "bye" and closes,
// leaving the rest of the peer's burst unread; the handler drops the
// Socket in on_close, as the broker does.
struct ByeServer : Socket::Handler {
  std::unique_ptr<Socket> conn;
  int closes = 0;
  void on_data(Socket& c, std::string_view) override {
    c.send("bye");
    c.close();
  }
  void on_close(Socket&, int) override {
    ++closes;
    conn.reset();
  }
};

void expect_bye_then_eof(const PeerView& v) {
  EXPECT_EQ(v.write_errno, 0) << std::strerror(v.write_errno);
  EXPECT_EQ(v.read, "bye");
  EXPECT_EQ(v.read_end, 0) << "the read ended with " << std::strerror(v.read_end) << ", not EOF";
}

// A peer connected through `connect` (to the listener `listen` makes) writes
// 4 MiB and reads: it must read "bye" and EOF, its write must complete, and
// nothing may still linger once it has closed.
void expect_burst_reads_bye_then_eof(
    const std::function<std::unique_ptr<Listener>(EventLoop&, Listener::AcceptFn)>& listen,
    const std::function<int(const Listener&)>& connect) {
  EventLoop loop;
  ByeServer server;
  auto listener = listen(loop, [&](int fd) { server.conn = Socket::adopt(loop, fd, &server); });
  int fd = connect(*listener);
  ASSERT_GE(fd, 0) << std::strerror(errno);
  PeerView v;
  std::atomic<bool> done{false};
  std::thread peer([&] {
    v = burst_then_read(fd, pattern(4 << 20));
    done = true;
  });
  EXPECT_TRUE(run_until(loop, [&] { return done && loop.lingering() == 0; }));
  peer.join();
  expect_bye_then_eof(v);
  EXPECT_EQ(server.closes, 1);
}

TEST(Linger, TcpPeerStillSendingReadsOurReplyThenEof) {
  expect_burst_reads_bye_then_eof(
      [](EventLoop& loop, Listener::AcceptFn accept) { return Listener::tcp(loop, "127.0.0.1", 0, std::move(accept)); },
      [](const Listener& l) { return Socket::connect_tcp("127.0.0.1", l.port()); });
}

TEST(Linger, UnixPeerStillSendingReadsOurReplyThenEof) {
  TempDir dir;
  const std::string path = dir.file("l.sock");
  expect_burst_reads_bye_then_eof(
      [&](EventLoop& loop, Listener::AcceptFn accept) { return Listener::unix_socket(loop, path, std::move(accept)); },
      [&](const Listener&) { return Socket::connect_unix(path); });
}

TEST(Linger, QuietPeerThatNeverClosesIsClosedAfterTheBound) {
  EventLoop loop;
  SocketPair sp;
  ByeServer server;
  server.conn = Socket::adopt(loop, sp.take(0), &server);
  PeerView v;
  std::atomic<bool> done{false};
  std::thread peer([&] {
    v = burst_then_read(sp.fd[1], "hello", /*keep_open=*/true);
    done = true;
  });
  EXPECT_TRUE(run_until(loop, [&] { return done.load(); }));
  peer.join();
  expect_bye_then_eof(v);  // our FIN came at once, before the bound
  EXPECT_EQ(loop.lingering(), 1u);
  const auto start = Clock::now();
  EXPECT_TRUE(run_until(loop, [&] { return loop.lingering() == 0; }, 5000ms));
  EXPECT_GE(Clock::now() - start, Lingerer::Bounds{}.quiet - 300ms);
  // Closed for good: a write now fails.
  EXPECT_LT(::send(sp.fd[1], "x", 1, MSG_NOSIGNAL), 0);
}

TEST(Linger, PeerThatKeepsSendingIsClosedAfterTheMaximum) {
  EventLoop loop;
  Lingerer lingerer(loop, {.quiet = 200ms, .max = 1000ms});
  SocketPair sp;
  ASSERT_EQ(::fcntl(sp.fd[0], F_SETFL, O_NONBLOCK), 0);
  lingerer.add(sp.take(0));
  std::atomic<bool> stop{false};
  std::thread peer([&] {
    while (!stop) {
      if (::send(sp.fd[1], "x", 1, MSG_NOSIGNAL) < 0) break;
      std::this_thread::sleep_for(20ms);  // never quiet for long enough
    }
  });
  const auto start = Clock::now();
  EXPECT_TRUE(run_until(loop, [&] { return lingerer.size() == 0; }, 5000ms));
  stop = true;
  peer.join();
  EXPECT_GE(Clock::now() - start, 900ms);
}

TEST(Linger, PeerEofNeedsNoLinger) {
  EventLoop loop;
  SocketPair sp;
  Recorder rec;
  auto c = Socket::adopt(loop, sp.take(0), &rec);
  ASSERT_EQ(::shutdown(sp.fd[1], SHUT_WR), 0);
  EXPECT_TRUE(run_until(loop, [&] { return rec.closes == 1; }));
  EXPECT_EQ(loop.lingering(), 0u);
}

TEST(Linger, AbortDoesNotLinger) {
  EventLoop loop;
  SocketPair sp;
  Recorder rec;
  auto c = Socket::adopt(loop, sp.take(0), &rec);
  c->abort();
  EXPECT_TRUE(run_until(loop, [&] { return rec.closes == 1; }));
  EXPECT_EQ(loop.lingering(), 0u);
}

TEST(Linger, LoopDestructionClosesWhatStillLingers) {
  SocketPair sp;
  {
    EventLoop loop;
    ByeServer server;
    server.conn = Socket::adopt(loop, sp.take(0), &server);
    ASSERT_EQ(::send(sp.fd[1], "hi", 2, MSG_NOSIGNAL), 2);
    EXPECT_TRUE(run_until(loop, [&] { return server.closes == 1; }));
    EXPECT_EQ(loop.lingering(), 1u);
  }
  char buf[16];
  EXPECT_EQ(::read(sp.fd[1], buf, sizeof buf), 3);  // "bye"
  EXPECT_EQ(::read(sp.fd[1], buf, sizeof buf), 0);
  EXPECT_LT(::send(sp.fd[1], "x", 1, MSG_NOSIGNAL), 0);  // fully closed, not half
}

}  // namespace
}  // namespace warren::net
