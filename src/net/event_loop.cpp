#include "net/event_loop.hpp"

#include "net/linger.hpp"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <system_error>

namespace warren::net {
namespace {

// The wake eventfd is tagged with a value no (gen, fd) pair can produce.
constexpr uint64_t kWakeTag = ~uint64_t{0};
constexpr int kMaxEvents = 256;

[[noreturn]] void throw_errno(const char* what) {
  throw std::system_error(errno, std::generic_category(), what);
}

uint64_t tag(int fd, uint32_t gen) { return (uint64_t{gen} << 32) | static_cast<uint32_t>(fd); }

}  // namespace

EventLoop::EventLoop() : owner_(std::this_thread::get_id()), now_(Clock::now()) {
  epfd_ = epoll_create1(EPOLL_CLOEXEC);
  if (epfd_ < 0) throw_errno("epoll_create1");
  wakefd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wakefd_ < 0) {
    int e = errno;
    ::close(epfd_);
    errno = e;
    throw_errno("eventfd");
  }
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = kWakeTag;
  if (epoll_ctl(epfd_, EPOLL_CTL_ADD, wakefd_, &ev) < 0) {
    int e = errno;
    ::close(wakefd_);
    ::close(epfd_);
    errno = e;
    throw_errno("epoll_ctl(eventfd)");
  }
}

EventLoop::~EventLoop() {
  lingerer_.reset();  // unwatches and cancels its timer: before the rest goes
  ::close(wakefd_);
  ::close(epfd_);
}

void EventLoop::run() {
  owner_.store(std::this_thread::get_id());
  epoll_event events[kMaxEvents];
  while (!stop_.load(std::memory_order_acquire)) {
    int n = epoll_wait(epfd_, events, kMaxEvents, wait_timeout_ms());
    now_ = Clock::now();
    ++turns_;
    if (n < 0) {
      if (errno != EINTR) throw_errno("epoll_wait");
      n = 0;
    }
    for (int i = 0; i < n; ++i) {
      uint64_t t = events[i].data.u64;
      if (t == kWakeTag) {
        uint64_t v;
        (void)!::read(wakefd_, &v, sizeof v);
        // Cleared after the read: a post() racing with us either sees true and
        // its task is already queued for this turn, or sees false and wakes us again.
        wake_pending_.store(false, std::memory_order_release);
        continue;
      }
      int fd = static_cast<int>(t & 0xffffffffu);
      uint32_t gen = static_cast<uint32_t>(t >> 32);
      // A callback earlier in this batch may have unwatched (or re-watched) this fd.
      if (static_cast<size_t>(fd) >= slots_.size()) continue;
      const Slot& s = slots_[fd];
      if (s.p == nullptr || s.gen != gen) continue;
      s.p->on_events(events[i].events);
    }
    run_timers();
    run_posted();
    run_flushes();
  }
  stop_.store(false);  // allow run() again
}

void EventLoop::stop() {
  stop_.store(true, std::memory_order_release);
  wake();
}

void EventLoop::post(std::function<void()> fn) {
  {
    std::lock_guard lk(posted_mu_);
    posted_.push_back(std::move(fn));
  }
  // The loop thread checks posted_ before sleeping, so it needs no wake-up.
  if (!in_loop_thread() && !wake_pending_.exchange(true, std::memory_order_acq_rel)) wake();
}

bool EventLoop::in_loop_thread() const { return owner_.load() == std::this_thread::get_id(); }

void EventLoop::wake() {
  uint64_t one = 1;
  (void)!::write(wakefd_, &one, sizeof one);
}

int EventLoop::wait_timeout_ms() {
  if (stop_.load(std::memory_order_acquire) || !flushes_.empty()) return 0;
  {
    std::lock_guard lk(posted_mu_);
    if (!posted_.empty()) return 0;
  }
  // Drop cancelled timers from the top so they don't cause empty wake-ups.
  while (!timer_heap_.empty() && !timers_.count(timer_heap_.top().id)) timer_heap_.pop();
  if (timer_heap_.empty()) return -1;
  auto left = timer_heap_.top().when - Clock::now();
  if (left <= Clock::duration::zero()) return 0;
  // Round up so we never wake just before the deadline and spin.
  auto ms = std::chrono::ceil<std::chrono::milliseconds>(left).count();
  return static_cast<int>(std::min<decltype(ms)>(ms, INT_MAX));
}

