#include "net/socket.hpp"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

#include "net/listener.hpp"
#include "net/test_util.hpp"

namespace warren::net {
namespace {

using namespace std::chrono_literals;
using namespace testing;

// Reads from a blocking fd until `n` bytes or EOF.
std::string read_n(int fd, size_t n) {
  std::string s;
  char buf[65536];
  while (s.size() < n) {
    ssize_t r = ::read(fd, buf, std::min(sizeof buf, n - s.size()));
    if (r <= 0) break;
    s.append(buf, static_cast<size_t>(r));
  }
  return s;
}

TEST(Socket, UnixSocketEchoRoundTrip) {
  EventLoop loop;
  TempDir dir;
  const std::string path = dir.file("echo.sock");
  Echo echo;
  std::unique_ptr<Socket> server_side;
  auto listener = Listener::unix_socket(loop, path, [&](int fd) { server_side = Socket::adopt(loop, fd, &echo); });

  int fd = Socket::connect_unix(path);
  ASSERT_GE(fd, 0) << std::strerror(errno);
  Recorder rec;
  auto client = Socket::adopt(loop, fd, &rec);
  client->send("hello, ");
  client->send(std::make_shared<const std::string>("warren"));
  EXPECT_TRUE(run_until(loop, [&] { return rec.data == "hello, warren"; }));
  EXPECT_EQ(rec.closes, 0);
}

TEST(Socket, ManySendsInOneTurnAreOneWritev) {
  EventLoop loop;
  SocketPair sp;
  Recorder rec;
  auto c = Socket::adopt(loop, sp.take(0), &rec);
  std::string expect;
  auto body = std::make_shared<const std::string>("<shared body>");
  loop.post([&] {
    for (int i = 0; i < 500; ++i) {
      std::string m = "message " + std::to_string(i) + "\n";
      c->send(m);
      expect += m;
      if (i % 100 == 0) {
        c->send(body);
        expect += *body;
      }
    }
  });
  EXPECT_TRUE(run_until(loop, [&] { return c->writev_calls() > 0; }));
  EXPECT_EQ(c->writev_calls(), 1u);
  EXPECT_EQ(c->output_bytes(), 0u);
  EXPECT_EQ(read_n(sp.fd[1], expect.size()), expect);
}

TEST(Socket, LargeSendToSlowReaderCompletesThroughEpollout) {
  EventLoop loop;
  SocketPair sp;
  Recorder rec;
  auto c = Socket::adopt(loop, sp.take(0), &rec);
  const std::string big = pattern(8 << 20);
  std::string got;
  std::thread reader([&, fd = sp.fd[1]] {
    char buf[65536];
    while (got.size() < big.size()) {
      std::this_thread::sleep_for(200us);  // slow consumer: the socket buffer fills up
      ssize_t r = ::read(fd, buf, sizeof buf);
      if (r <= 0) break;
      got.append(buf, static_cast<size_t>(r));
    }
  });
  loop.post([&] { c->send(big); });
  EXPECT_TRUE(run_until(loop, [&] { return c->writev_calls() > 0 && c->output_bytes() == 0; }, 60000ms));
  reader.join();
  EXPECT_GT(c->writev_calls(), 1u);  // did not fit in one go: continued on EPOLLOUT
  EXPECT_EQ(c->bytes_written(), big.size());
  EXPECT_TRUE(got == big);
  EXPECT_EQ(rec.closes, 0);
}

TEST(Socket, PeerCloseReportsDataThenCloseZeroExactlyOnce) {
  EventLoop loop;
  SocketPair sp;
  Recorder rec;
  auto c = Socket::adopt(loop, sp.take(0), &rec);
  ASSERT_EQ(::write(sp.fd[1], "bye", 3), 3);
  ::close(sp.take(1));
  EXPECT_TRUE(run_until(loop, [&] { return rec.closes > 0; }));
  run_for(loop, 20ms);
  EXPECT_EQ(rec.data, "bye");
  EXPECT_EQ(rec.closes, 1);
  EXPECT_EQ(rec.error, 0);
  EXPECT_TRUE(c->closed());
  EXPECT_EQ(c->fd(), -1);
}

TEST(Socket, DestroyingFromInsideOnDataIsSafe) {
  EventLoop loop;
  SocketPair sp;
  Recorder rec;
  std::unique_ptr<Socket> c = Socket::adopt(loop, sp.take(0), &rec);
  rec.on_data_hook = [&](Socket& self, std::string_view) {
    self.send("reply that will never be flushed");  // schedules a flush that must be cancelled
    self.pause_reading();
    c.reset();
  };
  ASSERT_EQ(::write(sp.fd[1], "x", 1), 1);
  EXPECT_TRUE(run_until(loop, [&] { return c == nullptr; }));
  run_for(loop, 20ms);  // nothing may be dispatched to the dead connection
  EXPECT_EQ(rec.closes, 0);  // destroyed without close(): silent
  char buf[8];
  EXPECT_EQ(::read(sp.fd[1], buf, sizeof buf), 0);  // we see EOF, no reply
}

TEST(Socket, DestroyingFromInsideOnCloseIsSafe) {
  EventLoop loop;
  SocketPair sp;
  Recorder rec;
  std::unique_ptr<Socket> c = Socket::adopt(loop, sp.take(0), &rec);
  rec.on_data_hook = [&](Socket& self, std::string_view) { self.close(); };  // nested: close inside on_data
  rec.on_close_hook = [&](Socket&, int) { c.reset(); };
  ASSERT_EQ(::write(sp.fd[1], "q", 1), 1);
  EXPECT_TRUE(run_until(loop, [&] { return c == nullptr; }));
  run_for(loop, 10ms);
  EXPECT_EQ(rec.closes, 1);
  EXPECT_EQ(rec.error, 0);
}

TEST(Socket, CloseFlushesQueuedOutputFirst) {
  EventLoop loop;
  SocketPair sp;
  Recorder rec;
  auto c = Socket::adopt(loop, sp.take(0), &rec);
  const std::string big = pattern(2 << 20);  // more than the socket buffer holds
  std::string got;
  std::thread reader([&, fd = sp.fd[1]] { got = read_n(fd, big.size() + 1); });  // +1: read to EOF
  loop.post([&] {
    c->send(big);
    c->close();
    c->send("dropped: sent after close");
  });
  EXPECT_TRUE(run_until(loop, [&] { return rec.closes > 0; }));
  reader.join();
  EXPECT_TRUE(got == big);
  EXPECT_EQ(rec.closes, 1);
  EXPECT_EQ(rec.error, 0);
}

TEST(Socket, AbortDropsOutputAndReportsCloseOnce) {
  EventLoop loop;
  SocketPair sp;
  Recorder rec;
  auto c = Socket::adopt(loop, sp.take(0), &rec);
  loop.post([&] {
    c->send("never sent");
    c->abort();
    EXPECT_EQ(rec.closes, 0);  // reported from the loop, not from inside abort()
  });
  EXPECT_TRUE(run_until(loop, [&] { return rec.closes > 0; }));
  run_for(loop, 10ms);
  EXPECT_EQ(rec.closes, 1);
  char buf[16];
  EXPECT_EQ(::read(sp.fd[1], buf, sizeof buf), 0);
}

TEST(Socket, SendToDeadPeerGivesEpipeNotSigpipe) {
  EventLoop loop;
  SocketPair sp;
  Recorder rec;
  auto c = Socket::adopt(loop, sp.take(0), &rec);
  c->pause_reading();  // so the write, not the EOF, notices the dead peer
  ::close(sp.take(1));
  loop.post([&] { c->send("into the void"); });
  EXPECT_TRUE(run_until(loop, [&] { return rec.closes > 0; }));
  EXPECT_EQ(rec.error, EPIPE);
}

TEST(Socket, ResetByPeerReportsErrno) {
  EventLoop loop;
  SocketPair sp;
  Recorder rec;
  auto c = Socket::adopt(loop, sp.take(0), &rec);
  c->send("unread by the peer");
  c->flush();
  // Closing a Unix socket with unread input resets the other side.
  ::close(sp.take(1));
  EXPECT_TRUE(run_until(loop, [&] { return rec.closes > 0; }));
  EXPECT_EQ(rec.error, ECONNRESET);
}

TEST(Socket, PauseAndResumeReading) {
  EventLoop loop;
  SocketPair sp;
  Recorder rec;
  auto c = Socket::adopt(loop, sp.take(0), &rec);
  c->pause_reading();
  ASSERT_EQ(::write(sp.fd[1], "held", 4), 4);
  run_for(loop, 20ms);
  EXPECT_EQ(rec.data, "");
  c->resume_reading();
  EXPECT_TRUE(run_until(loop, [&] { return rec.data == "held"; }));
}

TEST(Socket, PausedConnectionWhosePeerHangsUpDoesNotSpin) {
  EventLoop loop;
  SocketPair sp;
  Recorder rec;
  auto c = Socket::adopt(loop, sp.take(0), &rec);
  c->pause_reading();
  ASSERT_EQ(::write(sp.fd[1], "last", 4), 4);
  ::close(sp.take(1));
  uint64_t t0 = loop.turns();
  run_for(loop, 30ms);
  EXPECT_LT(loop.turns() - t0, 10u);  // not one turn per EPOLLHUP
  c->resume_reading();
  EXPECT_TRUE(run_until(loop, [&] { return rec.closes > 0; }));
  EXPECT_EQ(rec.data, "last");
  EXPECT_EQ(rec.error, 0);
}

TEST(Socket, ConnectUnixReportsErrno) {
  TempDir dir;
  EXPECT_EQ(Socket::connect_unix(dir.file("missing.sock")), -1);
  EXPECT_EQ(errno, ENOENT);
  // A socket file nobody listens on.
  int s = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::string p = dir.file("dead.sock");
  std::memcpy(addr.sun_path, p.c_str(), p.size());
  ASSERT_EQ(::bind(s, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  EXPECT_EQ(Socket::connect_unix(p), -1);
  EXPECT_EQ(errno, ECONNREFUSED);
  ::close(s);
}

// Backpressure: a handler that paused reading because its output piled up
// hears on_drain once the peer has taken it all, and only then.
TEST(Socket, DrainAfterBlockedWriteIsReported) {
  struct Drains : Recorder {
    int drains = 0;
    void on_drain(Socket& c) override {
      ++drains;
      c.resume_reading();
    }
  } rec;
  EventLoop loop;
  SocketPair sp;
  auto c = Socket::adopt(loop, sp.take(0), &rec);
  const std::string big = pattern(4 << 20);
  loop.post([&] {
    c->pause_reading();
    c->send(big);
  });
  run_for(loop, 50ms);
  EXPECT_GT(c->output_bytes(), 0u);  // the peer has not read: still queued
  EXPECT_EQ(rec.drains, 0);
  std::thread reader([fd = sp.fd[1], n = big.size()] {
    std::string buf(65536, '\0');
    size_t got = 0;
    while (got < n) {
      ssize_t r = ::read(fd, buf.data(), buf.size());
      if (r <= 0) break;
      got += static_cast<size_t>(r);
    }
  });
  EXPECT_TRUE(run_until(loop, [&] { return rec.drains > 0; }, 30000ms));
  reader.join();
  EXPECT_EQ(c->output_bytes(), 0u);
  EXPECT_EQ(rec.drains, 1);
}

TEST(Socket, WantDrainReportsOnceWhenOutputEmpties) {
  struct Drains : Recorder {
    int drains = 0;
    void on_drain(Socket&) override { ++drains; }
  } rec;
  EventLoop loop;
  SocketPair sp;
  auto c = Socket::adopt(loop, sp.take(0), &rec);
  loop.post([&] {
    c->send("hello");
    c->want_drain();
  });
  EXPECT_TRUE(run_until(loop, [&] { return rec.drains > 0; }, 5000ms));
  loop.post([&] { c->send("again"); });  // no new request: no new report
  run_for(loop, 50ms);
  EXPECT_EQ(rec.drains, 1);
}

}  // namespace
}  // namespace warren::net
