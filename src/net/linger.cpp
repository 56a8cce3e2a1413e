#include "net/linger.hpp"

#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

namespace warren::net {
namespace {
constexpr size_t kDiscardBudget = 256 * 1024;  // per socket per turn, as for reads
constexpr std::chrono::milliseconds kSweepEvery{100};
}  // namespace

class Lingerer::Sock final : public Pollable {
 public:
  Sock(Lingerer& owner, int fd) : owner_(owner), fd_(fd), started_(owner.loop_.now()), last_input_(started_) {}

  void on_events(uint32_t) override {
    char buf[16 * 1024];
    size_t total = 0;
    while (total < kDiscardBudget) {
      ssize_t n = ::read(fd_, buf, sizeof buf);
      if (n > 0) {
        total += static_cast<size_t>(n);
        last_input_ = owner_.loop_.now();
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
      return owner_.close(fd_);  // EOF or an error: the peer is done; destroys this
    }
  }

  bool due(TimePoint now) const {
    return now - last_input_ >= owner_.bounds_.quiet || now - started_ >= owner_.bounds_.max;
  }

 private:
  Lingerer& owner_;
  int fd_;
  TimePoint started_;
  TimePoint last_input_;
};

Lingerer::Lingerer(EventLoop& loop, Bounds bounds) : loop_(loop), bounds_(bounds) {}

Lingerer::~Lingerer() {
  if (sweep_timer_) loop_.cancel_timer(sweep_timer_);
  for (auto& [fd, _] : socks_) {
    loop_.unwatch(fd);
    ::close(fd);
  }
}

void Lingerer::add(int fd) {
  // Our FIN follows the bytes already written; then the peer's input, if
  // any, is read and dropped.
  if (::shutdown(fd, SHUT_WR) != 0) {
    ::close(fd);  // not connected any more: nothing to wait for
    return;
  }
  auto& s = socks_.emplace(fd, std::make_unique<Sock>(*this, fd)).first->second;
  loop_.watch(fd, EPOLLIN | EPOLLRDHUP, s.get());
  if (!sweep_timer_) sweep_timer_ = loop_.add_timer(loop_.now() + kSweepEvery, [this] { sweep(); });
}

void Lingerer::close(int fd) {
  loop_.unwatch(fd);
  ::close(fd);
  socks_.erase(fd);
}

void Lingerer::sweep() {
  sweep_timer_ = 0;
  const TimePoint now = loop_.now();
  std::vector<int> due;
  for (auto& [fd, s] : socks_)
    if (s->due(now)) due.push_back(fd);
  for (int fd : due) close(fd);
  if (!socks_.empty()) sweep_timer_ = loop_.add_timer(now + kSweepEvery, [this] { sweep(); });
}

}  // namespace warren::net
