#pragma once
// What the management API and the Prometheus endpoint show, as plain
// values: taken on the broker's loop thread in one turn (so consistent),
// then encoded on an HTTP thread. Nothing here points into the broker.
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "broker/stats.hpp"
#include "broker/value.hpp"
#include "common/histogram.hpp"
#include "common/engine/server_engine.hpp"
#include "server/amqp_server.hpp"

namespace warren::server {
class Node;
}

namespace warren::mgmt {

struct QueueInfo {
  std::string vhost, name;
  bool durable = false, auto_delete = false, exclusive = false;
  broker::Table arguments;
  std::string type;  // classic, quorum, stream, lock
  uint64_t messages_ready = 0, messages_unacknowledged = 0, consumers = 0;
  uint64_t message_bytes_ready = 0;  // bodies of the ready messages
  uint64_t messages_paged_out = 0;   // of the ready, only on disk
  // Approximate bytes held for the queue (see queue_memory in snapshot.cpp).
  uint64_t memory = 0;
  broker::MessageCounts counts;
  bool lock = false;  // a lock queue: holders and waiters below
  uint64_t lock_holders = 0, lock_waiters = 0;
  std::string policy;  // the policy that applies to it, "" for none
  broker::Table policy_definition;
};

struct ExchangeInfo {
  std::string vhost, name, type;
  bool durable = false, auto_delete = false, internal = false;
  broker::Table arguments;
};

struct BindingInfo {
  std::string vhost, source, destination;
  bool to_exchange = false;  // destination_type "exchange", else "queue"
  std::string routing_key;
  broker::Table arguments;
};

// A vhost's own figures (the directory's metadata is read separately).
struct VHostStats {
  std::string name;
  uint64_t messages_ready = 0, messages_unacknowledged = 0;
  uint64_t queues = 0, exchanges = 0, connections = 0;
  broker::MessageCounts counts;   // its queues', live and deleted
  broker::PublishCounts publish;  // its publishers'
};

// Node-wide sums, with what deleted vhosts counted (they never go down).
struct Totals {
  uint64_t queues = 0, exchanges = 0, connections = 0, channels = 0, consumers = 0;
  uint64_t messages_ready = 0, messages_unacknowledged = 0;
  uint64_t queue_consumers = 0, queue_memory = 0;  // summed over queues
  broker::MessageCounts counts;
  broker::PublishCounts publish;
};

struct NodeInfo {
  engine::Alarms alarms;
  uint64_t mem_limit = 0, disk_free_limit = 0;
  uint64_t message_memory = 0;  // bytes of live messages (the memory alarm's measure)
  std::string amqp_host;
  uint16_t amqp_port = 0;  // 0: AMQP is off
};

// What to take: most requests need only a part.
struct Want {
  bool queues = false, exchanges = false, bindings = false, connections = false;
  bool vhosts = false;  // VHostStats
  bool totals = false;  // Totals (walks every queue's counters)
  bool lock_queues = false;  // the lock queues only, into `queues` (when not `queues`)
  // Only these vhosts' objects (empty: all).
  std::set<std::string> only;
};

// A vhost store's write-and-sync latency (with `totals`).
struct StoreSync {
  std::string vhost;
  LatencyHistogram::Counts latency;
};

// The socketlock primary in this warrend (Api's socketlock_gauges).
struct SocketlockGauges {
  uint64_t clients = 0, exclusive_holders = 0, shared_holders = 0, waiters = 0;
  uint64_t epoch = 0, next_token = 0;
};

struct Snapshot {
  int64_t taken_at_ms = 0;  // wall clock
  double taken_at = 0;      // monotonic seconds, for rates
  std::vector<QueueInfo> queues;
  std::vector<ExchangeInfo> exchanges;
  std::vector<BindingInfo> bindings;
  std::vector<server::ConnectionSummary> connections;
  std::vector<VHostStats> vhosts;
  Totals totals;
  NodeInfo node;
  std::vector<StoreSync> store_sync;
  std::optional<SocketlockGauges> socketlock;  // null: not served here
};

// On the broker's thread. `amqp` may be null (AMQP off).
Snapshot take_snapshot(server::Node& node, const server::AmqpServer* amqp, const Want& want);

// A queue's approximate memory: the bodies of its ready messages in memory,
// a fixed cost per entry (ready, paged, unacked) and the queue itself.
uint64_t queue_memory(uint64_t ready_bytes_in_memory, uint64_t ready, uint64_t paged, uint64_t unacked);

}  // namespace warren::mgmt
