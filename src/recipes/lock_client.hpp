#pragma once
// Lock clients that run against any AMQP 0-9-1 broker (Warren, RabbitMQ):
// the lock recipes of zbentley/amqp-locks and the RabbitMQ blog's token
// semaphore, built from queues, consumers and publishes, plus Warren's
// native lock queues. docs/locks.md ("Recipes") says what each guarantees
// and where each breaks.
//
// One LockClient is one connection (warren-client's single-threaded driver,
// blocking; recipes/amqp_conn.hpp). It is not thread-safe: one thread drives it.
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace warren::recipes {

struct Endpoint {
  std::string host = "127.0.0.1";
  int port = 5672;
  std::string user = "guest", password = "guest", vhost = "/";
  int heartbeat_s = 0;
};

enum class Verify : uint8_t { Confirm, Tx };  // how verify() asks the broker (publisher confirms or a transaction)

struct Options {
  uint32_t permits = 1;
  Verify verify = Verify::Confirm;
  bool shared = false;  // rwlock reader, native only
  // The recipes other than native take a fencing token from a counter
  // queue after each grant (recipes/fence.hpp). false: the recipe as its
  // authors wrote it, with no token (Held::token 0).
  bool fence = true;
};

struct Held {
  uint64_t token = 0;   // 0: no fencing token (Options::fence false)
  // A semaphore's permit slot, 1..permits (Warren's x-lock-permit, or the
  // recipe's own slot); 0: a mutex, or no token. A resource fences a
  // semaphore per slot: the highest token it accepted for that slot. The
  // recipes' tokens are counted per slot, Warren's per vhost.
  uint32_t permit = 0;
};

// Connection lost / protocol failure.
class Error : public std::runtime_error {
  using std::runtime_error::runtime_error;
};

class LockClient {
 public:
  virtual ~LockClient() = default;
  // Connects if not connected, then waits up to `timeout` for the lock. nullopt: not acquired within it.
  // Throws Error on connection loss or an unexpected broker error (the caller may call acquire again: it reconnects).
  virtual std::optional<Held> acquire(std::chrono::milliseconds timeout) = 0;
  // Asks the broker whether this client still holds it. false: lost. Throws Error on connection loss.
  virtual bool verify() = 0;
  // Lets go. Throws Error on connection loss (the lock is then released by the broker when it notices).
  virtual void release() = 0;
  // Drops the connection without releasing (tests; a process that dies).
  virtual void disconnect() = 0;
};

// Names below; throws std::invalid_argument for an unknown one.
std::unique_ptr<LockClient> make_lock_client(std::string_view recipe, const Endpoint& ep, const std::string& lock,
                                             const Options& o = {});
std::vector<std::string> recipe_names();
bool recipe_is_semaphore(std::string_view recipe);
bool recipe_needs_warren(std::string_view recipe);  // true only for "native*"

}  // namespace warren::recipes
