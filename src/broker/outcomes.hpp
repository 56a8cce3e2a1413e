#pragma once
// Publisher outcomes that wait.
//
// A publish is done, for the publisher that asked to hear about it (0-9-1
// confirms and transactions, an unsettled 1.0 transfer), once every queue
// it reached holds it as safely as that queue promises: a transient queue
// at once; a durable queue holding a persistent message once the store
// says it is on disk. Until then the publish's outcome is pending, and
// pending outcomes complete in any order (queues on different logs, a
// store that syncs in batches).
//
// Who does what:
// - VHost::publish asks the vhost's Durability, per queue that took the
//   message, whether that queue's acceptance must wait. If any must, the
//   publish gets a ticket here (PublishResult::pending) with one part per
//   waiting queue.
// - The store (Durability) completes each part later: complete(ticket, ok).
// - Completed outcomes are effects, not calls: complete() only records.
//   The driver calls deliver() when the store's completions are in, and
//   each Publisher hears its completed outcomes in one call, outside any
//   publish or state change.
// - A publisher that goes away (channel or link closed) is removed; its
//   outcomes that complete later are dropped, as RabbitMQ drops the
//   confirms of a closed channel.
#include <cstdint>
#include <span>
#include <unordered_map>
#include <vector>

#include "broker/message.hpp"

namespace warren::broker {

class Queue;

using PublisherId = uint64_t;  // 0: nobody waits for the outcome
using OutcomeTicket = uint64_t;

struct Completion {
  uint64_t cookie;  // the publisher's own number for the publish (0-9-1: its confirm tag)
  bool ok;          // false: refused (a queue's overflow, or the store failed)
};

// Who asks for an outcome: what the front end puts into a publish.
struct PublishWaiter {
  PublisherId publisher = 0;
  uint64_t cookie = 0;
};

// A front end's publishing endpoint (a 0-9-1 channel, a 1.0 receiving link).
class Publisher {
 public:
  virtual ~Publisher() = default;
  // Outcomes of pending publishes, in the order they completed.
  virtual void outcomes_ready(std::span<const Completion> done) = 0;
};

// The store's side: which acceptances wait, and for what.
class Durability {
 public:
  virtual ~Durability() = default;
  // Must `q`'s acceptance of `msg` wait (a persistent message)? Asked only
  // for durable queues: a transient one never waits.
  virtual bool must_wait(const Queue& q, const Message& msg) const = 0;
  // It must: the store calls PendingOutcomes::complete(ticket, ok) once for
  // this (queue, message) when it knows. Ticket 0: nobody waits, complete nothing.
  virtual void wait(const Queue& q, const MessagePtr& msg, OutcomeTicket ticket) = 0;
};

class PendingOutcomes {
 public:
  PublisherId add_publisher(Publisher& p);
  // Its pending outcomes are forgotten; completions for them are dropped.
  void remove_publisher(PublisherId id);

  // Routing a publish for `w`: opened on the first queue that waits, one
  // part added per such queue, then sealed with what routing decided. A
  // publish refused at routing (ok false) is known at once: seal returns
  // true and its waiting parts complete into nothing. True: known now.
  OutcomeTicket open(const PublishWaiter& w);
  void add_part(OutcomeTicket t) { ++entries_.at(t).parts; }
  bool seal(OutcomeTicket t, bool ok);

  // The store: one part of `t` is done. Unknown tickets are ignored (their
  // publisher went away, or routing already refused the publish).
  void complete(OutcomeTicket t, bool ok);

  // Hands every completed outcome to its publisher, if it is still there.
  void deliver();
  bool ready() const { return !done_.empty(); }
  size_t pending() const { return entries_.size(); }
  size_t publishers() const { return publishers_.size(); }

 private:
  struct Entry {
    PublisherId publisher;
    uint64_t cookie;
    uint32_t parts = 0;
    bool sealed = false;
    bool ok = true;
  };
  struct Done {
    PublisherId publisher;
    Completion completion;
  };
  void finish(std::unordered_map<OutcomeTicket, Entry>::iterator it);

  PublisherId next_publisher_ = 1;
  OutcomeTicket next_ticket_ = 1;
  std::unordered_map<PublisherId, Publisher*> publishers_;
  std::unordered_map<OutcomeTicket, Entry> entries_;
  std::vector<Done> done_;
};

}  // namespace warren::broker
