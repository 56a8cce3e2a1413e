#pragma once
// Effects: what the core's operations leave for the front ends and the
// host, run once the operation is complete instead of in its middle.
//
// A queue never calls a consumer, the dead-letter exchange or its host
// while it changes its state: it pushes an effect here. When the outermost
// operation of the core ends (an Outbox::Operation going out of scope),
// the outbox runs what it holds, in order. An effect's callee may start
// another operation (a consumer publishing from deliver(), a dead letter
// landing in a queue with consumers): that operation is complete before
// its own effects run, so no queue, vhost or session is ever re-entered
// half-changed. The effects of nested operations join the same queue and
// run in the order they were pushed.
//
// Publisher outcomes wait in PendingOutcomes (outcomes.hpp) and returns
// are in PublishResult: neither calls a front end from inside the core.
#include <cstdint>
#include <memory>
#include <variant>
#include <vector>

#include "broker/consumer.hpp"
#include "broker/message.hpp"
#include "broker/queue_op.hpp"

namespace warren::broker {

class Queue;
class QueueHost;
enum class DeadReason : uint8_t;

namespace effects {

// A message for a consumer. The consumer's credit was counted when this
// was pushed (Consumer::waiting_). `settled`: the consumer settles on
// delivery and the entry has left the queue; `entry` is what to park if
// the consumer keeps it unsent.
struct Deliver {
  // A constructor, for emplacing (clang before 16 cannot emplace an aggregate).
  Deliver(std::shared_ptr<Queue> q, Consumer* c, QueueEntry&& e, bool s)
      : queue(std::move(q)), consumer(c), entry(std::move(e)), settled(s) {}

  std::shared_ptr<Queue> queue;
  Consumer* consumer;
  QueueEntry entry;
  bool settled;
};
// The queue went away: Consumer::cancelled_by_queue.
struct Cancel {
  Consumer* consumer;
};
// Single active consumer: Consumer::active_changed.
struct Activate {
  Consumer* consumer;
  bool active;
};
// A message the queue removed goes to its dead-letter exchange.
struct DeadLetter {
  std::shared_ptr<Queue> from;
  MessagePtr msg;
  DeadReason why;
  TimePoint now;
};
// The queue should be deleted (auto-delete, x-expires).
struct Unused {
  std::shared_ptr<Queue> queue;
};

}  // namespace effects

// std::monostate: an effect withdrawn (its consumer went first).
using Effect = std::variant<std::monostate, effects::Deliver, effects::Cancel, effects::Activate, effects::DeadLetter,
                            effects::Unused>;

class Outbox {
 public:
  // Runs dead letters and unused queues through `host`.
  explicit Outbox(QueueHost& host) : host_(host) {}
  Outbox(const Outbox&) = delete;
  Outbox& operator=(const Outbox&) = delete;

  // One operation of the core, for its duration. The outermost one to end
  // runs the effects: the only nesting the core counts, so that no effect
  // runs while any queue, vhost or session below it is mid-change. An
  // operation started by an effect's callee leaves its effects to the run
  // already going, which takes them in turn: runs never nest, so a long
  // run of effects whose callees call back costs no stack.
  class Operation {
   public:
    explicit Operation(Outbox& o) : Operation(&o) {}
    // None: nothing to count (a session that has tracked nothing yet).
    explicit Operation(Outbox* o) : o_(o) {
      if (o_) ++o_->depth_;
    }
    ~Operation() {
      if (o_ && --o_->depth_ == 0 && !o_->in_run_) o_->run();
    }
    Operation(const Operation&) = delete;
    Operation& operator=(const Operation&) = delete;

   private:
    Outbox* o_;
  };

  template <class T>
  void push(T effect) {
    effects_.emplace_back(std::in_place_type<T>, std::move(effect));
  }
  // Built in place: the delivery path, once per message and consumer.
  template <class T, class... Args>
  void emplace(Args&&... args) {
    effects_.emplace_back(std::in_place_type<T>, std::forward<Args>(args)...);
  }
  // Withdraws every effect for `c`, which is leaving its queue, and hands
  // its deliveries to `back` to be returned to the queue.
  void withdraw(Consumer* c, std::vector<effects::Deliver>& back);
  bool empty() const { return effects_.empty() && run_next_ + 1 >= running_.size(); }

 private:
  // Runs effects in order until none is left, those pushed meanwhile too.
  void run();
  void run_one(Effect& e);

  QueueHost& host_;
  // Pushed, waiting for the run. A run takes them all at once into
  // running_ (the two vectors swap, keeping their capacity) and runs them
  // in place: what callees push meanwhile goes to effects_, so the
  // effect being run never moves.
  std::vector<Effect> effects_;
  std::vector<Effect> running_;
  size_t run_next_ = 0;  // the effect of running_ being run
  int depth_ = 0;
  bool in_run_ = false;
};

}  // namespace warren::broker
