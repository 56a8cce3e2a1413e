// systemd's service notifications (sd_notify(3), Debian's libsystemd) for
// warrend under a Type=notify unit (packaging/warrend.service.in): READY=1
// once it serves, RELOADING=1 ... READY=1 around a reload, STOPPING=1 when
// it stops, STATUS= lines for `systemctl status`, and WATCHDOG=1 pings
// from its event loops while the unit sets WatchdogSec=.
//
// Outside systemd (no NOTIFY_SOCKET in the environment) every call is a
// no-op that costs a getenv: warrend run by hand, by tests or by `make run`
// behaves as before.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <string_view>
#include <vector>

#include "net/event_loop.hpp"

namespace warren::service {

// Whether a service manager listens (NOTIFY_SOCKET is set).
bool notify_enabled();

// READY=1, with a STATUS= line.
void notify_ready(std::string_view status);
// RELOADING=1 (with MONOTONIC_USEC=, which systemd 253's Type=notify-reload
// asks for); notify_ready() ends the reload.
void notify_reloading(std::string_view status);
// STOPPING=1.
void notify_stopping(std::string_view status);
// STATUS= alone.
void notify_status(std::string_view status);

// The watchdog interval the manager asked for (WATCHDOG_USEC, for this
// process: WATCHDOG_PID); zero when none.
std::chrono::microseconds watchdog_interval();

// Sends WATCHDOG=1 from a timer on `loop` while every loop in `also`
// keeps turning too: each tick posts a no-op to each of them, and the next
// tick pings only if all of those ran. So a loop that is stuck (in a
// syscall, a livelock, a deadlock) stops the pings, and the service
// manager kills and restarts warrend once WatchdogSec= passes without one.
// Ticks come every third of the interval: one late loop skips a ping, not
// the service. Built and destroyed on `loop`'s thread; the other loops may
// outlive it or not (the posted no-ops hold only a shared counter).
class Watchdog {
 public:
  Watchdog(net::EventLoop& loop, std::chrono::microseconds interval, std::vector<net::EventLoop*> also = {});
  ~Watchdog();
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

  uint64_t pings() const { return pings_; }    // WATCHDOG=1 sent
  uint64_t skipped() const { return skipped_; } // ticks that found a loop behind

 private:
  void tick();

  net::EventLoop& loop_;
  std::chrono::microseconds period_;
  std::vector<net::EventLoop*> also_;
  // How many of the last tick's posts have run; shared with those posts.
  std::shared_ptr<std::atomic<size_t>> answered_ = std::make_shared<std::atomic<size_t>>(0);
  size_t expected_ = 0;  // posts made by the last tick
  net::TimerId timer_ = 0;
  uint64_t pings_ = 0, skipped_ = 0;
};

}  // namespace warren::service
