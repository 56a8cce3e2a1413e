#pragma once
// The driver behind Connection and Channel: the lock, the Session, the I/O
// thread and its socket. Internal to src/client.
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "client/connection.hpp"

namespace warren::client {

class ConnectionCore {
 public:
  explicit ConnectionCore(ConnectionOptions opts);
  ~ConnectionCore();

  void start();
  void stop();  // the thread ends; a transport still up is cut

  // Runs f(session) under the lock, then wakes the I/O thread to send what
  // it produced. Exceptions from f propagate.
  template <class F>
  decltype(auto) with(F&& f) {
    struct Waker {
      ConnectionCore* c;
      ~Waker() { c->wake(); }
    } waker{this};
    std::lock_guard l(mu_);
    return f(session_);
  }
  // Waits until pred(session) holds, or the timeout. Under the lock.
  template <class P>
  bool wait(milliseconds timeout, P&& pred) {
    std::unique_lock l(mu_);
    return cv_.wait_for(l, timeout, [&] { return pred(session_); });
  }
  bool on_io_thread() const { return std::this_thread::get_id() == thread_.get_id(); }
  void wake();
  // Blocks an application thread while more than kHighWater bytes wait to
  // be written (a fast publisher, or a broker that stopped reading: its
  // connection.blocked), until they are under kLowWater or the connection
  // is no longer open. Memory stays bounded either way.
  void throttle();
  static constexpr size_t kHighWater = 8 << 20, kLowWater = 4 << 20;
  void drop_transport();  // as if the network failed
  const ConnectionOptions& options() const { return opts_; }

 private:
  void run();
  int dial(Error& err);
  void cut(TimePoint now, Error why);  // under the lock: close the socket, end the epoch

  ConnectionOptions opts_;
  std::mutex mu_;
  std::condition_variable cv_;
  Session session_;
  std::thread thread_;
  int fd_ = -1;
  int wake_fd_ = -1;
  std::atomic<bool> wake_armed_{false};
  std::atomic<bool> stopping_{false};
  std::atomic<bool> drop_requested_{false};
  std::atomic<size_t> unsent_{0};  // taken from the session, not yet written
  std::atomic<int> throttled_{0};  // publishers waiting in throttle()
  Session::State notified_state_ = Session::State::Idle;  // I/O thread only
  uint64_t notified_epoch_ = 0;
};

}  // namespace warren::client
