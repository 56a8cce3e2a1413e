#pragma once
// What a queue hands messages to. A front end implements Consumer for an
// AMQP 0-9-1 consumer (basic.consume) or an AMQP 1.0 sending link.
//
// Consumers pull by credit: a queue hands a consumer at most credit()
// deliveries until the front end grants more (0-9-1: prefetch minus
// unacked; 1.0: link credit) and calls Queue::credit_changed().
//
// A queue calls a consumer only from its outbox (outbox.hpp), once the
// operation that decided the call is complete: a consumer may call back
// into the core from any of these.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "broker/message.hpp"

namespace warren::broker {

class Queue;

struct Delivery {
  std::shared_ptr<Queue> queue;
  uint64_t seq = 0;          // the entry's id in its queue, for settlement
  MessagePtr message;
  bool redelivered = false;  // handed out before and returned unsettled
  uint32_t delivery_count = 0;
};

class Consumer {
 public:
  virtual ~Consumer() = default;
  // How many more deliveries this consumer may be handed now.
  virtual uint32_t credit() const = 0;
  // Hands over one delivery (only while credit() > 0). A consumer that
  // settles on delivery (no-ack) returns true, and the queue forgets it.
  virtual bool deliver(Delivery d) = 0;
  // True for a consumer that settles what it is handed (no-ack, pre-settled
  // links): the queue does not track a delivery before handing it over,
  // only after, if deliver() still returns false.
  virtual bool settles_on_delivery() const { return false; }
  // The queue went away (deleted, or its exclusive owner closed): 0-9-1's
  // consumer_cancel_notify / 1.0's detach.
  virtual void cancelled_by_queue() {}
  // A queue with single-active-consumer made this consumer (in)active.
  virtual void active_changed(bool active) {}

 private:
  friend class Queue;
  friend class Outbox;
  friend class LockQueue;
  // Deliveries decided for this consumer that wait in the outbox
  // (outbox.hpp): counted against credit() until they are handed over.
  uint32_t waiting_ = 0;
};

// What a consumer of a lock queue asks for (0-9-1 consumer argument
// "x-lock-mode"; AMQP 1.0 link property of the same name). Default: what
// the lock's kind takes (a mutex or read/write lock: exclusive; a
// semaphore: one permit).
enum class LockMode : uint8_t { Default, Shared, Exclusive };
// "read"/"shared" and "write"/"exclusive"; nothing for anything else.
std::optional<LockMode> parse_lock_mode(std::string_view s);

// How a queue knows its consumers.
struct ConsumerSlot {
  Consumer* consumer;
  std::string tag;
  int priority = 0;     // consumer x-priority: higher served first while they have credit
  bool exclusive = false;
  uint64_t owner = 0;   // connection id
  LockMode lock_mode = LockMode::Default;
};

}  // namespace warren::broker
