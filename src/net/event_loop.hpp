// A single-threaded, level-triggered epoll event loop.
//
// One loop per thread. Everything except stop() and post() must be called on
// the loop's thread. A turn is: epoll_wait (bounded by the nearest timer),
// dispatch fd events, run due timers, run posted tasks, then flush every
// scheduled Flushable - so output produced anywhere in a turn leaves in one
// write per connection.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <queue>
#include <thread>
#include <unordered_map>
#include <vector>

#include "common/time.hpp"

namespace warren::net {

using TimerId = uint64_t;

class Pollable {
 public:
  virtual ~Pollable() = default;
  virtual void on_events(uint32_t epoll_events) = 0;
};

class Flushable {
 public:
  virtual ~Flushable() = default;
  virtual void flush() = 0;

 private:
  friend class EventLoop;
  // Position in the loop's flush list, so schedule/cancel are O(1) without a set.
  static constexpr size_t kNotScheduled = static_cast<size_t>(-1);
  size_t flush_slot_ = kNotScheduled;
};

class Lingerer;

class EventLoop {
 public:
  EventLoop();
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  void run();   // until stop(); the calling thread becomes the loop thread
  void stop();  // thread-safe
  void post(std::function<void()> fn);  // thread-safe; runs on the loop next turn
  bool in_loop_thread() const;
  TimePoint now() const { return now_; }  // cached at the start of the turn

  TimerId add_timer(TimePoint when, std::function<void()> fn);  // one-shot
  void cancel_timer(TimerId id);  // unknown or already-fired id: no-op

  // `p` receives events for `fd` until unwatch(fd). Events for an fd that was
  // unwatched earlier in the same turn are dropped, even if the number is reused.
  void watch(int fd, uint32_t events, Pollable* p);
  void modify(int fd, uint32_t events, Pollable* p);
  void unwatch(int fd);

  void schedule_flush(Flushable* f);  // idempotent until it has been flushed
  void cancel_flush(Flushable* f);    // required before `f` is destroyed

  uint64_t turns() const { return turns_; }  // for tests and stats

  // Closes a socket whose output is all written without losing it to an
  // RST: see net/linger.hpp. Takes ownership of `fd`.
  void close_lingering(int fd);
  size_t lingering() const;  // sockets still lingering, for tests and stats

 private:
  struct Slot {
    Pollable* p = nullptr;
    uint32_t gen = 0;
  };
  struct TimerEntry {
    TimePoint when;
    TimerId id;
    bool operator>(const TimerEntry& o) const {
      return when != o.when ? when > o.when : id > o.id;
    }
  };

  int wait_timeout_ms();
  void run_timers();
  void run_posted();
  void run_flushes();
  void wake();

  int epfd_ = -1;
  int wakefd_ = -1;
  std::atomic<bool> stop_{false};
  std::atomic<bool> wake_pending_{false};
  std::atomic<std::thread::id> owner_;
  TimePoint now_;
  uint64_t turns_ = 0;

  std::vector<Slot> slots_;  // indexed by fd
  uint32_t next_gen_ = 1;

  std::priority_queue<TimerEntry, std::vector<TimerEntry>, std::greater<>> timer_heap_;
  std::unordered_map<TimerId, std::function<void()>> timers_;  // live (not cancelled) timers
  TimerId next_timer_ = 1;
  std::vector<TimerId> due_;  // scratch for run_timers

  std::mutex posted_mu_;
  std::vector<std::function<void()>> posted_;
  std::vector<std::function<void()>> running_;  // swapped with posted_ each turn

  std::vector<Flushable*> flushes_;  // cancelled entries become nullptr

  std::unique_ptr<Lingerer> lingerer_;  // made on first use
};

}  // namespace warren::net
