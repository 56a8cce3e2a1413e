#include "proxy.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <stdexcept>
#include <system_error>

namespace warren::prover {

namespace {

void nonblocking(int fd) { ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK); }

int listen_any(int& port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::system_error(errno, std::generic_category(), "proxy socket");
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd, 128) != 0)
    throw std::system_error(errno, std::generic_category(), "proxy bind/listen");
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  port = ntohs(a.sin_port);
  nonblocking(fd);
  return fd;
}

int connect_to(const std::string& host, int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(uint16_t(port));
  ::inet_pton(AF_INET, host.c_str(), &a.sin_addr);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  nonblocking(fd);
  return fd;
}

// Writes all of `bytes` (the proxy's sockets are local: a short blocking
// wait is fine); false: the peer is gone.
bool send_all(int fd, const char* p, size_t n) {
  while (n > 0) {
    ssize_t w = ::send(fd, p, n, MSG_NOSIGNAL);
    if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      pollfd pf{fd, POLLOUT, 0};
      ::poll(&pf, 1, 100);
      continue;
    }
    if (w <= 0) return false;
    p += w;
    n -= size_t(w);
  }
  return true;
}

}  // namespace

Proxy::Proxy(std::string upstream_host, int upstream_port)
    : host_(std::move(upstream_host)), port_(upstream_port), thread_([this] { run(); }) {}

Proxy::~Proxy() {
  stop_ = true;
  thread_.join();
  for (auto& r : routes_) {
    for (Pipe& p : r->pipes) close_pipe(p);
    ::close(r->listener);
  }
}

int Proxy::add_route() {
  auto r = std::make_unique<Route>();
  r->listener = listen_any(r->port);
  std::lock_guard lock(mu_);
  routes_.push_back(std::move(r));
  return routes_.back()->port;
}

void Proxy::set_mode(size_t route, Mode m, std::chrono::milliseconds delay) {
  std::lock_guard lock(mu_);
  routes_.at(route)->mode = m;
  routes_.at(route)->delay = delay;
}

void Proxy::cut(size_t route) {
  std::lock_guard lock(mu_);
  routes_.at(route)->cut_now = true;
}

void Proxy::set_upstream_port(int port) { port_ = port; }

void Proxy::close_pipe(Pipe& p) {
  if (p.client >= 0) ::close(p.client);
  if (p.server >= 0) ::close(p.server);
  p.client = p.server = -1;
}

void Proxy::accept_on(Route& r) {
  for (;;) {
    int c = ::accept4(r.listener, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (c < 0) return;
    int s = connect_to(host_, port_);
    if (s < 0) {
      ::close(c);  // the broker is down: the client sees a refused connection
      continue;
    }
    r.pipes.push_back(Pipe{c, s, {}, {}});
  }
}

bool Proxy::pump(int from, int to, Route& r, std::vector<Pending>& held) {
  char buf[65536];
  ssize_t n = ::recv(from, buf, sizeof buf, 0);
  if (n == 0) return false;
  if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK;
  if (r.mode == Mode::Delay || !held.empty())
    held.push_back(Pending{std::chrono::steady_clock::now() + r.delay, std::string(buf, size_t(n))});
  else
    return send_all(to, buf, size_t(n));
  return true;
}

void Proxy::run() {
  std::vector<pollfd> fds;
  while (!stop_) {
    std::unique_lock lock(mu_);
    fds.clear();
    for (auto& r : routes_) {
      if (r->cut_now) {
        for (Pipe& p : r->pipes) close_pipe(p);
        r->pipes.clear();
        r->cut_now = false;
      }
      fds.push_back({r->listener, POLLIN, 0});
      // A black hole reads nothing: the bytes wait in the kernel, unacknowledged by the peer process.
      for (Pipe& p : r->pipes) {
        short ev = r->mode == Mode::Blackhole ? 0 : POLLIN;
        fds.push_back({p.client, ev, 0});
        fds.push_back({p.server, ev, 0});
      }
    }
    lock.unlock();
    ::poll(fds.data(), fds.size(), 5);
    lock.lock();
    size_t i = 0;
    const auto now = std::chrono::steady_clock::now();
    for (auto& r : routes_) {
      if (i >= fds.size()) break;  // added while we polled: next turn
      const bool incoming = fds[i++].revents & POLLIN;
      // The pipes polled are the first ones: accept_on below adds after them.
      for (Pipe& p : r->pipes) {
        if (i + 1 >= fds.size()) break;
        const short ce = fds[i].revents, se = fds[i + 1].revents;
        i += 2;
        bool ok = true;
        if (r->mode != Mode::Blackhole) {
          if (ce & (POLLIN | POLLHUP | POLLERR)) ok = pump(p.client, p.server, *r, p.to_server);
          if (ok && (se & (POLLIN | POLLHUP | POLLERR))) ok = pump(p.server, p.client, *r, p.to_client);
          auto flush = [&](std::vector<Pending>& held, int to) {
            size_t k = 0;
            while (ok && k < held.size() && (held[k].due <= now || r->mode == Mode::Pass)) {
              ok = send_all(to, held[k].bytes.data(), held[k].bytes.size());
              ++k;
            }
            held.erase(held.begin(), held.begin() + std::ptrdiff_t(k));
          };
          flush(p.to_server, p.server);
          flush(p.to_client, p.client);
        }
        if (!ok) close_pipe(p);
      }
      if (incoming) accept_on(*r);
      std::erase_if(r->pipes, [](const Pipe& p) { return p.client < 0; });
    }
  }
}

}  // namespace warren::prover
