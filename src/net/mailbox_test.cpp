#include "net/mailbox.hpp"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "net/test_util.hpp"

namespace warren::net {
namespace {

using namespace std::chrono_literals;
using testing::run_until;

// Items from other threads arrive on the loop's thread, each thread's in
// its order, and far fewer runs than items: one wake-up per pile.
TEST(Mailbox, ItemsArriveInOrderInFewerRunsThanItems) {
  EventLoop loop;
  constexpr int kThreads = 2, kEach = 20000;
  std::vector<std::vector<int>> seen(kThreads);
  int runs = 0;
  bool on_loop = true;
  Mailbox<std::pair<int, int>> box(loop, [&](std::vector<std::pair<int, int>>& items) {
    ++runs;
    on_loop = on_loop && loop.in_loop_thread();
    for (auto [t, i] : items) seen[size_t(t)].push_back(i);
  });
  std::vector<std::thread> ts;
  for (int t = 0; t < kThreads; ++t)
    ts.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) box.push({t, i});
    });
  EXPECT_TRUE(run_until(loop, [&] { return seen[0].size() + seen[1].size() == size_t(kThreads * kEach); }));
  for (auto& t : ts) t.join();
  for (const auto& s : seen) {
    ASSERT_EQ(s.size(), size_t(kEach));
    for (int i = 0; i < kEach; ++i) ASSERT_EQ(s[size_t(i)], i);
  }
  EXPECT_TRUE(on_loop);
  EXPECT_LT(runs, kThreads * kEach);
}

// A run already posted when the mailbox goes finds it gone; what never
// ran can be taken back.
TEST(Mailbox, ARunPostedBeforeTheMailboxWentDoesNothing) {
  EventLoop loop;
  int ran = 0;
  std::vector<int> left;
  {
    Mailbox<int> box(loop, [&](std::vector<int>&) { ++ran; });
    box.push(1);
    box.push(2);
    left = box.take_left();
  }
  bool ticked = false;
  loop.post([&] { ticked = true; });
  EXPECT_TRUE(run_until(loop, [&] { return ticked; }));
  EXPECT_EQ(ran, 0);
  EXPECT_EQ(left, (std::vector<int>{1, 2}));
}

}  // namespace
}  // namespace warren::net
