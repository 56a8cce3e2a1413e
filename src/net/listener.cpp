#include "net/listener.hpp"

#include <netdb.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <system_error>

namespace warren::net {
namespace {

constexpr int kAcceptsPerTurn = 64;  // leave room for the connections we already have
constexpr auto kFdShortageBackoff = std::chrono::milliseconds(100);

[[noreturn]] void fail(int err, const std::string& what) {
  throw std::system_error(err, std::generic_category(), what);
}

}  // namespace

Listener::Listener(EventLoop& loop, int fd, AcceptFn fn) : loop_(loop), fd_(fd), fn_(std::move(fn)) {
  loop_.watch(fd_, EPOLLIN, this);
  watching_ = true;
}

Listener::~Listener() {
  if (destroyed_ != nullptr) *destroyed_ = true;
  if (retry_timer_ != 0) loop_.cancel_timer(retry_timer_);
  if (watching_) loop_.unwatch(fd_);
  ::close(fd_);
}

std::unique_ptr<Listener> Listener::unix_socket(EventLoop& loop, const std::string& path, AcceptFn fn,
                                                int backlog) {
  const std::string what = "listen on unix socket " + path;
  sockaddr_un addr{};
  if (path.size() >= sizeof addr.sun_path) fail(ENAMETOOLONG, what);
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.data(), path.size());
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) fail(errno, what);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0 || ::listen(fd, backlog) < 0) {
    int e = errno;
    ::close(fd);
    fail(e, what);
  }
  return std::unique_ptr<Listener>(new Listener(loop, fd, std::move(fn)));
}

std::unique_ptr<Listener> Listener::tcp(EventLoop& loop, const std::string& host, uint16_t port,
                                        AcceptFn fn, int backlog) {
  const std::string what = "listen on tcp " + (host.empty() ? "*" : host) + ":" + std::to_string(port);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* res = nullptr;
  int rc = getaddrinfo(host.empty() ? nullptr : host.c_str(), std::to_string(port).c_str(), &hints, &res);
  if (rc != 0) fail(rc == EAI_SYSTEM ? errno : EADDRNOTAVAIL, what + ": " + gai_strerror(rc));
  int fd = -1;
  int err = EADDRNOTAVAIL;
  for (addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
    fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) {
      err = errno;
      continue;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (::bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && ::listen(fd, backlog) == 0) break;
    err = errno;
    ::close(fd);
    fd = -1;
  }
  freeaddrinfo(res);
  if (fd < 0) fail(err, what);

  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
  uint16_t bound = 0;
  if (ss.ss_family == AF_INET) bound = ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
  if (ss.ss_family == AF_INET6) bound = ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);
  auto l = std::unique_ptr<Listener>(new Listener(loop, fd, std::move(fn)));
  l->port_ = bound;
  return l;
}

void Listener::on_events(uint32_t) {
  bool dead = false;
  destroyed_ = &dead;  // the accept callback may destroy us
  for (int i = 0; i < kAcceptsPerTurn; ++i) {
    int fd = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd >= 0) {
      fn_(fd);
      if (dead) return;
      continue;
    }
    if (errno == EINTR || errno == ECONNABORTED) continue;
    if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
      // Level-triggered: the pending connection would wake us on every turn.
      // Stop watching for a moment instead of spinning.
      loop_.unwatch(fd_);
      watching_ = false;
      retry_timer_ = loop_.add_timer(loop_.now() + kFdShortageBackoff, [this] { resume_after_fd_shortage(); });
    }
    break;  // EAGAIN: backlog drained
  }
  destroyed_ = nullptr;
}

void Listener::resume_after_fd_shortage() {
  retry_timer_ = 0;
  loop_.watch(fd_, EPOLLIN, this);
  watching_ = true;
}

}  // namespace warren::net
