// Lingering close: how a socket whose peer may still be sending is closed.
//
// close() on a socket with unread input makes Linux answer with RST (RFC
// 1122 4.2.2.13), and an RST can destroy the last frames we wrote before the
// peer reads them: a client that sent a burst of publishes and then
// connection.close would get ECONNRESET instead of close-ok. So a graceful
// close shuts down our write side (the peer reads our last bytes, then EOF)
// and hands the fd here, which reads and discards until the peer closes, the
// peer is quiet for a while, or a longer bound has passed - Apache's and nginx's
// "lingering close". Only then is the fd closed.
#pragma once

#include <chrono>
#include <memory>
#include <unordered_map>

#include "net/event_loop.hpp"

namespace warren::net {

struct LingerBounds {
  std::chrono::milliseconds quiet{2000};  // no input for this long: close
  std::chrono::milliseconds max{10000};   // a peer still sending after this: close
};

class Lingerer {
 public:
  using Bounds = LingerBounds;
  explicit Lingerer(EventLoop& loop, Bounds bounds = {});
  ~Lingerer();  // closes whatever still lingers
  Lingerer(const Lingerer&) = delete;
  Lingerer& operator=(const Lingerer&) = delete;

  // Takes ownership of `fd` (non-blocking, as every net socket is), whose
  // output is all written: shuts down its write side and closes it once
  // the peer is done. Loop thread only.
  void add(int fd);
  size_t size() const { return socks_.size(); }

 private:
  class Sock;
  void close(int fd);
  void sweep();

  EventLoop& loop_;
  const Bounds bounds_;
  std::unordered_map<int, std::unique_ptr<Sock>> socks_;
  TimerId sweep_timer_ = 0;
};

}  // namespace warren::net
