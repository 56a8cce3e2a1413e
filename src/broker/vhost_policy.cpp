// VHost's policies: which queue or exchange takes which, and when.
#include "broker/vhost.hpp"

namespace warren::broker {

Error VHost::set_policy(Policy p, TimePoint now) {
  if (Error e = validate_policy(p)) return e;
  policies_.set(std::move(p));
  apply_policies(now);
  return Error::none();
}

bool VHost::clear_policy(std::string_view name, TimePoint now) {
  if (!policies_.clear(name)) return false;
  apply_policies(now);
  return true;
}

void VHost::apply_policies(TimePoint now) {
  Outbox::Operation op(outbox_);
  ++routing_version_;  // an alternate exchange may have changed: cached routes go
  for (const auto& [_, q] : queues_) apply_policy(*q, now);
  for (const auto& [_, x] : exchanges_) apply_policy(*x);
}

void VHost::apply_policy(Queue& q, TimePoint now) const {
  const Policy* p = policies_.match(q.name(), true);
  if (!p && q.policy_name().empty()) return;  // none before, none now: nothing to undo
  q.apply_policy(p, now);
}

void VHost::apply_policy(Exchange& x) const {
  if (x.name().empty() || x.name().starts_with("amq.")) return;  // RabbitMQ: not the built-in ones
  const Policy* p = policies_.match(x.name(), false);
  std::optional<std::string> ae;
  if (p)
    if (const Value* v = find(p->definition, "alternate-exchange"); v && v->as_string()) ae = *v->as_string();
  x.set_policy(p ? p->name : std::string(), std::move(ae));
}

}  // namespace warren::broker
