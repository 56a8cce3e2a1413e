// VHost: routing a message through its exchanges (CC and BCC headers,
// exchange-to-exchange bindings, direct reply-to) and publishing it to
// the queues it reaches, with their outcomes.
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <string>
#include <string_view>
#include <vector>

#include "broker/vhost.hpp"

namespace warren::broker {

namespace {

// RabbitMQ's ?ROUTING_HEADERS, in its order.
constexpr std::array<std::string_view, 2> kRoutingHeaders = {"CC", "BCC"};

// rabbit_basic:header_routes: the string elements of the CC and BCC arrays
// (other elements are ignored); false, with RabbitMQ's error term, when
// either header is not an array.
bool header_routes(const Table* headers, std::vector<std::string_view>& keys, std::string* problem) {
  if (!headers) return true;
  for (std::string_view name : kRoutingHeaders) {
    const Value* v = find(*headers, name);
    if (!v) continue;
    const Array* routes = v->as_array();
    if (!routes) {
      if (problem) *problem = fmt::format("{{unacceptable_type_in_header,\"{}\",{}}}", name, type_name(*v));
      return false;
    }
    for (const Value& r : *routes)
      if (const std::string* k = r.as_string()) keys.push_back(*k);
  }
  return true;
}

}  // namespace

// ------------------------------------------------------------------- routing

void VHost::route(const Exchange& x, const Message& msg, std::vector<QueuePtr>& out) {
  if (!msg.sender_selected()) {
    std::string_view key = msg.routing_key();
    return route(x, msg, {&key, 1}, out);
  }
  std::vector<std::string_view> keys{msg.routing_key()};
  header_routes(msg.properties().headers ? &*msg.properties().headers : nullptr, keys, nullptr);
  for (const std::string& k : msg.bcc_keys()) keys.push_back(k);
  route(x, msg, keys, out);
}

void VHost::route(const Exchange& x, const Message& msg, std::span<const std::string_view> keys,
                  std::vector<QueuePtr>& out) {
  out.clear();
  if (x.name().empty()) {  // the default exchange: the queues named by the routing keys
    for (std::string_view key : keys)
      if (QueuePtr q = find_queue(key)) out.push_back(std::move(q));
  } else {
    route_exchanges(x, msg, keys, out);
  }
  unique_in_order(out);
}

void VHost::route_exchanges(const Exchange& x, const Message& msg, std::span<const std::string_view> keys,
                            std::vector<QueuePtr>& out) {
  // rabbit_exchange:route/2: a work list of exchanges, each visited once;
  // an exchange that routes nowhere itself hands over to its alternate.
  std::vector<const Exchange*> work{&x}, seen{&x};
  std::vector<Destination>& dests = scratch_;
  while (!work.empty()) {
    const Exchange* cur = work.back();
    work.pop_back();
    dests.clear();
    // Fanout and headers exchanges ignore routing keys: one pass is enough.
    const bool keyed = cur->type() == ExchangeType::Direct || cur->type() == ExchangeType::Topic;
    if (cur->type() == ExchangeType::Headers) route_read_headers_ = true;
    for (size_t i = 0; i < (keyed ? keys.size() : 1); ++i) cur->route(msg, keys[i], dests);
    if (dests.empty())
      if (const std::string* ae = cur->alternate_exchange()) dests.push_back(Destination{*ae, true});
    for (const Destination& d : dests) {
      if (d.is_exchange) {
        ExchangePtr next = find_exchange(d.name);
        if (next && std::find(seen.begin(), seen.end(), next.get()) == seen.end()) {
          seen.push_back(next.get());
          work.push_back(next.get());
        }
      } else if (QueuePtr q = find_queue(d.name)) {
        out.push_back(std::move(q));
      }
    }
  }
}

size_t VHost::deliver_replies(std::span<const std::string_view> keys, const MessagePtr& msg) {
  size_t delivered = 0;
  for (size_t i = 0; i < keys.size(); ++i) {
    std::string_view key = keys[i];
    if (!is_reply_to_name(key) || std::find(keys.begin(), keys.begin() + i, key) != keys.begin() + i) continue;
    if (ReplyReceiver* r = direct_reply_.find(key); r && r->deliver_reply(msg)) ++delivered;
  }
  return delivered;
}

// Each queue once, in the order first reached.
void VHost::unique_in_order(std::vector<QueuePtr>& out) {
  if (out.size() > 1) {
    std::vector<QueuePtr> unique;
    unique.reserve(out.size());
    if (out.size() <= 16) {
      for (QueuePtr& q : out)
        if (std::find(unique.begin(), unique.end(), q) == unique.end()) unique.push_back(std::move(q));
    } else {
      std::vector<const Queue*> keys;
      keys.reserve(out.size());
      for (const QueuePtr& q : out) keys.push_back(q.get());
      std::sort(keys.begin(), keys.end());
      std::vector<bool> taken(keys.size(), false);
      for (QueuePtr& q : out) {
        size_t i = size_t(std::lower_bound(keys.begin(), keys.end(), q.get()) - keys.begin());
        if (!taken[i]) {
          taken[i] = true;
          unique.push_back(std::move(q));
        }
      }
    }
    out.swap(unique);
  }
}

Error VHost::publish(std::string_view exchange, const MessagePtr& msg, TimePoint now, PublishResult& result,
                     const PublishWaiter& waiter) {
  ExchangePtr x = find_exchange(exchange);
  if (!x) {
    result = PublishResult{};
    return Error::make(ErrorCode::NotFound, "no " + resource("exchange", exchange, name_));
  }
  return publish(*x, msg, now, result, nullptr, waiter);
}

// The caller keeps `xr` alive (a pointer it holds) for the call.
Error VHost::publish(Exchange& xr, const MessagePtr& msg, TimePoint now, PublishResult& result, RouteCache* cache,
                     const PublishWaiter& waiter) {
  Outbox::Operation op(outbox_);
  result = PublishResult{};
  Exchange* x = &xr;
  const std::string& exchange = x->name();
  if (x->options().internal)
    return Error::make(ErrorCode::AccessRefused, "cannot publish to internal " + resource("exchange", exchange, name_));
  ++publish_counts_.received;
  std::vector<QueuePtr> targets;
  const bool default_exchange = x->name().empty();
  if (!msg->sender_selected()) {
    std::string_view key = msg->routing_key();
    if (default_exchange && is_reply_to_name(key)) {  // no queue has such a name ("amq." is reserved)
      result.replies = deliver_replies({&key, 1}, msg);
      ++(result.replies ? publish_counts_.routed : publish_counts_.unroutable);
      return Error::none();
    }
    if (cache && cache->version == routing_version_ && cache->exchange == x && cache->key == key) {
      enqueue(cache->queues, msg, now, result, waiter);
      return Error::none();
    }
    route_read_headers_ = false;
    route(*x, *msg, {&key, 1}, targets);
    if (cache && !route_read_headers_) {  // a headers exchange's route is the message's, not the key's
      cache->exchange = x;
      cache->key.assign(key);
      cache->version = routing_version_;
      cache->queues = targets;
    }
  } else {
    // Rare: decode the headers. The keys view the original message's
    // properties, which outlive the routing.
    const Properties& props = msg->properties();
    const Table* headers = props.headers ? &*props.headers : nullptr;
    std::vector<std::string_view> keys{msg->routing_key()};
    std::string problem;
    if (!header_routes(headers, keys, &problem))
      return Error::make(ErrorCode::PreconditionFailed, "invalid message: " + problem);
    MessagePtr routed = msg;
    if (headers && find(*headers, "BCC")) {
      // The BCC keys stay the message's routing keys (dead-lettering uses them).
      std::vector<std::string> bcc;
      if (const Array* a = find(*headers, "BCC")->as_array())
        for (const Value& k : *a)
          if (const std::string* s = k.as_string()) bcc.push_back(*s);
      Properties stripped = props;
      erase(*stripped.headers, "BCC");
      routed = msg->with(std::move(stripped), msg->exchange(), msg->routing_key(), std::move(bcc));
      result.rewritten = routed;
    }
    if (default_exchange) result.replies = deliver_replies(keys, routed);
    route(*x, *routed, keys, targets);
    enqueue(targets, routed, now, result, waiter);
    return Error::none();
  }
  enqueue(targets, msg, now, result, waiter);
  return Error::none();
}

// Without a Durability this is the whole cost of outcomes: one test per queue.
void VHost::enqueue(std::span<const QueuePtr> queues, const MessagePtr& msg, TimePoint now, PublishResult& result,
                    const PublishWaiter& waiter) {
  result.queues = queues.size();
  ++(queues.empty() && result.replies == 0 ? publish_counts_.unroutable : publish_counts_.routed);
  OutcomeTicket ticket = 0;
  for (const QueuePtr& q : queues) {
    if (q->publish(msg, now) == Queue::Accept::Rejected) {
      result.rejected = true;
      continue;
    }
    // A transient queue never waits: no call for it. Nor does a lock,
    // which keeps nothing it is sent (a verification).
    if (!durability_ || !q->durable() || q->lock() || !durability_->must_wait(*q, *msg)) continue;
    if (!ticket && waiter.publisher) ticket = outcomes_.open(waiter);
    if (ticket) outcomes_.add_part(ticket);
    durability_->wait(*q, msg, ticket);
  }
  if (ticket) result.pending = !outcomes_.seal(ticket, !result.rejected);
}

}  // namespace warren::broker
