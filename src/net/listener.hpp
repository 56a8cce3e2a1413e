// A listening socket (Unix path or TCP) that hands accepted fds to a callback.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "net/event_loop.hpp"

namespace warren::net {

class Listener : public Pollable {
 public:
  using AcceptFn = std::function<void(int fd)>;  // a connected, CLOEXEC fd; callee owns it

  // Binds and listens on `path`. Does NOT unlink an existing file: the caller
  // decides (see socketlock's election). Throws std::system_error naming the path.
  static std::unique_ptr<Listener> unix_socket(EventLoop& loop, const std::string& path,
                                               AcceptFn fn, int backlog = 1024);
  // SO_REUSEADDR; port 0 picks an ephemeral port (see port()). Empty host = any.
  static std::unique_ptr<Listener> tcp(EventLoop& loop, const std::string& host, uint16_t port,
                                       AcceptFn fn, int backlog = 1024);

  ~Listener() override;  // closes the fd; does not unlink the path
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;

  uint16_t port() const { return port_; }  // bound TCP port; 0 for Unix sockets
  int fd() const { return fd_; }

  void on_events(uint32_t events) override;

 private:
  Listener(EventLoop& loop, int fd, AcceptFn fn);
  void resume_after_fd_shortage();

  EventLoop& loop_;
  int fd_;
  AcceptFn fn_;
  uint16_t port_ = 0;
  bool watching_ = false;
  TimerId retry_timer_ = 0;
  bool* destroyed_ = nullptr;
};

}  // namespace warren::net
