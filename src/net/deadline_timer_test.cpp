#include "net/deadline_timer.hpp"

#include <gtest/gtest.h>

#include <deque>
#include <string>
#include <vector>

#include "net/test_util.hpp"

namespace warren::net {
namespace {

using namespace std::chrono_literals;
using testing::run_for;
using testing::run_until;

TEST(DeadlineTimer, FiresOnceAndForgetsItselfBeforeTheCallback) {
  EventLoop loop;
  int fired = 0;
  std::optional<TimePoint> seen_in_callback = TimePoint{};
  DeadlineTimer* self = nullptr;
  DeadlineTimer t(loop, [&] {
    ++fired;
    seen_in_callback = self->armed_at();
  });
  self = &t;
  const TimePoint when = loop.now() + 2ms;
  t.arm(when);
  EXPECT_EQ(t.armed_at(), when);
  run_for(loop, 20ms);
  EXPECT_EQ(fired, 1);
  EXPECT_EQ(seen_in_callback, std::nullopt);
  EXPECT_EQ(t.armed_at(), std::nullopt);
}

// Re-arming at an unchanged deadline keeps the timer that is there: it
// still fires ahead of a timer added later for the same time point (a
// cancelled and re-added one would fire after it).
TEST(DeadlineTimer, AnUnchangedDeadlineKeepsTheTimer) {
  EventLoop loop;
  std::vector<std::string> order;
  DeadlineTimer t(loop, [&] { order.push_back("deadline"); });
  const TimePoint when = loop.now() + 2ms;
  t.arm(when);
  loop.add_timer(when, [&] { order.push_back("other"); });
  t.arm(when);
  run_for(loop, 20ms);
  EXPECT_EQ(order, (std::vector<std::string>{"deadline", "other"}));
}

TEST(DeadlineTimer, AMovedDeadlineReplacesTheTimer) {
  EventLoop loop;
  std::vector<std::string> order;
  DeadlineTimer t(loop, [&] { order.push_back("deadline"); });
  const TimePoint when = loop.now() + 2ms;
  t.arm(when);
  loop.add_timer(when, [&] { order.push_back("other"); });
  t.arm(when + 1ms);
  t.arm(when);  // moved back: a new timer, behind "other"
  run_for(loop, 20ms);
  EXPECT_EQ(order, (std::vector<std::string>{"other", "deadline"}));

  // Later, then earlier: it fires once, at the earlier one.
  order.clear();
  t.arm(loop.now() + 1h);
  t.arm(loop.now() + 1ms);
  run_for(loop, 20ms);
  EXPECT_EQ(order, (std::vector<std::string>{"deadline"}));
}

TEST(DeadlineTimer, NoDeadlineOrCancelOrDestructionMeansNoCall) {
  EventLoop loop;
  int fired = 0;
  DeadlineTimer a(loop, [&] { ++fired; });
  a.arm(loop.now() + 1ms);
  a.arm(std::nullopt);
  EXPECT_EQ(a.armed_at(), std::nullopt);
  DeadlineTimer b(loop, [&] { ++fired; });
  b.arm(loop.now() + 1ms);
  b.cancel();
  {
    DeadlineTimer c(loop, [&] { ++fired; });
    c.arm(loop.now() + 1ms);
  }
  run_for(loop, 20ms);
  EXPECT_EQ(fired, 0);
}

// The driver's pattern: fire -> clear -> advance the engine -> re-arm at
// its next deadline, which may be the one that just fired (the engine had
// more to do at that time point) or already past.
TEST(DeadlineTimer, TheCallbackAdvancesAndRearms) {
  EventLoop loop;
  const TimePoint start = loop.now();
  std::deque<TimePoint> deadlines = {start + 1ms, start + 1ms, start + 3ms};  // a fake engine's
  std::vector<TimePoint> advanced_at;
  std::vector<uint64_t> turns;
  DeadlineTimer* self = nullptr;
  auto next_deadline = [&]() -> std::optional<TimePoint> {
    if (deadlines.empty()) return std::nullopt;
    return deadlines.front();
  };
  DeadlineTimer t(loop, [&] {
    advanced_at.push_back(loop.now());
    turns.push_back(loop.turns());
    deadlines.pop_front();  // advance(now): the earliest is done
    self->arm(next_deadline());
  });
  self = &t;
  t.arm(next_deadline());
  ASSERT_TRUE(run_until(loop, [&] { return deadlines.empty(); }, 1000ms));
  ASSERT_EQ(advanced_at.size(), 3u);
  EXPECT_GE(advanced_at[0], start + 1ms);
  EXPECT_GT(turns[1], turns[0]);  // re-added for the same time point: it runs next turn
  EXPECT_GE(advanced_at[2], start + 3ms);
  EXPECT_EQ(t.armed_at(), std::nullopt);
}

}  // namespace
}  // namespace warren::net
