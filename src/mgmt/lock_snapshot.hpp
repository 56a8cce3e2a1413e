#pragma once
// GET /api/locks (Warren's own): each lock queue's holders and waiters,
// with the connection, channel and consumer of each and the fencing
// tokens, taken on the broker's loop in one turn as the other snapshots
// (snapshot.hpp) are.
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "mgmt/format.hpp"

namespace warren::broker {
class Broker;
}
namespace warren::server {
class AmqpServer;
}

namespace warren::mgmt {

// A holder or waiter: its consumer, found by connection and tag among the
// connections' channels (a lock knows only the connection's id and the tag).
struct LockParty {
  std::string connection;  // RabbitMQ's connection name; "" for basic.get's grant
  std::string user;
  uint32_t channel = 0;    // 0: not known (basic.get)
  std::string consumer_tag;
  bool shared = false;
  uint64_t token = 0;      // held, or offered
  uint32_t permit = 0;     // a semaphore's slot, 1..permits (0: not a semaphore)
  uint64_t delivery = 0;   // a holder's grant, as the queue numbers its deliveries
  bool offered = false;    // granted, waiting for its consumer's credit
};

struct LockInfo {
  std::string vhost, name;
  std::string kind, policy;       // x-lock-kind and x-lock-policy, as docs/locks.md writes them
  uint32_t permits = 1;
  std::optional<int64_t> ttl_ms;  // x-lock-ttl
  bool durable = false;
  std::vector<LockParty> holders, waiters;  // waiters in line
  uint64_t last_token = 0;        // the last this lock granted (0: none yet)
};

// On the broker's thread: the lock queues of `only` (empty: every vhost);
// `amqp` (null: AMQP off) names their consumers' connections.
std::vector<LockInfo> take_locks(const broker::Broker& broker, const server::AmqpServer* amqp,
                                 const std::set<std::string>& only);

// As the API answers: {"vhost", "name", "kind", ..., "holders": [...], "waiters": [...]}.
json lock_json(const LockInfo& l);

}  // namespace warren::mgmt
