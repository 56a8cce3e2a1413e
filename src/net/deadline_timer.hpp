#pragma once
// One loop timer kept at a moving deadline, typically a sans-I/O engine's
// next_deadline(): after every call into the engine, the driver calls
// arm(engine.next_deadline()). arm() does nothing when the deadline is
// unchanged (so the common case costs a comparison, not a timer), cancels
// and re-adds the timer when it moved, and only cancels when there is none.
//
// When the timer fires it first forgets itself (armed_at() is empty), then
// runs the callback given at construction, which typically advances the
// engine and arms again: fire -> clear -> advance -> re-arm. The callback
// must not destroy this DeadlineTimer. The destructor cancels.
#include <functional>
#include <optional>

#include "net/event_loop.hpp"

namespace warren::net {

class DeadlineTimer {
 public:
  DeadlineTimer(EventLoop& loop, std::function<void()> on_fire) : loop_(loop), on_fire_(std::move(on_fire)) {}
  ~DeadlineTimer() { cancel(); }
  DeadlineTimer(const DeadlineTimer&) = delete;
  DeadlineTimer& operator=(const DeadlineTimer&) = delete;

  // Keeps the timer at `when`; none: no timer.
  void arm(std::optional<TimePoint> when);
  void cancel() { arm(std::nullopt); }
  // Where the timer is (none: not armed, or fired and not armed since).
  const std::optional<TimePoint>& armed_at() const { return at_; }

 private:
  EventLoop& loop_;
  std::function<void()> on_fire_;
  TimerId id_ = 0;
  std::optional<TimePoint> at_;
};

}  // namespace warren::net
