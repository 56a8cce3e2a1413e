#pragma once
// The changes a queue's state can undergo, as values. Queue::apply is the
// one place they take effect; the rest of Queue decides which to apply
// (reading its state and `now`) and does what follows from them outside
// the state (deliveries, dead letters, telling the host). The same ops in
// the same order on the same starting state give the same state: nothing
// in an op's effect reads a clock, randomness or the machine. So a store
// can log them and replay them at startup, and a replica can apply them.
// docs/architecture.md ("Queue operations") says which a durable queue logs.
#include <cstdint>
#include <variant>
#include <vector>

#include "broker/message.hpp"

namespace warren::broker {

class Queue;

// One message in a queue, ready or unacked. Millions may wait, so it is
// kept at 40 bytes: no optional (its flag would pad to 16), and the
// redelivered flag packed with the count.
struct QueueEntry {
  static constexpr TimePoint kNever = TimePoint::max();  // no TTL

  // A constructor, not aggregate init, so that a lane can emplace one
  // (clang before 16 cannot emplace an aggregate).
  QueueEntry(MessagePtr m, uint64_t s, TimePoint e = kNever) : msg(std::move(m)), seq(s), expires(e) {}

  MessagePtr msg;
  uint64_t seq;
  TimePoint expires;
  uint32_t delivery_count : 31 = 0;
  bool redelivered : 1 = false;

  bool operator==(const QueueEntry&) const = default;
};
static_assert(sizeof(QueueEntry) == 40);

// Why an entry leaves its queue for good, which says where it leaves from:
// settlements from the unacked, the others from the ready.
enum class Removal : uint8_t {
  Consumed,  // ready: handed to a consumer that settles on delivery (no-ack, pre-settled)
  Acked,     // unacked: settled as accepted (or settled by its consumer on receipt)
  Rejected,  // unacked: settled as rejected; dead-lettered when the queue has a DLX
  Expired,   // ready: its TTL ran out; dead-lettered likewise
  MaxLen,    // ready: dropped by drop-head overflow; dead-lettered likewise
};
constexpr bool settles(Removal why) { return why == Removal::Acked || why == Removal::Rejected; }

namespace ops {

// A message joins the tail of its priority's ready lane. Its seq is chosen
// by the deciding code (the queue's next_seq), so replay needs no counter.
struct Enqueue {
  uint64_t seq;
  MessagePtr msg;
  TimePoint expires = QueueEntry::kNever;
  // Recovered from a store: it may have been delivered before.
  bool redelivered = false;
};
// The ready entry goes to a consumer or basic.get and waits, unacked, for
// its settlement.
struct Acquire {
  uint64_t seq;
};
// The entry leaves the queue, from where `why` says.
struct Remove {
  uint64_t seq;
  Removal why;
};
// The unacked entry goes back to its place among the ready ones (by seq),
// marked redelivered, with this delivery count.
struct Requeue {
  uint64_t seq;
  uint32_t delivery_count;
};
// A consumer that settles on delivery kept this one unsent (parked): it was
// removed as Consumed, and is unacked again until that consumer settles it.
struct Park {
  QueueEntry entry;
};
// Every ready entry leaves; unacked ones stay.
struct Purge {};
// The queue is deleted: every entry leaves, and nothing more is accepted.
struct Close {};

}  // namespace ops

using QueueOp = std::variant<ops::Enqueue, ops::Acquire, ops::Remove, ops::Requeue, ops::Park, ops::Purge, ops::Close>;

// Told of every op a queue applies, in order, as it is applied:
// a store logs them, a test records them. It must not change the queue;
// it may read it. `msg` is the message the op acts on (the removed,
// acquired, requeued or parked entry's; Enqueue's own); null for Purge
// and Close, which act on the whole queue and are heard before they do.
class QueueLog {
 public:
  virtual ~QueueLog() = default;
  virtual void record(const Queue& q, const QueueOp& op, const Message* msg) = 0;
};

// A queue's state as a value: what the ops act on, for snapshots and tests.
struct QueueState {
  std::vector<QueueEntry> ready;    // in delivery order: highest priority first, then by seq
  std::vector<QueueEntry> unacked;  // by seq
  uint64_t next_seq = 1;
  bool closed = false;

  bool operator==(const QueueState&) const = default;
};

}  // namespace warren::broker
