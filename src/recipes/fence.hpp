#pragma once
// A fencing token from plain AMQP 0-9-1, for the recipes whose broker gives
// none (RabbitMQ, or Warren's ordinary queues). The counter is a persistent
// message in a durable queue; a lock holder, and only a holder, takes the
// next token:
//
//   1. basic.get every ready message (unacknowledged): normally one;
//   2. publish max + 1, persistent, and wait for its confirm;
//   3. ack what it got. max + 1 is its token.
//
// Why it never repeats a token that was used (docs/locks.md, "Fencing the
// recipes"): a token is used only once its message is confirmed, so it is
// in the queue, ready or unacknowledged. A message leaves the queue only
// when a holder acks it, after that holder's higher one was confirmed. An
// unacknowledged one comes back when its channel closes. So the queue always
// holds a message at least as high as every token used. The one gap is a
// holder that dies between 1 and 3 while the broker hands on the lock
// before it puts the dead holder's messages back: the next holder could
// then read a lower maximum. Warren closes a connection in one step (its
// exclusive queues, consumers and unacknowledged messages together), so the
// gap is not there; RabbitMQ's queues are separate processes, and it may be.
//
// An empty queue means a counter is unacknowledged somewhere (wait for it
// to come back), or the counter was never seeded: the marker queue
// "COUNTER.seeded" (durable) says which. Seeding publishes 0 and then
// declares the marker, so a seeder that dies in between is replaced.
//
// Tokens survive broker restarts (durable queue, persistent messages,
// confirms after the disk has them) and start at 1.
#include <optional>
#include <set>
#include <string>

#include "recipes/amqp_conn.hpp"

namespace warren::recipes {

class Fence {
 public:
  // Only while holding the lock the counter queue belongs to. nullopt: not
  // done by `deadline` (the counter stayed away). Throws Error.
  std::optional<uint64_t> next(amqp::Connection& c, const std::string& counter, amqp::Clock::time_point deadline);
  void forget() {
    ch_ = 0;
    declared_.clear();
  }

 private:
  void seed(amqp::Connection& c, const std::string& counter);

  uint16_t ch_ = 0;                  // confirm mode
  std::set<std::string> declared_;   // counter queues declared on ch_
};

// The token's text in the counter message; 0 for anything else.
uint64_t parse_counter(const std::string& body);

}  // namespace warren::recipes
