#pragma once
// A virtual host: its exchanges, queues and bindings, and the operations a
// front end performs on them, with RabbitMQ's rules and error texts.
// Single-threaded; time is an input.
#include <algorithm>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "broker/definition_log.hpp"
#include "broker/direct_reply.hpp"
#include "broker/env.hpp"
#include "broker/error.hpp"
#include "broker/exchange.hpp"
#include "broker/outcomes.hpp"
#include "broker/policy.hpp"
#include "broker/queue.hpp"
#include "broker/stats.hpp"

namespace warren::auth {
class Access;
}

namespace warren::broker {

using ConnectionId = uint64_t;

// Operations a client asks for carry its permissions (auth::Access): the
// core checks them where RabbitMQ does, in the same order, so that both
// front ends refuse alike (docs/security.md). Null: not checked (the
// broker's own work, recovery, tests).
struct ExchangeDeclare {
  std::string name;
  std::string type = "direct";
  bool passive = false, durable = false, auto_delete = false, internal = false;
  Table arguments;
  auth::Access* access = nullptr;
};

struct QueueDeclare {
  std::string name;  // empty: the server names it "amq.gen-..."
  bool passive = false, durable = false, exclusive = false, auto_delete = false;
  Table arguments;
  ConnectionId owner = 0;  // the declaring connection
  auth::Access* access = nullptr;
};

struct QueueDeclareOk {
  std::string name;
  uint64_t message_count = 0;
  uint32_t consumer_count = 0;
};

struct PublishResult {
  size_t queues = 0;      // how many queues it was routed to, each once (0: unroutable -> basic.return if mandatory)
  bool rejected = false;  // one of them refused it (reject-publish overflow): nack the publisher
  MessagePtr rewritten;   // set when the core changed the message (BCC removed): what was routed, and returned
  // Direct reply-to receivers it was handed to. Not queues: `queues` does
  // not count them (RabbitMQ neither).
  size_t replies = 0;
  // The outcome waits for the store (outcomes.hpp): the waiter hears it
  // through Publisher::outcomes_ready. Never set with `rejected`.
  bool pending = false;
};

// A publisher's last route: the queues a key reached through an exchange,
// reused while the vhost's routing is unchanged (no queue, exchange or
// binding added or removed since). Saves the exchange's lookups and the
// queues' lookups by name on a publisher's steady stream of publishes to
// one place. Owned by the publisher (a channel, a link); only VHost reads
// and fills it.
struct RouteCache {
  const Exchange* exchange = nullptr;
  std::string key;
  uint64_t version = 0;  // 0: empty
  std::vector<QueuePtr> queues;
};

class VHost final : public QueueHost {
 public:
  // Randomness (server-named queues, direct reply-to names) and the wall
  // clock (x-death's "time") come from `env`, which must outlive the vhost.
  VHost(std::string name, Env& env, TimePoint now);

  const std::string& name() const { return name_; }

  Error declare_exchange(const ExchangeDeclare& d);
  // Deleting an exchange that does not exist succeeds, as in RabbitMQ.
  Error delete_exchange(std::string_view name, bool if_unused, auth::Access* access = nullptr);
  Error declare_queue(const QueueDeclare& d, TimePoint now, QueueDeclareOk& ok);
  // Deleting a queue that does not exist succeeds with 0 messages, as in RabbitMQ.
  Error delete_queue(std::string_view name, bool if_unused, bool if_empty, ConnectionId who, TimePoint now,
                     uint64_t& messages, auth::Access* access = nullptr);
  Error purge_queue(std::string_view name, ConnectionId who, TimePoint now, uint64_t& messages,
                    auth::Access* access = nullptr);
  Error bind_queue(std::string_view queue, std::string_view exchange, std::string_view key, const Table& args,
                   ConnectionId who, auth::Access* access = nullptr);
  // Unbinding what is not bound (or from/to what does not exist) succeeds, as in RabbitMQ.
  Error unbind_queue(std::string_view queue, std::string_view exchange, std::string_view key, const Table& args,
                     ConnectionId who, auth::Access* access = nullptr);
  Error bind_exchange(std::string_view destination, std::string_view source, std::string_view key, const Table& args,
                      auth::Access* access = nullptr);
  Error unbind_exchange(std::string_view destination, std::string_view source, std::string_view key,
                        const Table& args, auth::Access* access = nullptr);
  // What publishing (write on the exchange) and consuming or getting (read
  // on the queue) need: the front ends ask before they look the resource
  // up, as RabbitMQ does (a 403 comes before a 404). Cheap: Access caches.
  static Error may_publish(auth::Access* access, std::string_view exchange);
  static Error may_consume(auth::Access* access, std::string_view queue);