TimerId EventLoop::add_timer(TimePoint when, std::function<void()> fn) {
  TimerId id = next_timer_++;
  timers_.emplace(id, std::move(fn));
  timer_heap_.push({when, id});
  // Cancelled timers stay in the heap until they surface; rebuild when they dominate.
  if (timer_heap_.size() > 64 && timer_heap_.size() > 2 * timers_.size()) {
    std::vector<TimerEntry> live;
    live.reserve(timers_.size());
    while (!timer_heap_.empty()) {
      if (timers_.count(timer_heap_.top().id)) live.push_back(timer_heap_.top());
      timer_heap_.pop();
    }
    timer_heap_ = decltype(timer_heap_)(std::greater<>(), std::move(live));
  }
  return id;
}

void EventLoop::cancel_timer(TimerId id) { timers_.erase(id); }

void EventLoop::run_timers() {
  // Collect first: timers added by callbacks run next turn, never in this one.
  due_.clear();
  while (!timer_heap_.empty() && timer_heap_.top().when <= now_) {
    due_.push_back(timer_heap_.top().id);
    timer_heap_.pop();
  }
  for (TimerId id : due_) {
    auto it = timers_.find(id);
    if (it == timers_.end()) continue;  // cancelled, possibly by an earlier callback
    auto fn = std::move(it->second);
    timers_.erase(it);
    fn();
  }
}

void EventLoop::run_posted() {
  {
    std::lock_guard lk(posted_mu_);
    if (posted_.empty()) return;
    running_.swap(posted_);
  }
  for (auto& fn : running_) fn();
  running_.clear();
}

void EventLoop::watch(int fd, uint32_t events, Pollable* p) {
  if (fd < 0) throw std::system_error(EBADF, std::generic_category(), "EventLoop::watch");
  if (static_cast<size_t>(fd) >= slots_.size()) slots_.resize(static_cast<size_t>(fd) + 1);
  uint32_t gen = next_gen_++;
  if (next_gen_ == 0) next_gen_ = 1;
  epoll_event ev{};
  ev.events = events;
  ev.data.u64 = tag(fd, gen);
  if (epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev) < 0) throw_errno("epoll_ctl(ADD)");
  slots_[fd] = {p, gen};
}

void EventLoop::modify(int fd, uint32_t events, Pollable* p) {
  if (fd < 0 || static_cast<size_t>(fd) >= slots_.size() || slots_[fd].p == nullptr)
    throw std::system_error(ENOENT, std::generic_category(), "EventLoop::modify: fd not watched");
  epoll_event ev{};
  ev.events = events;
  ev.data.u64 = tag(fd, slots_[fd].gen);
  if (epoll_ctl(epfd_, EPOLL_CTL_MOD, fd, &ev) < 0) throw_errno("epoll_ctl(MOD)");
  slots_[fd].p = p;
}

void EventLoop::unwatch(int fd) {
  if (fd < 0 || static_cast<size_t>(fd) >= slots_.size() || slots_[fd].p == nullptr) return;
  epoll_ctl(epfd_, EPOLL_CTL_DEL, fd, nullptr);
  slots_[fd] = {};
}

void EventLoop::schedule_flush(Flushable* f) {
  if (f->flush_slot_ != Flushable::kNotScheduled) return;
  f->flush_slot_ = flushes_.size();
  flushes_.push_back(f);
}

void EventLoop::cancel_flush(Flushable* f) {
  if (f->flush_slot_ == Flushable::kNotScheduled) return;
  flushes_[f->flush_slot_] = nullptr;
  f->flush_slot_ = Flushable::kNotScheduled;
}

void EventLoop::run_flushes() {
  // Index loop: flush() may schedule more (appended, handled here too) or
  // destroy other Flushables (their slots become nullptr).
  for (size_t i = 0; i < flushes_.size(); ++i) {
    Flushable* f = flushes_[i];
    if (f == nullptr) continue;
    flushes_[i] = nullptr;
    f->flush_slot_ = Flushable::kNotScheduled;
    f->flush();
  }
  flushes_.clear();
}

void EventLoop::close_lingering(int fd) {
  if (!lingerer_) lingerer_ = std::make_unique<Lingerer>(*this);
  lingerer_->add(fd);
}

size_t EventLoop::lingering() const { return lingerer_ ? lingerer_->size() : 0; }

}  // namespace warren::net
