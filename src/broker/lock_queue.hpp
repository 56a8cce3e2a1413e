#pragma once
// A lock queue (x-queue-type "lock"): a named mutex, read/write lock or
// counting semaphore that a stock AMQP client takes by consuming. The
// queue's calls map onto the lock (docs/locks.md is the user's view):
//
//   consumer added            a standing request, in its x-lock-mode
//   request granted           a delivery carrying the fencing token (and a
//                             semaphore's permit slot, x-lock-permit), unsettled
//   delivery settled          release, whatever the outcome; the consumer
//                             asks again (it stays a standing request)
//   consumer cancelled,       release (a session's close settles Released)
//   channel/connection gone
//   lease not renewed         the grant ends; the consumer is cancelled
//   basic.get                 try-lock: granted now, or get-empty
//   publish x-fencing-token   verify and renew: accepted while that token
//                             is held, rejected (0-9-1 nack, 1.0 rejected)
//
// A grant goes only to a consumer with credit: an offer to one without
// waits (blocking the others) until it has some or the confirm timeout.
// Nothing is logged: a lock holds no messages. A durable lock comes back
// after a restart as a definition; its grants do not (their connections
// did not either), and tokens keep increasing (VHost::set_lock_epoch).
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "broker/consumer.hpp"
#include "broker/error.hpp"
#include "broker/lock_args.hpp"
#include "broker/message.hpp"
#include "broker/outbox.hpp"
#include "locks/rw_lock.hpp"

namespace warren::broker {

class Queue;

class LockQueue {
 public:
  // Tokens come from `*tokens` (shared by a vhost's locks); null: from 1.
  LockQueue(Queue& q, const LockArgs& args, locks::Token* tokens);

  // A consumer may take grants: it must settle them (not no-ack) and ask
  // for a mode the kind has. Checked before the queue adds it.
  Error check_consumer(const ConsumerSlot& slot) const;
  // basic.get must be acknowledged too.
  Error check_get(bool no_ack) const;
  void consumer_added(const ConsumerSlot& slot, TimePoint now);
  // Cancelled or gone: its request is withdrawn, its grant released.
  void consumer_removed(Consumer* c, TimePoint now);
  void credit_changed(TimePoint now);
  std::optional<Delivery> get(TimePoint now);
  bool verify(const Message& msg, TimePoint now);
  // Delivery `seq` was settled (any outcome): its grant ends.
  void release(uint64_t seq, TimePoint now);
  // From the outbox: hands a grant to its consumer.
  void hand_over(effects::Deliver& d);
  void close();

  void advance(TimePoint now);
  std::optional<TimePoint> next_deadline() const { return lock_.next_deadline(); }

  uint32_t available() const { return lock_.available(); }
  size_t holders() const { return lock_.holders(); }
  const LockArgs& args() const { return args_; }
  locks::Snapshot snapshot() const { return lock_.snapshot(); }

  // Who holds and who waits, for the management API (GET /api/locks).
  struct Party {
    uint64_t connection = 0;  // the consumer's; 0 for basic.get's grant
    std::string tag;          // its consumer tag or link name ("" for basic.get)
    bool shared = false;
    locks::Token token = 0;   // held, or offered
    locks::Permit permit = 0; // a semaphore's slot, 1..permits (0: not a semaphore)
    uint64_t delivery = 0;    // a holder's grant: the queue's delivery seq
    bool offered = false;     // a waiter granted the lock, waiting for its credit
  };
  struct View {
    std::vector<Party> holders;
    std::vector<Party> waiters;  // in line: an offer first, then the lock's order
    locks::Token last_token = 0;  // the last this lock granted (0: none yet)
  };
  View view() const;

 private:
  struct Member {
    Consumer* consumer;
    locks::OwnerId owner;
    locks::Mode mode;
    uint64_t connection;
    std::string tag;
    enum class State : uint8_t { Idle, Waiting, Offered, Held } state = State::Idle;
    locks::Token token = 0;  // Offered, Held
    locks::Permit permit = 0;
  };
  struct Grant {
    locks::OwnerId owner;
    locks::Token token;
    locks::Mode mode;
    Consumer* consumer;  // null: basic.get's
    locks::Permit permit = 0;
  };
  void tell(LockEvent::Kind k, const Grant& g);

  Member* member(Consumer* c);
  Member* member_of(locks::OwnerId owner);
  bool has_credit(const Consumer* c) const;
  void ask(Member& m, TimePoint now);
  // Runs the lock's events: offers confirmed and delivered, leases ended.
  void pump(TimePoint now);
  void deliver(Member& m, TimePoint now);
  void lease_ended(locks::Token token);
  MessagePtr grant_message(const Grant& g) const;

  Queue& q_;
  LockArgs args_;
  locks::RwLock lock_;
  std::vector<Member> members_;   // few: found by a scan
  std::map<uint64_t, Grant> grants_;  // by delivery seq
  locks::OwnerId next_owner_ = 1;
  locks::OwnerId getter_ = 0;     // basic.get's owner while it asks
  locks::Token got_ = 0;          // and what it was offered
  locks::Permit got_permit_ = 0;
  locks::Token last_token_ = 0;   // the last granted (View::last_token)
  std::vector<locks::Event> events_;
  TimePoint last_now_{};
};

}  // namespace warren::broker
