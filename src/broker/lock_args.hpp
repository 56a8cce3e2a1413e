#pragma once
// The arguments of a lock queue (x-queue-type "lock"), parsed and checked
// with the other queue arguments (queue_args.cpp). docs/locks.md lists them.
#include <cstdint>
#include <optional>
#include <string_view>

#include "common/time.hpp"
#include "locks/rw_lock.hpp"

namespace warren::broker {

enum class LockKind : uint8_t { Mutex, RwLock, Semaphore };

// Hears what lock queues grant and release (warrend logs it).
struct LockEvent {
  enum class Kind : uint8_t { Granted, Released, LeaseEnded };
  Kind kind;
  std::string_view lock;
  uint64_t connection;       // the holder's (0: unknown)
  std::string_view consumer;  // its consumer tag or link name ("" for basic.get)
  uint64_t token;
  bool shared;
  uint32_t permit = 0;  // a semaphore's slot (0: not a semaphore)
};
class LockObserver {
 public:
  virtual ~LockObserver() = default;
  virtual void lock_event(const LockEvent& e) = 0;
};

struct LockArgs {
  LockKind kind = LockKind::Mutex;             // x-lock-kind: "mutex", "rwlock", "semaphore"
  uint32_t permits = 1;                        // x-permits: a semaphore's holders at once
  locks::Policy policy = locks::Policy::Fifo;  // x-lock-policy: "fifo", "writer-preferred", "reader-preferred"
  std::optional<Duration> lease;               // x-lock-ttl (ms): a grant not renewed for this long ends
  bool unsafe_double_grant = false;            // the prover's planted bug (VHost::set_unsafe_double_grant)
  LockObserver* observer = nullptr;            // not owned; null: nobody
};

}  // namespace warren::broker
