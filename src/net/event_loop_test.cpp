#include "net/event_loop.hpp"

#include <gtest/gtest.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "net/test_util.hpp"

namespace warren::net {
namespace {

using namespace std::chrono_literals;
using testing::run_for;
using testing::run_until;

TEST(EventLoop, TimersFireInDeadlineOrderAndCancelledOnesDoNot) {
  EventLoop loop;
  std::vector<std::string> fired;
  auto t0 = Clock::now();
  loop.add_timer(t0 + 30ms, [&] { fired.push_back("c"); });
  loop.add_timer(t0 + 10ms, [&] { fired.push_back("a"); });
  TimerId gone = loop.add_timer(t0 + 20ms, [&] { fired.push_back("cancelled"); });
  loop.add_timer(t0 + 20ms, [&] { fired.push_back("b"); });
  loop.add_timer(t0 + 30ms, [&] { fired.push_back("d"); });  // same deadline: insertion order
  loop.cancel_timer(gone);
  loop.add_timer(t0 + 50ms, [&] { loop.stop(); });
  loop.run();
  EXPECT_EQ(fired, (std::vector<std::string>{"a", "b", "c", "d"}));
  EXPECT_GE(Clock::now() - t0, 50ms);
}

TEST(EventLoop, TimerCanCancelAnotherDueInTheSameTurn) {
  EventLoop loop;
  auto when = Clock::now() + 5ms;
  TimerId second = 0;
  bool second_fired = false;
  loop.add_timer(when, [&] { loop.cancel_timer(second); });
  second = loop.add_timer(when, [&] { second_fired = true; });
  run_for(loop, 30ms);
  EXPECT_FALSE(second_fired);
}

TEST(EventLoop, CancellingUnknownOrFiredTimerIsNoop) {
  EventLoop loop;
  int n = 0;
  TimerId id = loop.add_timer(Clock::now(), [&] { ++n; });
  run_for(loop, 5ms);
  loop.cancel_timer(id);
  loop.cancel_timer(987654);
  EXPECT_EQ(n, 1);
}

TEST(EventLoop, ManyCancelledTimersDoNotDisturbLiveOnes) {
  EventLoop loop;
  int fired = 0;
  for (int i = 0; i < 1000; ++i) loop.cancel_timer(loop.add_timer(Clock::now() + 1h, [] {}));
  loop.add_timer(Clock::now() + 2ms, [&] { ++fired; });
  run_for(loop, 20ms);
  EXPECT_EQ(fired, 1);
}

TEST(EventLoop, PostFromAnotherThreadRunsOnLoopThread) {
  EventLoop loop;
  std::thread::id ran_on;
  bool in_loop = false;
  std::thread t([&] {
    std::this_thread::sleep_for(10ms);
    EXPECT_FALSE(loop.in_loop_thread());
    loop.post([&] {
      ran_on = std::this_thread::get_id();
      in_loop = loop.in_loop_thread();
      loop.stop();
    });
  });
  loop.run();
  t.join();
  EXPECT_EQ(ran_on, std::this_thread::get_id());
  EXPECT_TRUE(in_loop);
}

TEST(EventLoop, ConcurrentPostsAllRun) {
  EventLoop loop;
  constexpr int kThreads = 4, kEach = 2000;
  int count = 0;  // only touched on the loop thread
  std::vector<std::thread> ts;
  for (int i = 0; i < kThreads; ++i)
    ts.emplace_back([&] {
      for (int j = 0; j < kEach; ++j) loop.post([&] { ++count; });
    });
  EXPECT_TRUE(run_until(loop, [&] { return count == kThreads * kEach; }));
  for (auto& t : ts) t.join();
}

TEST(EventLoop, StopFromAnotherThreadEndsIdleRun) {
  EventLoop loop;  // no timers: epoll_wait would block forever without the wake-up
  std::thread t([&] {
    std::this_thread::sleep_for(20ms);
    loop.stop();
  });
  auto t0 = Clock::now();
  loop.run();
  t.join();
  EXPECT_LT(Clock::now() - t0, 5s);
}

TEST(EventLoop, NowIsCachedForTheTurn) {
  EventLoop loop;
  TimePoint first, second, next_turn;
  loop.post([&] {
    first = loop.now();
    std::this_thread::sleep_for(5ms);
    second = loop.now();
    loop.add_timer(loop.now(), [&] {
      next_turn = loop.now();
      loop.stop();
    });
  });
  loop.run();
  EXPECT_EQ(first, second);
  EXPECT_GE(next_turn - first, 5ms);
}

struct CountingFlush : Flushable {
  int flushes = 0;
  std::function<void()> hook;
  void flush() override {
    ++flushes;
    if (hook) hook();
  }
};

TEST(EventLoop, ScheduledFlushRunsOnceAtEndOfTurnAfterTasks) {
  EventLoop loop;
  CountingFlush f;
  bool task_ran = false, task_ran_before_flush = false;
  f.hook = [&] { task_ran_before_flush = task_ran; };
  loop.post([&] {
    loop.schedule_flush(&f);
    loop.schedule_flush(&f);  // idempotent
  });
  loop.post([&] { task_ran = true; });
  run_for(loop, 10ms);
  EXPECT_EQ(f.flushes, 1);
  EXPECT_TRUE(task_ran_before_flush);
}

TEST(EventLoop, CancelledFlushDoesNotRun) {
  EventLoop loop;
  CountingFlush a, b;
  a.hook = [&] { loop.cancel_flush(&b); };  // an earlier flush can cancel a later one
  loop.post([&] {
    loop.schedule_flush(&a);
    loop.schedule_flush(&b);
  });
  run_for(loop, 10ms);
  EXPECT_EQ(a.flushes, 1);
  EXPECT_EQ(b.flushes, 0);
}

// Two readable fds; whichever is dispatched first unwatches and closes the
// other and watches a fresh, idle eventfd, which usually gets the same fd
// number. The stale event for the old fd in the same epoll batch must be
// dropped, not delivered to the newcomer.
struct Counter : Pollable {
  int calls = 0;
  void on_events(uint32_t) override { ++calls; }
};

struct Replacer : Pollable {
  Replacer(EventLoop& l, int& other, int& fresh_slot, Counter& f)
      : loop(&l), other_fd(&other), fresh_fd(&fresh_slot), fresh(&f) {}
  EventLoop* loop;
  int* other_fd;
  int* fresh_fd;
  Counter* fresh;
  int calls = 0;
  void on_events(uint32_t) override {
    ++calls;
    loop->unwatch(*other_fd);
    ::close(*other_fd);
    *other_fd = -1;
    *fresh_fd = eventfd(0, EFD_CLOEXEC);  // not readable: it must never be called
    loop->watch(*fresh_fd, EPOLLIN, fresh);
  }
};

TEST(EventLoop, StaleEventsOfAnFdReplacedEarlierInTheTurnAreDropped) {
  EventLoop loop;
  int a = eventfd(1, EFD_CLOEXEC), b = eventfd(1, EFD_CLOEXEC);  // both readable now
  int fresh_fd = -1;
  Counter fresh;
  Replacer ra(loop, b, fresh_fd, fresh), rb(loop, a, fresh_fd, fresh);
  loop.watch(a, EPOLLIN, &ra);
  loop.watch(b, EPOLLIN, &rb);
  loop.add_timer(Clock::now(), [&] { loop.stop(); });
  loop.run();  // exactly one turn: both events arrive in one batch
  EXPECT_EQ(ra.calls + rb.calls, 1);
  EXPECT_EQ(fresh.calls, 0);
  for (int fd : {a, b, fresh_fd}) {
    if (fd < 0) continue;
    loop.unwatch(fd);
    ::close(fd);
  }
}

}  // namespace
}  // namespace warren::net
