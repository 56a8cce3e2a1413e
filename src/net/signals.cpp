#include "net/signals.hpp"

#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

namespace warren::net {

SignalSet::SignalSet(EventLoop& loop, std::initializer_list<int> signals, std::function<void(int)> fn)
    : loop_(loop), fn_(std::move(fn)) {
  sigset_t set;
  sigemptyset(&set);
  for (int s : signals) sigaddset(&set, s);
  // Blocked, so the signal stays pending for the signalfd instead of running a handler.
  int rc = pthread_sigmask(SIG_BLOCK, &set, nullptr);
  if (rc != 0) throw std::system_error(rc, std::generic_category(), "pthread_sigmask");
  fd_ = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
  if (fd_ < 0) throw std::system_error(errno, std::generic_category(), "signalfd");
  try {
    loop_.watch(fd_, EPOLLIN, this);
  } catch (...) {
    ::close(fd_);
    throw;
  }
}

SignalSet::~SignalSet() {
  if (destroyed_ != nullptr) *destroyed_ = true;
  loop_.unwatch(fd_);
  ::close(fd_);
}

void SignalSet::on_events(uint32_t) {
  bool dead = false;
  destroyed_ = &dead;  // a handler may well tear everything down (SIGTERM)
  signalfd_siginfo info;
  while (::read(fd_, &info, sizeof info) == static_cast<ssize_t>(sizeof info)) {
    fn_(static_cast<int>(info.ssi_signo));
    if (dead) return;
  }
  destroyed_ = nullptr;
}

}  // namespace warren::net
