#pragma once
// The machinery behind socketlock::Client: an I/O thread running an event
// loop that owns the connection and the ClientEngine, and the state shared
// with the user's threads (guarded by `mu`). Internal to the library.
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "net/socket.hpp"
#include "net/deadline_timer.hpp"
#include "socketlock/client.hpp"
#include "socketlock/client_engine.hpp"
#include "socketlock/embedded_primary.hpp"

namespace warren::socketlock {

struct HeldLock {
  locks::Mode mode;
  locks::Token token;
  std::string id;
  std::optional<warren::TimePoint> expires;  // local clock, conservative
  int count = 1;
  bool lost = false;
  std::string why;
};

struct AcquireResult {
  enum class State { Pending, Acquired, Failed, Cancelled } state = State::Pending;
  std::string reason;
  std::shared_ptr<HeldLock> held;
};

class ClientCore final : public net::Socket::Handler, public std::enable_shared_from_this<ClientCore> {
 public:
  ClientCore(std::string path, LockConfig cfg);
  ~ClientCore() override;

  // --- user threads ---
  void start();                        // starts the I/O thread and the first connect
  void wait_ready();                   // throws Error when connect_timeout passes
  AcquireResult acquire(locks::Mode mode, const AcquireOptions& opts);
  void release(const std::shared_ptr<HeldLock>& held);
  void close(bool graceful);           // graceful: wait for Locks, EOL
  std::vector<std::string> show();
  std::vector<int> lock_descriptors();  // see Client::lock_descriptors()

  std::mutex mu;
  std::condition_variable cv;
  std::shared_ptr<HeldLock> held;      // what this client holds, shared by its Locks
  bool acquiring = false;
  bool ready = false;
  bool closed = false;
  bool is_primary = false;
  bool go_dialect = false;
  std::string client_id;
  std::string fatal;                   // why connecting failed for good
  std::function<void(locks::Token, const std::string&)> on_lost;

 private:
  // --- I/O thread ---
  void connect_attempt();
  void schedule_connect(milliseconds delay);
  void start_engine(int fd);
  void send_want();
  void cancel_want();
  void finish(AcquireResult::State st, std::string reason, std::shared_ptr<HeldLock> h);
  void pump();
  void handle_events();
  void lose_held(const std::string& why);
  void on_data(net::Socket& c, std::string_view bytes) override;
  void on_close(net::Socket& c, int error) override;
  milliseconds jitter(int lo_ms, int hi_ms);

  const std::string path_;
  const LockConfig cfg_;
  const std::string base_id_;
  net::EventLoop loop_;
  std::thread thread_;
  std::unique_ptr<net::Socket> conn_;
  std::unique_ptr<ClientEngine> engine_;
  std::shared_ptr<EmbeddedPrimary> primary_;
  std::vector<ClientEvent> events_;
  net::DeadlineTimer engine_timer_;  // at engine_->next_deadline()
  net::TimerId connect_timer_ = 0;
  warren::TimePoint connect_deadline_{};
  bool connected_once_ = false;
  std::mt19937_64 rng_{std::random_device{}()};

  // The acquire in flight, as the I/O thread sees it.
  struct Want { locks::Mode mode; std::optional<seconds> ttl; bool sent = false; bool cancel = false; };
  std::optional<Want> want_;
  AcquireResult result_;               // guarded by mu
  std::vector<std::string> show_lines_;
  bool show_done_ = false;             // guarded by mu
};

}  // namespace warren::socketlock
