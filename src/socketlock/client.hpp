#pragma once
// The socketlock client library: the seed's API in C++.
//
//   auto client = socketlock::Client::connect("/tmp/locks.sock", {.policy = locks::Policy::WriterPreferred});
//   {
//     socketlock::Lock lock = client->acquire_write({.ttl = std::chrono::seconds(10)});
//     storage.write(data, lock.token());   // the fencing token guards the resource
//   }                                       // released here
//   client->close();                        // blocks until every Lock is released
//
// When no primary answers, connect() makes this process the primary: it
// claims the path (see election.hpp), serves it from a background thread and
// connects to itself. When the primary dies, the client waits a random
// 100-2100 ms, reconnects or takes over, and re-sends an acquire in flight;
// a lock held through the failure is lost, and its Lock says so.
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "locks/rw_lock.hpp"

namespace warren::socketlock {

using std::chrono::milliseconds;
using std::chrono::seconds;

struct LockConfig {
  // Applied when this process becomes the primary.
  locks::Policy policy = locks::Policy::WriterPreferred;
  milliseconds request_timeout = seconds(30);
  milliseconds confirm_timeout = seconds(30);
  milliseconds max_ttl = milliseconds::zero();  // zero: no limit
  // The client's own.
  milliseconds status_interval = seconds(10);
  milliseconds heartbeat = seconds(30);
  std::string client_id;                   // empty: "<host>-<pid>-<random>"
  milliseconds connect_timeout = seconds(10);
  bool may_become_primary = true;
};

// An operation failed; what() reads "socketlock: <reason>", e.g.
// "socketlock: timeout waiting for lock" (a REQFAIL reason) or
// "socketlock: multiple lock requests".
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& reason) : std::runtime_error("socketlock: " + reason), reason_(reason) {}
  const std::string& reason() const { return reason_; }

 private:
  std::string reason_;
};

// A held lock was lost (TTL passed, connection or primary gone).
class LockLost : public Error {
 public:
  using Error::Error;
};

struct AcquireOptions {
  std::optional<seconds> ttl;            // per-lock TTL, bounded by the primary's max_ttl
  std::optional<milliseconds> timeout;   // local give-up time; the server's request_timeout also applies
};

class ClientCore;
struct HeldLock;

// A held read or write lock. Move-only; releases in its destructor.
class Lock {
 public:
  Lock() = default;
  Lock(Lock&&) noexcept = default;
  Lock& operator=(Lock&& other) noexcept;
  ~Lock();

  void release();
  // The lock id: a fencing token, strictly increasing across all grants and
  // primaries. 0 when the server speaks the Go dialect (no tokens there).
  locks::Token token() const;
  locks::Mode mode() const;
  // False once released or lost, or once a TTL has passed on the local clock
  // (checked now, so a process that was stopped learns it on resume).
  bool valid() const;
  // When a TTL was asked for: the moment it passes on the local clock (which
  // starts when CONFIRM is sent, so before the primary's).
  std::optional<warren::TimePoint> expires() const;
  // Throws LockLost when !valid(): call before touching the resource.
  void check() const;
  std::string lost_reason() const;
  explicit operator bool() const { return valid(); }

 private:
  friend class Client;
  Lock(std::shared_ptr<ClientCore> core, std::shared_ptr<HeldLock> held) : core_(std::move(core)), held_(std::move(held)) {}
  std::shared_ptr<ClientCore> core_;
  std::shared_ptr<HeldLock> held_;
};

class Client {
 public:
  static std::unique_ptr<Client> connect(const std::string& path, LockConfig cfg = {});
  // Without close(): drops the connection (the primary releases everything)
  // and marks outstanding Locks lost.
  ~Client();

  // Nested acquisitions share the held lock: a read or write request while a
  // write lock is held, or a read while a read is held, just counts; the
  // lock is released when the last Lock goes. A write while only a read is
  // held throws ("lock upgrade not supported"). One acquire in flight per
  // client: a concurrent one throws "multiple lock requests".
  Lock acquire_read(AcquireOptions opts = {});
  Lock acquire_write(AcquireOptions opts = {});

  // Blocks until every Lock is released, says EOL and disconnects.
  void close();

  // The primary's state: holders, offer, waiters (Warren primaries only).
  std::vector<std::string> show();
  // Called from the client's I/O thread when a held lock is lost.
  void on_lost(std::function<void(locks::Token, const std::string& why)> fn);

  // New close-on-exec duplicates, owned by the caller, of the descriptors
  // whose open files keep this client's lock alive: its connection to the
  // primary and, when this process is the primary, its claim on the path.
  // A process that inherits them (after clearing FD_CLOEXEC) keeps the
  // primary from seeing this client's connection close, and keeps any other
  // process from becoming primary, until it exits or closes them: the way
  // flock(1) ties a lock to every process that holds its descriptor.
  // Empty when not connected.
  std::vector<int> lock_descriptors();

  bool is_primary() const;  // this process serves the path
  std::string client_id() const;
  bool go_dialect() const;

 private:
  explicit Client(std::shared_ptr<ClientCore> core) : core_(std::move(core)) {}
  Lock acquire(locks::Mode mode, AcquireOptions opts);
  std::shared_ptr<ClientCore> core_;
};

}  // namespace warren::socketlock
