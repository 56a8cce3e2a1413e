#include "broker/policy.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "broker/queue.hpp"

namespace warren::broker {

namespace {

bool is_queue_key(std::string_view k) {
  for (std::string_view q : {"message-ttl", "expires", "max-length", "max-length-bytes", "overflow",
                             "dead-letter-exchange", "dead-letter-routing-key"})
    if (k == q) return true;
  return false;
}

// Settings RabbitMQ knows but that mean nothing on one node, accepted and
// ignored so that definitions from a cluster load.
bool is_ignored_key(std::string_view k) {
  return k.starts_with("ha-") || k.starts_with("federation-") || k == "queue-mode" || k == "queue-master-locator" ||
         k == "delivery-limit" || k == "max-age" || k == "queue-version";
}

Error invalid(std::string what) {
  return Error::make(ErrorCode::PreconditionFailed, "Validation failed\n\n" + what + "\n");
}

std::optional<int64_t> integer(const Table& def, std::string_view key) {
  const Value* v = find(def, key);
  return v ? v->as_int() : std::nullopt;
}

}  // namespace

Error validate_policy(const Policy& p) {
  if (p.name.empty()) return invalid("a policy needs a name");
  if (auto why = auth::Pattern::error(p.pattern)) return invalid(fmt::format("invalid pattern '{}': {}", p.pattern, *why));
  if (p.apply_to != "queues" && p.apply_to != "exchanges" && p.apply_to != "all")
    return invalid(fmt::format("\"{}\" is not a valid apply-to value (queues, exchanges or all)", p.apply_to));
  if (p.definition.empty()) return invalid("the definition is empty");
  std::vector<std::string> unknown;
  for (const auto& [k, v] : p.definition) {
    if (is_queue_key(k) || k == "alternate-exchange" || is_ignored_key(k)) continue;
    unknown.push_back(fmt::format("<<\"{}\">>", k));
  }
  if (!unknown.empty()) return invalid(fmt::format("[{}] are not recognised policy settings", fmt::join(unknown, ",")));
  for (std::string_view k : {"message-ttl", "max-length", "max-length-bytes"})
    if (const Value* v = find(p.definition, k); v && (!v->as_int() || *v->as_int() < 0))
      return invalid(fmt::format("{} is not a valid {}", to_text(*v), k));
  if (const Value* v = find(p.definition, "expires"); v && (!v->as_int() || *v->as_int() < 1))
    return invalid(fmt::format("{} is not a valid expires", to_text(*v)));
  if (const Value* v = find(p.definition, "overflow")) {
    const std::string* s = v->as_string();
    if (!s || (*s != "drop-head" && *s != "reject-publish" && *s != "reject-publish-dlx"))
      return invalid(fmt::format("{} is not a valid overflow value", to_text(*v)));
  }
  for (std::string_view k : {"dead-letter-exchange", "dead-letter-routing-key", "alternate-exchange"})
    if (const Value* v = find(p.definition, k); v && !v->as_string())
      return invalid(fmt::format("{} is not a valid {}", to_text(*v), k));
  return Error::none();
}

QueueArgs merge_policy(const QueueArgs& declared, const Table& raw, const Table& def) {
  QueueArgs a = declared;
  auto smaller_duration = [&](std::optional<Duration>& mine, std::string_view key) {
    if (auto ms = integer(def, key); ms && (!mine || Duration(*ms) < *mine)) mine = Duration(*ms);
  };
  auto smaller_count = [&](std::optional<uint64_t>& mine, std::string_view key) {
    if (auto n = integer(def, key); n && (!mine || uint64_t(*n) < *mine)) mine = uint64_t(*n);
  };
  smaller_duration(a.message_ttl, "message-ttl");
  smaller_duration(a.expires, "expires");
  smaller_count(a.max_length, "max-length");
  smaller_count(a.max_length_bytes, "max-length-bytes");
  // The rest: the queue's own argument wins.
  if (!find(raw, "x-overflow"))
    if (const Value* v = find(def, "overflow"); v && v->as_string()) {
      const std::string& s = *v->as_string();
      a.overflow = s == "reject-publish"       ? Overflow::RejectPublish
                   : s == "reject-publish-dlx" ? Overflow::RejectPublishDlx
                                               : Overflow::DropHead;
    }
  if (!find(raw, "x-dead-letter-exchange"))
    if (const Value* v = find(def, "dead-letter-exchange"); v && v->as_string()) a.dead_letter_exchange = *v->as_string();
  if (!find(raw, "x-dead-letter-routing-key"))
    if (const Value* v = find(def, "dead-letter-routing-key"); v && v->as_string())
      a.dead_letter_routing_key = *v->as_string();
  return a;
}

void PolicySet::set(Policy p) {
  auto pattern = std::make_shared<auth::Pattern>(p.pattern);
  std::string name = p.name;
  policies_[name] = Entry{std::move(p), std::move(pattern)};
}

bool PolicySet::clear(std::string_view name) {
  auto it = policies_.find(name);
  if (it == policies_.end()) return false;
  policies_.erase(it);
  return true;
}

const Policy* PolicySet::match(std::string_view name, bool queue) const {
  const Policy* best = nullptr;
  for (const auto& [_, e] : policies_) {  // by name: the first of equal priorities wins
    const Policy& p = e.policy;
    if (p.apply_to != "all" && p.apply_to != (queue ? "queues" : "exchanges")) continue;
    if (best && p.priority <= best->priority) continue;
    if (e.pattern->matches(name)) best = &p;
  }
  return best;
}

std::vector<const Policy*> PolicySet::all() const {
  std::vector<const Policy*> out;
  for (const auto& [_, e] : policies_) out.push_back(&e.policy);
  return out;
}

}  // namespace warren::broker
