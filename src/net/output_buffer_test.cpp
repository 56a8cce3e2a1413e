#include "net/output_buffer.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <new>

#include "net/socket.hpp"
#include "net/test_util.hpp"

#include "common/testing/count_allocations.hpp"

namespace warren::net {
namespace {

std::string contents(const OutputBuffer& b) {
  iovec iov[IOV_MAX];
  int n = b.fill_iov(iov, IOV_MAX);
  std::string s;
  for (int i = 0; i < n; ++i) s.append(static_cast<const char*>(iov[i].iov_base), iov[i].iov_len);
  return s;
}

TEST(OutputBuffer, SmallCopiesCoalesceIntoOneChunk) {
  OutputBuffer b;
  for (int i = 0; i < 100; ++i) b.append("msg" + std::to_string(i) + ";");
  EXPECT_EQ(b.chunk_count(), 1u);
  std::string expect;
  for (int i = 0; i < 100; ++i) expect += "msg" + std::to_string(i) + ";";
  EXPECT_EQ(contents(b), expect);
  EXPECT_EQ(b.size(), expect.size());
}

TEST(OutputBuffer, SharedBodiesAreReferencedNotCopied) {
  OutputBuffer b;
  auto body = std::make_shared<const std::string>(100000, 'x');
  b.append("hdr1");
  b.append(body);
  b.append("hdr2");
  b.append(body);
  ASSERT_EQ(b.chunk_count(), 4u);
  iovec iov[4];
  ASSERT_EQ(b.fill_iov(iov, 4), 4);
  EXPECT_EQ(iov[1].iov_base, body->data());
  EXPECT_EQ(iov[3].iov_base, body->data());
  EXPECT_EQ(body.use_count(), 3);
  // Both headers landed in the same block, back to back.
  EXPECT_EQ(static_cast<char*>(iov[0].iov_base) + 4, iov[2].iov_base);
  b.consume(4 + 100000 + 2);  // stop inside the second header
  EXPECT_EQ(body.use_count(), 2);
  EXPECT_EQ(contents(b), "r2" + *body);
  b.clear();
  EXPECT_EQ(body.use_count(), 1);
}

// A body cut into frames: each frame's slice by reference, between small
// copies (frame heads and end octets), however the writes end.
TEST(OutputBuffer, SlicesOfASharedBodyAreReferencedInPlace) {
  auto body = std::make_shared<const std::string>([] {
    std::string s(10000, '\0');
    for (size_t i = 0; i < s.size(); ++i) s[i] = char('a' + i % 26);
    return s;
  }());
  for (size_t written : {1, 7, 4000, 4008, 10010}) {
    OutputBuffer b;
    std::string want;
    for (size_t at = 0; at < body->size(); at += 4000) {
      b.append("<h>");
      b.append(body, at, 4000);
      want += "<h>" + body->substr(at, 4000);
    }
    b.append(body, body->size(), 5);  // nothing past the end
    b.append(body, 9999, 5);          // cut at the end
    want += body->substr(9999);
    ASSERT_EQ(b.chunk_count(), 7u);
    iovec iov[8];
    ASSERT_EQ(b.fill_iov(iov, 8), 7);
    EXPECT_EQ(iov[1].iov_base, body->data());
    EXPECT_EQ(iov[3].iov_base, body->data() + 4000);
    EXPECT_EQ(iov[5].iov_len, 2000u);
    EXPECT_EQ(body.use_count(), 5);
    EXPECT_EQ(contents(b), want);
    b.consume(written);
    EXPECT_EQ(contents(b), want.substr(written)) << written;
    b.clear();
    EXPECT_EQ(body.use_count(), 1);
  }
}

TEST(OutputBuffer, LargeCopySpansBlocksAndConsumesInPieces) {
  OutputBuffer b;
  std::string big = testing::pattern(100000);
  b.append(big);
  EXPECT_GT(b.chunk_count(), 1u);
  EXPECT_EQ(contents(b), big);
  std::string got;
  while (!b.empty()) {
    iovec iov[1];
    b.fill_iov(iov, 1);
    size_t n = std::min<size_t>(iov[0].iov_len, 7777);
    got.append(static_cast<char*>(iov[0].iov_base), n);
    b.consume(n);
  }
  EXPECT_EQ(got, big);
}

TEST(OutputBuffer, SteadyStateSmallAppendsDoNotAllocate) {
  OutputBuffer b;
  auto cycle = [&] {
    for (int i = 0; i < 50; ++i) b.append("0123456789abcdef0123456789abcdef");
    b.consume(b.size() / 2);
    b.consume(b.size());
  };
  for (int i = 0; i < 10; ++i) cycle();  // warm the pool and vector capacity
  uint64_t before = warren::testing::allocations();
  for (int i = 0; i < 1000; ++i) cycle();
  EXPECT_EQ(warren::testing::allocations(), before);
  EXPECT_GE(OutputBuffer::pooled_blocks(), 1u);
}

TEST(Socket, SteadyStateSendAndFlushDoNotAllocate) {
  EventLoop loop;
  testing::SocketPair sp;
  testing::Recorder rec;
  auto c = Socket::adopt(loop, sp.take(0), &rec);
  char sink[4096];
  auto cycle = [&] {
    for (int i = 0; i < 20; ++i) c->send("small request or reply");
    c->flush();
    ASSERT_EQ(c->output_bytes(), 0u);
    while (::read(sp.fd[1], sink, sizeof sink) == static_cast<ssize_t>(sizeof sink)) {
    }
  };
  for (int i = 0; i < 10; ++i) cycle();
  uint64_t before = warren::testing::allocations();
  for (int i = 0; i < 1000; ++i) cycle();
  EXPECT_EQ(warren::testing::allocations(), before);
}

}  // namespace
}  // namespace warren::net
