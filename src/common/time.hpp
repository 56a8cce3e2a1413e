#pragma once
// Monotonic time, one spelling for every layer. Engines and the core take
// `now` as an argument (they never read a clock); the event loop is the
// one that reads Clock. Durations that configure behaviour (TTLs, lock
// leases, timeouts) are milliseconds, as in RabbitMQ's arguments.
#include <chrono>

namespace warren {

using Clock = std::chrono::steady_clock;
using TimePoint = Clock::time_point;
using Duration = std::chrono::milliseconds;

}  // namespace warren
