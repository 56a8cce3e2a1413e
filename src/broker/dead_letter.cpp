// VHost::dead_letter: RabbitMQ 3.10's rabbit_dead_letter. The message is
// republished through the queue's dead-letter exchange with its x-death
// history updated, and dropped where it would cycle.
#include <algorithm>

#include "broker/vhost.hpp"

namespace warren::broker {

namespace {

std::string_view reason_text(DeadReason why) {
  switch (why) {
    case DeadReason::Rejected: return "rejected";
    case DeadReason::Expired: return "expired";
    case DeadReason::MaxLen: return "maxlen";
    case DeadReason::DeliveryLimit: return "delivery_limit";
  }
  return "rejected";
}

Value* find_mut(Table& t, std::string_view key) {
  for (auto& [k, v] : t)
    if (k == key) return &v;
  return nullptr;
}

bool text_is(const Table& t, std::string_view key, std::string_view want) {
  const Value* v = find(t, key);
  return v && v->as_string() && *v->as_string() == want;
}

void sort_by_key(Table& t) {
  std::stable_sort(t.begin(), t.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
}

Table first_death(const Table& info) {
  Table t{{"count", Value(Int{1, IntKind::I64})}};
  t.insert(t.end(), info.begin(), info.end());
  return t;
}

// update_x_death_header: one table per (queue, reason), most recent first.
// A repeated death moves its table to the front and counts one more; the
// table keeps the time, exchange and routing keys of the first such death.
void update_x_death(Table& headers, const Table& info, std::string_view queue, std::string_view reason,
                    std::string_view exchange) {
  Value* xd = find_mut(headers, "x-death");
  if (!xd) {
    set(headers, "x-first-death-reason", std::string(reason));
    set(headers, "x-first-death-queue", std::string(queue));
    set(headers, "x-first-death-exchange", std::string(exchange));
    set(headers, "x-death", Array{Value(first_death(info))});
    return;
  }
  const Array* old = xd->as_array();
  if (!old) {  // a client turned it into something else: start again
    *xd = Array{Value(first_death(info))};
    return;
  }
  Array deaths;
  deaths.reserve(old->size() + 1);
  std::optional<Table> entry;
  for (const Value& d : *old) {
    const Table* t = d.as_table();
    if (!entry && t && text_is(*t, "queue", queue) && text_is(*t, "reason", reason)) {
      entry = *t;
      if (Value* count = find_mut(*entry, "count")) {
        *count = Value(Int{count->as_int().value_or(0) + 1, IntKind::I64});
      } else {
        entry->insert(entry->begin(), {"count", Value(Int{1, IntKind::I64})});
      }
      continue;
    }
    deaths.push_back(d);
  }
  if (!entry) entry = first_death(info);
  sort_by_key(*entry);
  deaths.insert(deaths.begin(), Value(std::move(*entry)));
  *xd = Value(std::move(deaths));
}

// is_cycle: the message died in `queue` before, and every death since
// (that one included) was automatic - no rejection, nothing unexpected.
bool is_cycle(std::string_view queue, const Array& deaths) {
  bool automatic = true;
  for (const Value& d : deaths) {
    const Table* t = d.as_table();
    if (!t) {
      automatic = false;
      continue;
    }
    if (text_is(*t, "reason", "rejected")) automatic = false;
    if (text_is(*t, "queue", queue)) return automatic;
  }
  return false;
}

}  // namespace

void VHost::dead_letter(Queue& from, MessagePtr msg, DeadReason why, TimePoint now) {
  Outbox::Operation op(outbox_);  // from the outbox: `from` is complete
  const QueueArgs& args = from.options().args;
  if (!args.dead_letter_exchange || !msg) return;
  ExchangePtr x = find_exchange(*args.dead_letter_exchange);
  if (!x) return;  // RabbitMQ drops it silently

  Properties props = msg->properties();
  Table headers = props.headers.value_or(Table{});
  // The routing keys it was published with: the key, the CC keys, then the
  // BCC keys (rabbit_basic keeps them in the message's routing keys).
  Array keys{Value(std::string(msg->routing_key()))};
  if (const Value* cc = find(headers, "CC"); cc && cc->as_array())
    for (const Value& k : *cc->as_array())
      if (k.as_string()) keys.push_back(k);
  for (const std::string& k : msg->bcc_keys()) keys.push_back(Value(k));
  const std::string_view reason = reason_text(why);
  Table info{
      {"reason", Value(std::string(reason))},
      {"queue", Value(from.name())},
      {"time", Value(Timestamp{env_.unix_seconds()})},
      {"exchange", Value(std::string(msg->exchange()))},
      {"routing-keys", Value(std::move(keys))},
  };
  if (props.expiration) info.emplace_back("original-expiration", Value(*props.expiration));
  update_x_death(headers, info, from.name(), reason, msg->exchange());
  if (args.dead_letter_routing_key) erase(headers, "CC");
  sort_by_key(headers);  // rabbit_misc:set_table_value keeps tables sorted
  props.headers = std::move(headers);
  props.expiration.reset();

  // With x-dead-letter-routing-key that key alone routes it; otherwise all
  // of its routing keys, BCC ones included, as RabbitMQ does.
  std::string key = args.dead_letter_routing_key.value_or(std::string(msg->routing_key()));
  std::vector<std::string> bcc;
  if (!args.dead_letter_routing_key) bcc = msg->bcc_keys();
  MessagePtr dead = msg->with(std::move(props), *args.dead_letter_exchange, std::move(key), std::move(bcc));

  std::vector<QueuePtr> targets;
  route(*x, *dead, targets);
  if (why != DeadReason::Rejected) {
    const Value* xd = find(*dead->properties().headers, "x-death");
    const Array* deaths = xd ? xd->as_array() : nullptr;
    if (deaths)
      std::erase_if(targets, [&](const QueuePtr& q) { return is_cycle(q->name(), *deaths); });
  }
  for (const QueuePtr& q : targets) q->publish(dead, now);
}

}  // namespace warren::broker
