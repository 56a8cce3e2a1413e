// OutputQueue: what a driver took from its session goes out whole and in
// order, however little the socket takes at a time, and taking output
// never copies what is still waiting.
#include "client/output_queue.hpp"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "amqp091/frame.hpp"

#include "client/testing/fake_broker.hpp"

namespace warren::client {
namespace {

using testing::FakeBroker;

struct SocketPair {
  int fd[2] = {-1, -1};
  SocketPair() {
    EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fd), 0);
    int small = 4096;  // the kernel doubles and rounds it: a few KiB per write
    ::setsockopt(fd[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
  }
  ~SocketPair() {
    ::close(fd[0]);
    ::close(fd[1]);
  }
  std::string drain() {
    std::string got;
    char buf[65536];
    for (ssize_t n; (n = ::read(fd[1], buf, sizeof buf)) > 0;) got.append(buf, size_t(n));
    return got;
  }
};

TEST(ClientOutputQueue, LargePublishesGoOutWholeAndInOrderThroughAFullSocket) {
  Session s{SessionOptions{}};
  FakeBroker b{s};
  b.connect();
  uint16_t ch = testing::open_served_channel(b, false);
  std::string want;  // the bodies, in order
  OutputQueue q;
  SocketPair p;
  std::string got;
  for (int i = 0; i < 40; ++i) {
    std::string body(100'000 + size_t(i) * 1000, char('a' + i % 26));
    want += body;
    s.publish(ch, {.exchange = "ex", .routing_key = "rk", .body = body}, {});
    size_t before = q.size();
    ASSERT_TRUE(q.take(s, b.now));
    EXPECT_GT(q.size(), before + body.size());
    EXPECT_FALSE(s.has_output());
    EXPECT_FALSE(q.take(s, b.now));  // nothing more to take
    if (i % 3 == 0) {  // the socket takes a little now and then, never all
      ASSERT_TRUE(q.write(p.fd[0]));
      EXPECT_GT(q.size(), 0u);
      got += p.drain();
    }
  }
  while (!q.empty()) {
    ASSERT_TRUE(q.write(p.fd[0]));
    got += p.drain();
  }
  // The bytes the broker would read: 40 publishes, their bodies whole and in order.
  amqp091::FrameReader reader(amqp091::as_bytes(got), 0);
  amqp091::Frame f;
  size_t publishes = 0;
  std::string bodies;
  while (reader.next(f)) {
    if (f.type == amqp091::kFrameMethod) ++publishes;
    if (f.type == amqp091::kFrameBody) bodies.append(reinterpret_cast<const char*>(f.payload.data()), f.payload.size());
  }
  EXPECT_FALSE(reader.failed());
  EXPECT_EQ(reader.consumed(), got.size());
  EXPECT_EQ(publishes, 40u);
  EXPECT_TRUE(bodies == want);
}

TEST(ClientOutputQueue, AWriteErrorIsReportedAndClearForgetsTheRest) {
  Session s{SessionOptions{}};
  FakeBroker b{s};
  b.connect();
  uint16_t ch = testing::open_served_channel(b, false);
  OutputQueue q;
  s.publish(ch, {.exchange = "ex", .routing_key = "rk", .body = std::string(300'000, 'x')}, {});
  ASSERT_TRUE(q.take(s, b.now));
  int fd[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fd), 0);
  ::close(fd[1]);
  EXPECT_FALSE(q.write(fd[0]));
  EXPECT_EQ(errno, EPIPE);
  q.clear();
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.size(), 0u);
  ::close(fd[0]);
}

}  // namespace
}  // namespace warren::client