  // Routes through `exchange` (and exchange-to-exchange bindings, and
  // alternate exchanges) into every matching queue, each queue once.
  // Sender-selected distribution, as RabbitMQ: the keys in the "CC" and
  // "BCC" headers (arrays of strings) are routing keys too, and "BCC" is
  // removed from the message; either header of another type is a 406.
  // On the default exchange, a key "amq.rabbitmq.reply-to.<token>" hands
  // the message to that direct reply-to receiver, if it is still there.
  // `waiter`: who hears the outcome if it must wait (none: nobody asks).
  Error publish(std::string_view exchange, const MessagePtr& msg, TimePoint now, PublishResult& result,
                const PublishWaiter& waiter = {});
  // The same through an exchange the caller looked up before (find_exchange)
  // and checked is not deleted(), and keeps alive for the call: saves the
  // lookup by name per publish.
  Error publish(Exchange& x, const MessagePtr& msg, TimePoint now, PublishResult& result,
                RouteCache* cache = nullptr, const PublishWaiter& waiter = {});

  // Outcomes that wait for the store. Without a Durability (no store, or
  // a test's), every outcome is known when publish returns.
  PendingOutcomes& outcomes() { return outcomes_; }
  void set_durability(Durability* d) { durability_ = d; }
  // Hears every change to durable definitions (the store); null: nobody.
  void set_definition_log(DefinitionLog* log) { definition_log_ = log; }
  // Every exchange and queue, by name (the store's snapshots and tests).
  const std::map<std::string, ExchangePtr, std::less<>>& exchanges() const { return exchanges_; }
  const std::map<std::string, QueuePtr, std::less<>>& queues() const { return queues_; }

  // Direct reply-to names and their receivers (see direct_reply.hpp). The
  // pseudo-queue "amq.rabbitmq.reply-to" and a live "amq.rabbitmq.reply-to.*"
  // exist for declare_queue (0 messages, 1 consumer); other such names do not.
  DirectReplyRegistry& direct_reply() { return direct_reply_; }

  // The queue, checked for use by `who` (405 when exclusive to another
  // connection; 404 when missing).
  QueuePtr queue_for(std::string_view name, ConnectionId who, Error& err);
  QueuePtr find_queue(std::string_view name) const;
  ExchangePtr find_exchange(std::string_view name) const;

  // Policies (policy.hpp): adding, replacing or clearing one applies at
  // once to every queue and exchange it matches, and to those declared
  // later. set_policy refuses an invalid one (validate_policy).
  Error set_policy(Policy p, TimePoint now);
  bool clear_policy(std::string_view name, TimePoint now);
  const PolicySet& policies() const { return policies_; }

  // The connection is gone: its exclusive queues are deleted.
  void connection_closed(ConnectionId who, TimePoint now);

  // RabbitMQ's vhost limits (-1: none). A queue past max_queues is refused
  // (406); so is a connection past max_connections (530, by the front end
  // that asked admit_connection).
  void set_limits(int64_t max_connections, int64_t max_queues) {
    max_connections_ = max_connections;
    max_queues_ = max_queues;
  }
  int64_t max_connections() const { return max_connections_; }
  int64_t max_queues() const { return max_queues_; }
  // Whether one more connection would pass max_connections.
  bool connection_limit_reached() const {
    return max_connections_ >= 0 && int64_t(connections_.size()) >= max_connections_;
  }
  // A connection opened on this vhost: counted until connection_closed(who).
  void admit_connection(ConnectionId who) { connections_.insert(who); }
  size_t connection_count() const { return connections_.size(); }

  void advance(TimePoint now);
  // The earliest expiry or x-expires deadline.
  std::optional<TimePoint> next_deadline() const;

  size_t queue_count() const { return queues_.size(); }

  // Lock queues' fencing tokens are (epoch << 32) + n: one counter for
  // the vhost's locks, so a lock deleted and declared again never repeats
  // a token, and a process that starts with a higher epoch than the last
  // (the store keeps one, or the wall clock's seconds) never repeats one
  // from before. Set before any lock is declared.
  void set_lock_epoch(uint64_t epoch) { lock_tokens_ = std::max(lock_tokens_, (epoch << 32) + 1); }
  uint64_t next_lock_token() const { return lock_tokens_; }
  // TESTS ONLY (warrend --unsafe-test-double-grant): locks declared from
  // now on grant exclusive locks twice, for the prover to catch.
  void set_unsafe_double_grant(bool on) { unsafe_double_grant_ = on; }
  // Hears every grant, release and ended lease of the lock queues declared
  // from now on (warrend logs them). Not owned; null: nobody.
  void set_lock_observer(LockObserver* o) { lock_observer_ = o; }
  size_t exchange_count() const { return exchanges_.size(); }

