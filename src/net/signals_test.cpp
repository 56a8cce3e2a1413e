#include "net/signals.hpp"

#include <gtest/gtest.h>

#include <csignal>
#include <vector>

#include "net/test_util.hpp"

namespace warren::net {
namespace {

TEST(SignalSet, DeliversRaisedSignalOnTheLoop) {
  EventLoop loop;
  std::vector<int> got;
  bool on_loop = false;
  SignalSet signals(loop, {SIGUSR1, SIGUSR2}, [&](int signo) {
    got.push_back(signo);
    on_loop = loop.in_loop_thread();
  });
  loop.post([] { ::raise(SIGUSR1); });  // blocked, so it waits in the signalfd
  EXPECT_TRUE(testing::run_until(loop, [&] { return !got.empty(); }));
  EXPECT_EQ(got, std::vector<int>{SIGUSR1});
  EXPECT_TRUE(on_loop);
}

}  // namespace
}  // namespace warren::net
