#pragma once
// What every recipe shares: the connection (made on acquire, dropped on an
// Error), the bookkeeping of the hold, and the retry pause. A recipe only
// says how it takes, checks and lets go of its lock.
#include <memory>
#include <string>

#include "recipes/amqp_conn.hpp"
#include "recipes/fence.hpp"
#include "recipes/lock_client.hpp"

namespace warren::recipes {

using Clock = amqp::Clock;

class Recipe : public LockClient {
 public:
  Recipe(const Endpoint& ep, std::string lock, const Options& o) : lock_(std::move(lock)), opts_(o), ep_(ep) {}
  std::optional<Held> acquire(std::chrono::milliseconds timeout) final;
  bool verify() final;
  void release() final;
  void disconnect() final;

 protected:
  // Each is called with a live connection. An Error from one drops the
  // connection, forgets the hold and reaches the caller.
  virtual std::optional<Held> take(Clock::time_point deadline) = 0;
  virtual bool still_held() = 0;
  virtual void let_go() = 0;
  // Lets go of local state only (channels), after a failed verify: the
  // broker ended the hold, and deleting by name could hit the next holder's.
  virtual void abandon() = 0;
  // The connection is gone: forget channel numbers and the like.
  virtual void forget() = 0;
  // Warren's lock queues carry their own tokens: no counter queue then.
  virtual bool tokens_from_broker() const { return false; }

  amqp::Connection& conn() { return *conn_; }
  const std::string lock_;
  const Options opts_;

 private:
  void lost();
  // Takes the hold's token from its counter queue (recipes/fence.hpp):
  // "LOCK.fence", or "LOCK.fence.SLOT" for a semaphore's slot.
  std::optional<Held> fenced(Held h, Clock::time_point deadline);

  Endpoint ep_;
  Fence fence_;
  std::unique_ptr<amqp::Connection> conn_;
  std::optional<Held> held_;
};

// Sleeps a little before the next try: 10 ms, doubling up to 100 ms, with
// jitter, never past `deadline`. false: the deadline has passed.
bool pause_before_retry(Clock::time_point deadline, int attempt);

// Closes a channel if it is open and zeroes the number.
void close_quietly(amqp::Connection& c, uint16_t& ch);

// Whether `queue` exists: a passive declare on a channel of its own (the
// 404 closes that channel). Any other refusal is an Error.
bool queue_exists(amqp::Connection& c, const std::string& queue);

// Channel errors a recipe does not expect end the attempt as an Error.
[[noreturn]] void unexpected(const std::string& what, const amqp::Status& s);

// The recipes, one per file.
std::unique_ptr<LockClient> make_native(const Endpoint& ep, const std::string& lock, const Options& o, bool semaphore);
std::unique_ptr<LockClient> make_exclusive_queue(const Endpoint& ep, const std::string& lock, const Options& o);
std::unique_ptr<LockClient> make_exclusive_consumer(const Endpoint& ep, const std::string& lock, const Options& o);
std::unique_ptr<LockClient> make_single_queue(const Endpoint& ep, const std::string& lock, const Options& o);
std::unique_ptr<LockClient> make_semaphore_ab(const Endpoint& ep, const std::string& lock, const Options& o);
std::unique_ptr<LockClient> make_token_semaphore(const Endpoint& ep, const std::string& lock, const Options& o,
                                                 bool at_most_once);

}  // namespace warren::recipes