  // Counters for the management API (stats.hpp). Publishes are counted
  // here; confirms and returns by the front ends that send them.
  PublishCounts& publish_counts() { return publish_counts_; }
  const PublishCounts& publish_counts() const { return publish_counts_; }
  // The counts of the queues deleted so far: with the live queues' counts,
  // the vhost's totals, which never go down.
  const MessageCounts& deleted_queue_counts() const { return deleted_queue_counts_; }

  // QueueHost
  Outbox& outbox() override { return outbox_; }
  void dead_letter(Queue& from, MessagePtr msg, DeadReason why, TimePoint now) override;
  void queue_unused(Queue& q) override;
  void deadline_changed(Queue& q, std::optional<TimePoint> before, std::optional<TimePoint> after) override;

 private:
  void delete_queue_now(const QueuePtr& q);
  void delete_exchange_now(const std::string& name);
  void remove_bindings_to(const Destination& d);
  void after_unbind(const std::string& source);
  // Every queue `msg` published to `x` reaches: through exchange-to-exchange
  // bindings and alternate exchanges, each exchange visited once, each
  // queue listed once.
  void route(const Exchange& x, const Message& msg, std::vector<QueuePtr>& out);
  void route(const Exchange& x, const Message& msg, std::span<const std::string_view> keys,
             std::vector<QueuePtr>& out);
  void route_exchanges(const Exchange& x, const Message& msg, std::span<const std::string_view> keys,
                       std::vector<QueuePtr>& out);
  // Hands `msg` to the direct reply-to receivers among `keys`, each once.
  size_t deliver_replies(std::span<const std::string_view> keys, const MessagePtr& msg);
  static void unique_in_order(std::vector<QueuePtr>& out);
  // Is a binding from `source` to `d` durable (both ends are)?
  bool durable_binding(const Exchange& source, const Destination& d) const;
  void bound(Exchange& x, Binding b);
  // Offers `msg` to each of `queues`; fills `result`'s counts and outcome.
  void enqueue(std::span<const QueuePtr> queues, const MessagePtr& msg, TimePoint now, PublishResult& result,
               const PublishWaiter& waiter);
  Error check_bind_permitted(std::string_view source, const Destination& dest, auth::Access* access);
  Error check_bind_ends(std::string_view source, const Destination& dest, ConnectionId who, const Table& args,
                        Exchange*& x);
  std::string generate_queue_name();

  std::string name_;
  Env& env_;
  int64_t max_connections_ = -1, max_queues_ = -1;
  std::set<ConnectionId> connections_;  // opened on this vhost
  PolicySet policies_;
  void apply_policies(TimePoint now);
  void apply_policy(Queue& q, TimePoint now) const;
  void apply_policy(Exchange& x) const;
  std::map<std::string, ExchangePtr, std::less<>> exchanges_;
  // Every queue's next deadline, earliest first (declared before queues_,
  // which report into it as they go).
  std::set<std::pair<TimePoint, Queue*>> deadlines_;
  std::map<std::string, QueuePtr, std::less<>> queues_;
  uint64_t next_generated_ = 1;
  uint64_t lock_tokens_ = 1;  // the next fencing token of any lock queue here
  bool unsafe_double_grant_ = false;
  LockObserver* lock_observer_ = nullptr;
  std::mt19937_64 rng_;  // seeded from env_ once: server-named queues
  std::vector<Destination> scratch_;  // route()'s per-exchange results
  // Bumped by every change that can change where a key routes; RouteCaches
  // compare it. Starts at 1: 0 marks an empty cache.
  uint64_t routing_version_ = 1;
  bool route_read_headers_ = false;  // set by route_exchanges: the route depended on a message's headers
  DirectReplyRegistry direct_reply_;
  PendingOutcomes outcomes_;
  Durability* durability_ = nullptr;
  DefinitionLog* definition_log_ = nullptr;
  PublishCounts publish_counts_;
  MessageCounts deleted_queue_counts_;
  // Every entry point above is an operation of the core (Outbox::Operation):
  // its queues' effects run when it is complete.
  Outbox outbox_{*this};
};

}  // namespace warren::broker
