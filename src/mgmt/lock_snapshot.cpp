#include "mgmt/lock_snapshot.hpp"

#include "broker/broker.hpp"
#include "broker/lock_queue.hpp"
#include "broker/queue.hpp"
#include "server/amqp_server.hpp"

namespace warren::mgmt {

namespace {

std::string_view kind_name(broker::LockKind k) {
  switch (k) {
    case broker::LockKind::Mutex: return "mutex";
    case broker::LockKind::RwLock: return "rwlock";
    case broker::LockKind::Semaphore: return "semaphore";
  }
  return "mutex";
}

std::string_view policy_name(locks::Policy p) {
  switch (p) {
    case locks::Policy::Fifo: return "fifo";
    case locks::Policy::WriterPreferred: return "writer-preferred";
    case locks::Policy::ReaderPreferred: return "reader-preferred";
  }
  return "fifo";
}

LockInfo lock_info(const std::string& vhost, const std::string& name, const broker::Queue& q,
                   const broker::LockQueue& l, const std::vector<server::ConnectionSummary>& conns) {
  LockInfo li;
  li.vhost = vhost;
  li.name = name;
  li.kind = kind_name(l.args().kind);
  li.policy = policy_name(l.args().policy);
  li.permits = l.args().permits;
  if (l.args().lease) li.ttl_ms = l.args().lease->count();
  li.durable = q.options().durable;
  const broker::LockQueue::View v = l.view();
  li.last_token = v.last_token;
  auto party = [&](const broker::LockQueue::Party& p) {
    LockParty out{.consumer_tag = p.tag, .shared = p.shared, .token = p.token, .permit = p.permit,
                  .delivery = p.delivery, .offered = p.offered};
    for (const server::ConnectionSummary& c : conns) {
      if (p.connection == 0 || c.id != p.connection) continue;
      out.connection = c.name;
      out.user = c.user;
      for (const engine::ChannelInfo& ch : c.info.channels)
        for (const engine::ConsumerInfo& ci : ch.consumers)
          if (ci.queue == name && ci.tag == p.tag) out.channel = ch.number;
    }
    return out;
  };
  for (const auto& p : v.holders) li.holders.push_back(party(p));
  for (const auto& p : v.waiters) li.waiters.push_back(party(p));
  return li;
}

json party_json(const LockParty& p, bool waiting) {
  json o = {{"connection", p.connection.empty() ? json(nullptr) : json(p.connection)},
            {"user", p.user.empty() ? json(nullptr) : json(p.user)},
            {"channel", p.channel ? json(p.channel) : json(nullptr)},
            {"consumer_tag", p.connection.empty() ? json(nullptr) : json(p.consumer_tag)},
            {"mode", p.shared ? "shared" : "exclusive"}};
  // A semaphore's slot: a holder's, or an offered waiter's (null otherwise).
  const json permit = p.permit ? json(p.permit) : json(nullptr);
  if (!waiting) {
    o["token"] = p.token;
    o["permit"] = permit;
    o["delivery"] = p.delivery;
  } else {
    // A waiter the lock was offered to holds its token once it has credit.
    o["offered"] = p.offered;
    o["token"] = p.offered ? json(p.token) : json(nullptr);
    o["permit"] = permit;
  }
  return o;
}

}  // namespace

std::vector<LockInfo> take_locks(const broker::Broker& broker, const server::AmqpServer* amqp,
                                 const std::set<std::string>& only) {
  std::vector<server::ConnectionSummary> conns;
  std::vector<LockInfo> out;
  bool described = false;
  for (const auto& [vname, vp] : broker.vhosts()) {
    if (!only.empty() && !only.contains(vname)) continue;
    for (const auto& [qname, q] : vp->queues()) {
      const broker::LockQueue* l = q->lock();
      if (!l) continue;
      // Connections only when there is a lock to name their consumers.
      if (!described && amqp) amqp->describe_connections(conns);
      described = true;
      out.push_back(lock_info(vname, qname, *q, *l, conns));
    }
  }
  return out;
}

json lock_json(const LockInfo& l) {
  json holders = json::array(), waiters = json::array();
  for (const LockParty& p : l.holders) holders.push_back(party_json(p, false));
  for (const LockParty& p : l.waiters) waiters.push_back(party_json(p, true));
  return {{"vhost", l.vhost},
          {"name", l.name},
          {"kind", l.kind},
          {"policy", l.policy},
          {"permits", l.permits},
          {"ttl", l.ttl_ms ? json(*l.ttl_ms) : json(nullptr)},
          {"durable", l.durable},
          {"last_token", l.last_token ? json(l.last_token) : json(nullptr)},
          {"holders", std::move(holders)},
          {"waiters", std::move(waiters)}};
}

}  // namespace warren::mgmt
