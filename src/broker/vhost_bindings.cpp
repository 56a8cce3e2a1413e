// VHost: bindings between exchanges and queues, and who may publish and
// consume, with RabbitMQ 3.10's rules and texts (rabbit_channel,
// rabbit_binding).
#include <fmt/format.h>

#include <algorithm>
#include <string>

#include "broker/vhost.hpp"
#include "broker/vhost_checks.hpp"

namespace warren::broker {

namespace {

using vhost_checks::default_exchange_refused;
using vhost_checks::permitted;

using auth::Perm;
using auth::Resource;

// Bindings are identified with their arguments sorted by key, as RabbitMQ does.
Table sorted(const Table& args) {
  Table t = args;
  std::stable_sort(t.begin(), t.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  return t;
}

// rabbit_exchange_type_headers:validate_binding.
Error validate_binding(const Exchange& x, const Table& args) {
  if (x.type() != ExchangeType::Headers) return Error::none();
  const Value* m = find(args, "x-match");
  if (!m) return Error::none();
  if (const std::string* s = m->as_string()) {
    if (*s == "all" || *s == "any" || *s == "all-with-x" || *s == "any-with-x") return Error::none();
    return Error::make(ErrorCode::PreconditionFailed,
                       fmt::format("Invalid x-match field value <<\"{}\">>; expected all, any, all-with-x, or any-with-x",
                                   *s));
  }
  return Error::make(ErrorCode::PreconditionFailed,
                     fmt::format("Invalid x-match field type {} (value {}); expected longstr", type_name(*m),
                                 to_text(*m)));
}

}  // namespace

// ------------------------------------------------------------------ bindings

// rabbit_channel:binding_action's order: write on the destination, the
// default exchange refused, read on the source, then existence.
Error VHost::check_bind_permitted(std::string_view source, const Destination& dest, auth::Access* access) {
  if (Error e = permitted(access, Perm::Write, dest.is_exchange ? Resource::Exchange : Resource::Queue, dest.name))
    return e;
  if (source.empty() || (dest.is_exchange && dest.name.empty())) return default_exchange_refused();
  return permitted(access, Perm::Read, Resource::Exchange, source);
}

Error VHost::check_bind_ends(std::string_view source, const Destination& dest, ConnectionId who, const Table& args,
                             Exchange*& x) {
  if (source.empty() || (dest.is_exchange && dest.name.empty())) return default_exchange_refused();
  ExchangePtr src = find_exchange(source);
  if (!src) return Error::make(ErrorCode::NotFound, "no " + resource("exchange", source, name_));
  if (dest.is_exchange) {
    if (!find_exchange(dest.name)) return Error::make(ErrorCode::NotFound, "no " + resource("exchange", dest.name, name_));
  } else if (!find_queue(dest.name)) {
    return Error::make(ErrorCode::NotFound, "no " + resource("queue", dest.name, name_));
  }
  if (Error e = validate_binding(*src, args)) return e;
  if (!dest.is_exchange) {
    Error err;
    queue_for(dest.name, who, err);
    if (err) return err;
  }
  x = src.get();
  return Error::none();
}

Error VHost::bind_queue(std::string_view queue, std::string_view exchange, std::string_view key, const Table& args,
                        ConnectionId who, auth::Access* access) {
  Outbox::Operation op(outbox_);
  Destination dest{std::string(queue), false};
  if (Error e = check_bind_permitted(exchange, dest, access)) return e;
  Exchange* x = nullptr;
  if (Error e = check_bind_ends(exchange, dest, who, args, x)) return e;
  bound(*x, Binding{std::move(dest), std::string(key), sorted(args)});
  return Error::none();
}

Error VHost::bind_exchange(std::string_view destination, std::string_view source, std::string_view key,
                           const Table& args, auth::Access* access) {
  Outbox::Operation op(outbox_);
  Destination dest{std::string(destination), true};
  if (Error e = check_bind_permitted(source, dest, access)) return e;
  Exchange* x = nullptr;
  if (Error e = check_bind_ends(source, dest, 0, args, x)) return e;
  bound(*x, Binding{std::move(dest), std::string(key), sorted(args)});
  return Error::none();
}

bool VHost::durable_binding(const Exchange& source, const Destination& d) const {
  if (!source.options().durable) return false;
  if (d.is_exchange) {
    ExchangePtr x = find_exchange(d.name);
    return x && x->options().durable;
  }
  QueuePtr q = find_queue(d.name);
  return q && q->durable();
}

void VHost::bound(Exchange& x, Binding b) {
  ++routing_version_;
  if (!definition_log_ || !durable_binding(x, b.destination)) {
    x.bind(std::move(b));
    return;
  }
  if (x.bind(b)) definition_log_->bound(x, b);
}

Error VHost::unbind_queue(std::string_view queue, std::string_view exchange, std::string_view key, const Table& args,
                          ConnectionId who, auth::Access* access) {
  Outbox::Operation op(outbox_);
  if (Error e = check_bind_permitted(exchange, Destination{std::string(queue), false}, access)) return e;
  ExchangePtr x = find_exchange(exchange);
  if (!x || !find_queue(queue)) return Error::none();
  Binding b{Destination{std::string(queue), false}, std::string(key), sorted(args)};
  const auto& all = x->bindings();
  if (std::find(all.begin(), all.end(), b) == all.end()) return Error::none();
  Error err;
  queue_for(queue, who, err);
  if (err) return err;
  x->unbind(b);
  ++routing_version_;
  if (definition_log_ && durable_binding(*x, b.destination)) definition_log_->unbound(*x, b);
  after_unbind(x->name());
  return Error::none();
}

Error VHost::unbind_exchange(std::string_view destination, std::string_view source, std::string_view key,
                             const Table& args, auth::Access* access) {
  Outbox::Operation op(outbox_);
  if (Error e = check_bind_permitted(source, Destination{std::string(destination), true}, access)) return e;
  ExchangePtr x = find_exchange(source);
  if (!x || !find_exchange(destination)) return Error::none();
  Binding b{Destination{std::string(destination), true}, std::string(key), sorted(args)};
  if (x->unbind(b)) {
    ++routing_version_;
    if (definition_log_ && durable_binding(*x, b.destination)) definition_log_->unbound(*x, b);
    after_unbind(x->name());
  }
  return Error::none();
}

Error VHost::may_publish(auth::Access* access, std::string_view exchange) {
  return permitted(access, Perm::Write, Resource::Exchange, exchange);
}

Error VHost::may_consume(auth::Access* access, std::string_view queue) {
  return permitted(access, Perm::Read, Resource::Queue, queue);
}

}  // namespace warren::broker
