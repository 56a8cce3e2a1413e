#include "mgmt/snapshot.hpp"

#include <chrono>

#include "broker/lock_queue.hpp"
#include "broker/memory.hpp"
#include "server/node.hpp"

namespace warren::mgmt {

namespace {

std::string_view type_name(broker::QueueType t) {
  switch (t) {
    case broker::QueueType::Classic: return "classic";
    case broker::QueueType::Quorum: return "quorum";
    case broker::QueueType::Stream: return "stream";
    case broker::QueueType::Lock: return "lock";
  }
  return "classic";
}

bool wanted(const Want& w, const std::string& vhost) { return w.only.empty() || w.only.contains(vhost); }

}  // namespace

uint64_t queue_memory(uint64_t ready_bytes_in_memory, uint64_t ready, uint64_t paged, uint64_t unacked) {
  // An entry in memory: its place in a deque (a shared_ptr and its seq,
  // expiry, flags: 48 bytes) and the message object's own header and
  // routing (about 96); a paged entry: 32 bytes; an unacked one: a map
  // node (about 112) besides. Bodies of unacknowledged messages are not
  // counted (the queue does not keep their total).
  constexpr uint64_t kQueue = 1024, kEntry = 48 + 96, kPaged = 32, kUnacked = 112 + 96;
  return kQueue + ready_bytes_in_memory + (ready - paged) * kEntry + paged * kPaged + unacked * kUnacked;
}

Snapshot take_snapshot(server::Node& node, const server::AmqpServer* amqp, const Want& want) {
  Snapshot s;
  s.taken_at_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count();
  s.taken_at = std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
  const broker::Broker& broker = node.broker();
  if (amqp) {
    s.node.alarms = amqp->alarms();
    s.node.mem_limit = amqp->memory_high_watermark();
    s.node.disk_free_limit = amqp->disk_free_limit();
    s.node.amqp_host = amqp->host();
    s.node.amqp_port = amqp->port();
  }
  s.node.message_memory = uint64_t(std::max<int64_t>(0, broker::MemoryAccount::used()));
  if (want.connections || want.totals) {
    if (amqp) amqp->describe_connections(s.connections);
    for (const server::ConnectionSummary& c : s.connections) {
      s.totals.channels += c.info.channels.size();
      for (const engine::ChannelInfo& ch : c.info.channels) s.totals.consumers += ch.consumers.size();
    }
    s.totals.connections = s.connections.size();
    if (!want.connections) s.connections.clear();
  }
  if (want.totals) {
    s.totals.counts = broker.deleted_vhost_counts();
    s.totals.publish = broker.deleted_vhost_publish_counts();
    node.for_each_store_writer([&](const std::string& vhost, const server::StoreWriter& w) {
      s.store_sync.push_back({vhost, w.sync_latency().read()});
    });
  }
  for (const auto& [vname, vp] : broker.vhosts()) {
    const broker::VHost& v = *vp;
    const bool mine = wanted(want, vname);
    VHostStats vs;
    const bool per_vhost = want.totals || (want.vhosts && mine);
    if (per_vhost) {
      vs.name = vname;
      vs.queues = v.queue_count();
      vs.exchanges = v.exchange_count();
      vs.connections = v.connection_count();
      vs.counts = v.deleted_queue_counts();
      vs.publish = v.publish_counts();
      for (const auto& [_, q] : v.queues()) {
        const uint64_t ready = q->ready_count(), unacked = q->unacked_count();
        vs.messages_ready += ready;
        vs.messages_unacknowledged += unacked;
        vs.counts += q->counts();
        if (want.totals) {
          s.totals.queue_consumers += q->consumer_count();
          s.totals.queue_memory += q->lock() ? queue_memory(0, 0, 0, 0)
                                             : queue_memory(q->ready_bytes(), ready, q->paged_count(), unacked);
        }
      }
    }
    if (want.totals) {
      s.totals.queues += vs.queues;
      s.totals.exchanges += vs.exchanges;
      s.totals.messages_ready += vs.messages_ready;
      s.totals.messages_unacknowledged += vs.messages_unacknowledged;
      s.totals.counts += vs.counts;
      s.totals.publish += vs.publish;
    }
    if (want.vhosts && mine) s.vhosts.push_back(std::move(vs));
    if (!mine) continue;
    if (want.queues || want.lock_queues) {
      if (want.queues) s.queues.reserve(s.queues.size() + v.queue_count());
      for (const auto& [qname, q] : v.queues()) {
        if (!want.queues && !q->lock()) continue;
        QueueInfo& qi = s.queues.emplace_back();
        const broker::Queue::Options& o = q->options();
        qi.vhost = vname;
        qi.name = qname;
        qi.durable = o.durable;
        qi.auto_delete = o.auto_delete;
        qi.exclusive = o.exclusive_owner != 0;
        qi.arguments = o.arguments;
        qi.type = type_name(o.args.type);
        qi.messages_ready = q->ready_count();
        qi.messages_unacknowledged = q->unacked_count();
        qi.consumers = q->consumer_count();
        qi.counts = q->counts();
        if (!q->policy_name().empty())
          if (const broker::Policy* p = v.policies().match(qname, true); p && p->name == q->policy_name()) {
            qi.policy = p->name;
            qi.policy_definition = p->definition;
          }
        if (const broker::LockQueue* l = q->lock()) {
          qi.lock = true;
          const locks::Snapshot ls = l->snapshot();
          qi.lock_holders = ls.holders.size();
          qi.lock_waiters = ls.waiters.size() + (ls.offer ? 1 : 0);
          qi.memory = queue_memory(0, 0, 0, 0);
        } else {
          qi.message_bytes_ready = q->ready_bytes();
          qi.messages_paged_out = q->paged_count();
          // ready_bytes counts the bodies in memory only (paged ones left it).
          qi.memory = queue_memory(q->ready_bytes(), qi.messages_ready, qi.messages_paged_out,
                                   qi.messages_unacknowledged);
        }
      }
    }
    if (want.exchanges) {
      for (const auto& [xname, x] : v.exchanges()) {
        ExchangeInfo& xi = s.exchanges.emplace_back();
        const broker::Exchange::Options& o = x->options();
        xi.vhost = vname;
        xi.name = xname;
        xi.type = broker::to_string(o.type);
        xi.durable = o.durable;
        xi.auto_delete = o.auto_delete;
        xi.internal = o.internal;
        xi.arguments = o.arguments;
      }
    }
    if (want.bindings) {
      // The default exchange's implicit bindings first, as RabbitMQ lists them.
      for (const auto& [qname, _] : v.queues())
        s.bindings.push_back({vname, "", qname, false, qname, {}});
      for (const auto& [xname, x] : v.exchanges())
        for (const broker::Binding& b : x->bindings())
          s.bindings.push_back({vname, xname, b.destination.name, b.destination.is_exchange, b.key, b.arguments});
    }
  }
  return s;
}

}  // namespace warren::mgmt
