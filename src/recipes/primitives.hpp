#pragma once
// Two building blocks of amqp-locks that several recipes use.
#include <string>

#include "recipes/recipe.hpp"

namespace warren::recipes {

// amqp-locks' "true mutex": an exclusive queue. Declaring it succeeds for
// one connection at a time; the others get 405 RESOURCE_LOCKED, which
// closes their channel. The broker deletes it when its connection ends.
// The exclusive-queue recipe is this, and the semaphores use it as their
// administration mutex.
class ExclusiveQueueMutex {
 public:
  explicit ExclusiveQueueMutex(std::string queue) : queue_(std::move(queue)) {}
  // Declares the queue until that succeeds (true) or `deadline` passes.
  bool lock(amqp::Connection& c, Clock::time_point deadline);
  // Deletes the queue and closes its channel.
  void unlock(amqp::Connection& c);
  // Closes its channel only (the queue stays if it is still ours).
  void abandon(amqp::Connection& c) { close_quietly(c, ch_); }
  void forget() { ch_ = 0; }
  bool held() const { return ch_ != 0; }
  uint16_t channel() const { return ch_; }
  const std::string& queue() const { return queue_; }

 private:
  std::string queue_;
  uint16_t ch_ = 0;
};

// amqp-locks' existence check: a mandatory publish (with a zero TTL, so
// nothing piles up) that is confirmed, or committed in a transaction. A
// queue that does not exist returns it (basic.return) before the
// confirm or the commit-ok. It checks the name only: another queue
// declared since under the same name passes.
class Prober {
 public:
  explicit Prober(Verify how) : how_(how) {}
  bool exists(amqp::Connection& c, const std::string& queue);
  void forget() { ch_ = 0; }

 private:
  Verify how_;
  uint16_t ch_ = 0;
};

}  // namespace warren::recipes
