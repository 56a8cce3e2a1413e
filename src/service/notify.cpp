#include "service/notify.hpp"

#include <systemd/sd-daemon.h>
#include <time.h>

#include <algorithm>
#include <cstdlib>
#include <string>

#include <fmt/format.h>

namespace warren::service {

namespace {

// STATUS= is one line: a newline would end it and start another field.
std::string one_line(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c == '\n' || c == '\r') c = ' ';
  return out;
}

void send(const std::string& state) {
  if (!notify_enabled()) return;
  // unset_environment = 0: a reload sends more, and so does the watchdog.
  sd_notify(0, state.c_str());
}

}  // namespace

bool notify_enabled() { return std::getenv("NOTIFY_SOCKET") != nullptr; }

void notify_ready(std::string_view status) { send(fmt::format("READY=1\nSTATUS={}", one_line(status))); }

void notify_reloading(std::string_view status) {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  const uint64_t usec = uint64_t(ts.tv_sec) * 1'000'000 + uint64_t(ts.tv_nsec) / 1000;
  send(fmt::format("RELOADING=1\nMONOTONIC_USEC={}\nSTATUS={}", usec, one_line(status)));
}

void notify_stopping(std::string_view status) { send(fmt::format("STOPPING=1\nSTATUS={}", one_line(status))); }

void notify_status(std::string_view status) { send(fmt::format("STATUS={}", one_line(status))); }

std::chrono::microseconds watchdog_interval() {
  uint64_t usec = 0;
  // > 0 only when WATCHDOG_USEC is set and WATCHDOG_PID, if set, is ours.
  if (sd_watchdog_enabled(0, &usec) <= 0) return std::chrono::microseconds(0);
  return std::chrono::microseconds(usec);
}

Watchdog::Watchdog(net::EventLoop& loop, std::chrono::microseconds interval, std::vector<net::EventLoop*> also)
    : loop_(loop), period_(std::max(interval / 3, std::chrono::microseconds(1000))), also_(std::move(also)) {
  tick();
}

Watchdog::~Watchdog() {
  if (timer_) loop_.cancel_timer(timer_);
}

void Watchdog::tick() {
  // The first tick has nothing to wait for.
  if (answered_->load(std::memory_order_acquire) >= expected_) {
    send("WATCHDOG=1");
    ++pings_;
  } else {
    ++skipped_;
  }
  // A fresh counter each tick: a post of an older tick that runs late
  // counts for nothing.
  answered_ = std::make_shared<std::atomic<size_t>>(0);
  expected_ = also_.size();
  for (net::EventLoop* other : also_)
    other->post([answered = answered_] { answered->fetch_add(1, std::memory_order_release); });
  timer_ = loop_.add_timer(loop_.now() + period_, [this] { tick(); });
}

}  // namespace warren::service
