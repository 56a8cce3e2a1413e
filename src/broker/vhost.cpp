// VHost: declarations, deletions, bindings and routing with RabbitMQ 3.10's
// rules and texts (rabbit_channel, rabbit_exchange, rabbit_binding,
// rabbit_amqqueue). Dead-lettering is in dead_letter.cpp.
#include "broker/vhost.hpp"

#include <fmt/format.h>

#include "auth/directory.hpp"

#include <algorithm>
#include <array>

namespace warren::broker {

namespace {

Error default_exchange_refused() {
  return Error::make(ErrorCode::AccessRefused, "operation not permitted on the default exchange");
}

std::string quoted(bool b) { return b ? "'true'" : "'false'"; }

// RabbitMQ's check_*_permitted: 403 with "<perm> access to <resource>
// refused for user '<u>'". No Access: nothing to check.
Error permitted(auth::Access* access, auth::Perm p, auth::Resource r, std::string_view name) {
  if (!access) return Error::none();
  if (std::optional<std::string> refused = access->check(p, r, name))
    return Error::make(ErrorCode::AccessRefused, std::move(*refused));
  return Error::none();
}
using auth::Perm;
using auth::Resource;

// rabbit_misc:val/1 for an argument: "none" or "the value 'v' of type 't'".
std::string arg_text(const Value* v) {
  if (!v) return "none";
  return fmt::format("the value '{}' of type '{}'", to_text(*v), type_name(*v));
}

Error inequivalent(std::string_view arg, const std::string& rs, const std::string& received,
                   const std::string& current) {
  return Error::make(ErrorCode::PreconditionFailed,
                     fmt::format("inequivalent arg '{}' for {}: received {} but current is {}", arg, rs, received,
                                 current));
}

// rabbit_misc:assert_args_equivalence over the keys `compared` selects.
// Integers of any width are one class, as are floats (Value's == already
// compares them by value within their class).
template <class Pred>
Error check_args(const Table& current, const Table& requested, Pred compared, const std::string& rs) {
  auto check = [&](const std::string& key) -> Error {
    if (!compared(key)) return Error::none();
    const Value* cur = find(current, key);
    const Value* req = find(requested, key);
    if (!cur && !req) return Error::none();
    if (cur && req && *cur == *req) return Error::none();
    return inequivalent(key, rs, arg_text(req), arg_text(cur));
  };
  for (const auto& [key, _] : requested)
    if (Error e = check(key)) return e;
  for (const auto& [key, _] : current)
    if (Error e = check(key)) return e;
  return Error::none();
}

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

VHost::VHost(std::string name, Env& env, TimePoint now)
    : name_(std::move(name)), env_(env), rng_(env.random_u64()), direct_reply_(env) {
  (void)now;
  auto add = [&](std::string n, ExchangeType t) {
    exchanges_.emplace(n, std::make_shared<Exchange>(Exchange::Options{n, t, /*durable=*/true}));
  };
  add("", ExchangeType::Direct);
  add("amq.direct", ExchangeType::Direct);
  add("amq.fanout", ExchangeType::Fanout);
  add("amq.topic", ExchangeType::Topic);
  add("amq.headers", ExchangeType::Headers);
  add("amq.match", ExchangeType::Headers);
}

QueuePtr VHost::find_queue(std::string_view name) const {
  auto it = queues_.find(name);
  return it == queues_.end() ? nullptr : it->second;
}

ExchangePtr VHost::find_exchange(std::string_view name) const {
  auto it = exchanges_.find(name);
  return it == exchanges_.end() ? nullptr : it->second;
}

// ----------------------------------------------------------------- exchanges

Error VHost::declare_exchange(const ExchangeDeclare& d) {
  Outbox::Operation op(outbox_);
  if (d.passive) {
    if (d.name.empty()) return default_exchange_refused();
    if (!find_exchange(d.name)) return Error::make(ErrorCode::NotFound, "no " + resource("exchange", d.name, name_));
    return Error::none();
  }
  std::optional<ExchangeType> type = parse_exchange_type(d.type);
  if (!type) return Error::make(ErrorCode::CommandInvalid, fmt::format("unknown exchange type '{}'", d.type));
  if (d.name.empty()) return default_exchange_refused();
  if (Error e = permitted(d.access, Perm::Configure, Resource::Exchange, d.name)) return e;
  const std::string rs = resource("exchange", d.name, name_);
  auto it = exchanges_.find(d.name);
  if (it == exchanges_.end()) {
    if (d.name.starts_with("amq."))
      return Error::make(ErrorCode::AccessRefused,
                         fmt::format("exchange name '{}' contains reserved prefix 'amq.*'", d.name));
    if (const Value* ae = find(d.arguments, "alternate-exchange")) {
      if (!ae->as_string())
        return Error::make(ErrorCode::PreconditionFailed,
                           fmt::format("invalid type '{}' for arg 'alternate-exchange' in {}", type_name(*ae), rs));
      // Routing through an alternate exchange publishes to it.
      if (Error e = permitted(d.access, Perm::Read, Resource::Exchange, d.name)) return e;
      if (Error e = permitted(d.access, Perm::Write, Resource::Exchange, *ae->as_string())) return e;
    }
    auto x = std::make_shared<Exchange>(Exchange::Options{d.name, *type, d.durable, d.auto_delete, d.internal,
                                                          d.arguments});
    exchanges_.emplace(d.name, x);
    ++routing_version_;
    if (definition_log_ && d.durable) definition_log_->exchange_declared(*x);
    apply_policy(*x);
    return Error::none();
  }
  const Exchange::Options& o = it->second->options();
  if (o.type != *type)
    return inequivalent("type", rs, fmt::format("'{}'", to_string(*type)), fmt::format("'{}'", to_string(o.type)));
  if (o.durable != d.durable) return inequivalent("durable", rs, quoted(d.durable), quoted(o.durable));
  if (o.auto_delete != d.auto_delete) return inequivalent("auto_delete", rs, quoted(d.auto_delete), quoted(o.auto_delete));
  if (o.internal != d.internal) return inequivalent("internal", rs, quoted(d.internal), quoted(o.internal));
  return check_args(
      o.arguments, d.arguments, [](std::string_view k) { return k == "alternate-exchange"; }, rs);
}

Error VHost::delete_exchange(std::string_view name, bool if_unused, auth::Access* access) {
  Outbox::Operation op(outbox_);
  if (name.empty()) return default_exchange_refused();
  if (name.starts_with("amq."))
    return Error::make(ErrorCode::AccessRefused,
                       fmt::format("deletion of system {} not allowed", resource("exchange", name, name_)));
  if (Error e = permitted(access, Perm::Configure, Resource::Exchange, name)) return e;
  ExchangePtr x = find_exchange(name);
  if (!x) return Error::none();
  if (if_unused && x->has_bindings())
    return Error::make(ErrorCode::PreconditionFailed, resource("exchange", name, name_) + " in use");
  delete_exchange_now(x->name());
  return Error::none();
}

void VHost::delete_exchange_now(const std::string& name) {
  auto it = exchanges_.find(name);
  if (it == exchanges_.end()) return;
  ExchangePtr keep = it->second;  // `name` may live in it
  keep->mark_deleted();
  exchanges_.erase(it);
  ++routing_version_;
  if (definition_log_ && keep->options().durable) definition_log_->exchange_deleted(*keep);
  remove_bindings_to(Destination{keep->name(), true});
}

// Drops every binding to `d`; sources that are auto-delete and lost their
// last binding go too (which may cascade).
void VHost::remove_bindings_to(const Destination& d) {
  std::vector<std::string> emptied;
  ++routing_version_;
  for (auto& [n, x] : exchanges_)
    if (x->unbind_all(d) && x->options().auto_delete && !x->has_bindings()) emptied.push_back(n);
  for (const std::string& n : emptied) delete_exchange_now(n);
}

void VHost::after_unbind(const std::string& source) {
  ExchangePtr x = find_exchange(source);
  if (x && x->options().auto_delete && !x->has_bindings()) delete_exchange_now(source);
}

// -------------------------------------------------------------------- queues

std::string VHost::generate_queue_name() {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  while (true) {
    // 16 random bytes in unpadded base64url: 22 characters, like rabbit_guid.
    uint64_t a = rng_() ^ next_generated_++, b = rng_();
    std::string name = "amq.gen-";
    for (int i = 0; i < 22; ++i) {
      uint64_t& word = i < 11 ? a : b;
      name.push_back(kAlphabet[word & 63]);
      word >>= 6;
    }
    if (!queues_.contains(name)) return name;
  }
}

Error VHost::declare_queue(const QueueDeclare& d, TimePoint now, QueueDeclareOk& ok) {
  Outbox::Operation op(outbox_);
  ok = QueueDeclareOk{};
  auto reply = [&](const Queue& q) {
    ok.name = q.name();
    ok.message_count = q.ready_count();
    ok.consumer_count = uint32_t(q.consumer_count());
    return Error::none();
  };
  // rabbit_channel: every declare of these names is passive, whatever the
  // flags, and one that exists has, by definition, its one consumer.
  if (d.name.starts_with(kReplyToQueue)) {
    if (d.name != kReplyToQueue && !direct_reply_.find(d.name))
      return Error::make(ErrorCode::NotFound, "no " + resource("queue", d.name, name_));
    ok.name = d.name;
    ok.consumer_count = 1;
    return Error::none();
  }
  auto locked = [&](std::string_view name) {
    return Error::make(ErrorCode::ResourceLocked,
                       fmt::format("cannot obtain exclusive access to locked {}. It could be originally declared on "
                                   "another connection or the exclusive property value does not match that of the "
                                   "original declaration.",
                                   resource("queue", name, name_)));
  };
  if (d.passive) {
    QueuePtr q = find_queue(d.name);
    if (!q) return Error::make(ErrorCode::NotFound, "no " + resource("queue", d.name, name_));
    if (q->exclusive() && q->exclusive_owner() != d.owner) return locked(d.name);
    q->touch(now);
    return reply(*q);
  }
  std::string name = d.name;
  if (name.empty()) name = generate_queue_name();
  else if (name.starts_with("amq."))  // even when it exists: RabbitMQ checks the name first
    return Error::make(ErrorCode::AccessRefused, fmt::format("queue name '{}' contains reserved prefix 'amq.*'", name));
  if (Error e = permitted(d.access, Perm::Configure, Resource::Queue, name)) return e;  // a server-named one's too
  const bool durable = d.durable && !d.exclusive;  // RabbitMQ: exclusive queues are never durable
  const ConnectionId owner = d.exclusive ? d.owner : 0;
  const std::string rs = resource("queue", name, name_);
  if (QueuePtr q = find_queue(name)) {
    if (q->exclusive_owner() != owner) return locked(name);
    if (q->durable() != durable) return inequivalent("durable", rs, quoted(durable), quoted(q->durable()));
    if (q->options().auto_delete != d.auto_delete)
      return inequivalent("auto_delete", rs, quoted(d.auto_delete), quoted(q->options().auto_delete));
    if (Error e = check_args(q->options().arguments, d.arguments, QueueArgs::is_compared_on_redeclare, rs)) return e;
    q->touch(now);
    return reply(*q);
  }
  if (max_queues_ >= 0 && int64_t(queues_.size()) >= max_queues_)
    return Error::make(ErrorCode::PreconditionFailed,
                       fmt::format("cannot declare queue '{}': queue limit in vhost '{}' ({}) is reached", name, name_,
                                   max_queues_));
  Error err;
  QueueArgs args = QueueArgs::parse(d.arguments, err, name, name_);
  if (err) return err;
  // Dead-lettering reads from this queue and publishes to its exchange.
  if (const Value* dlx = find(d.arguments, "x-dead-letter-exchange"); dlx && dlx->as_string()) {
    if (Error e = permitted(d.access, Perm::Read, Resource::Queue, name)) return e;
    if (Error e = permitted(d.access, Perm::Write, Resource::Exchange, *dlx->as_string())) return e;
  }
  if (Error e = args.check_type(d.arguments, d.durable, d.exclusive, d.auto_delete, name, name_)) return e;
  args.lock.unsafe_double_grant = unsafe_double_grant_;
  args.lock.observer = lock_observer_;
  Queue::Options o{name, name_, durable, d.auto_delete, owner, d.arguments, std::move(args), &lock_tokens_};
  QueuePtr q = std::make_shared<Queue>(std::move(o), *this, now);
  queues_.emplace(name, q);
  ++routing_version_;
  if (definition_log_ && durable) definition_log_->queue_declared(*q);
  apply_policy(*q, now);
  return reply(*q);
}

QueuePtr VHost::queue_for(std::string_view name, ConnectionId who, Error& err) {
  Outbox::Operation op(outbox_);
  err = Error::none();
  QueuePtr q = find_queue(name);
  if (!q) {
    err = Error::make(ErrorCode::NotFound, "no " + resource("queue", name, name_));
    return nullptr;
  }
  if (q->exclusive() && q->exclusive_owner() != who) {
    err = Error::make(ErrorCode::ResourceLocked,
                      fmt::format("cannot obtain exclusive access to locked {}. It could be originally declared on "
                                  "another connection or the exclusive property value does not match that of the "
                                  "original declaration.",
                                  resource("queue", name, name_)));
    return nullptr;
  }
  return q;
}

Error VHost::delete_queue(std::string_view name, bool if_unused, bool if_empty, ConnectionId who, TimePoint now,
                          uint64_t& messages, auth::Access* access) {
  Outbox::Operation op(outbox_);
  (void)now;
  messages = 0;
  if (Error e = permitted(access, Perm::Configure, Resource::Queue, name)) return e;
  if (!find_queue(name)) return Error::none();
  Error err;
  QueuePtr q = queue_for(name, who, err);
  if (err) return err;
  if (if_empty && q->ready_count() > 0)
    return Error::make(ErrorCode::PreconditionFailed, resource("queue", name, name_) + " not empty");
  if (if_unused && q->has_consumers())
    return Error::make(ErrorCode::PreconditionFailed, resource("queue", name, name_) + " in use");
  messages = q->ready_count();
  delete_queue_now(q);
  return Error::none();
}

Error VHost::purge_queue(std::string_view name, ConnectionId who, TimePoint now, uint64_t& messages,
                         auth::Access* access) {
  Outbox::Operation op(outbox_);
  messages = 0;
  if (Error e = permitted(access, Perm::Read, Resource::Queue, name)) return e;
  Error err;
  QueuePtr q = queue_for(name, who, err);
  if (err) return err;
  messages = q->purge(now);
  return Error::none();
}

void VHost::delete_queue_now(const QueuePtr& q) {
  auto it = queues_.find(q->name());
  if (it != queues_.end() && it->second == q) {
    queues_.erase(it);
    ++routing_version_;
    remove_bindings_to(Destination{q->name(), false});
  }
  if (!q->closed()) deleted_queue_counts_ += q->counts();
  q->close();
}

// From the outbox, so never while a queue or this vhost is mid-change.
void VHost::queue_unused(Queue& q) {
  auto it = queues_.find(q.name());
  if (it == queues_.end() || it->second.get() != &q) return;
  Outbox::Operation op(outbox_);
  QueuePtr keep = it->second;  // delete_queue_now erases the map's reference
  delete_queue_now(keep);
}

void VHost::connection_closed(ConnectionId who, TimePoint now) {
  Outbox::Operation op(outbox_);
  (void)now;
  if (who == 0) return;
  connections_.erase(who);
  std::vector<QueuePtr> owned;
  for (const auto& [_, q] : queues_)
    if (q->exclusive_owner() == who) owned.push_back(q);
  for (const QueuePtr& q : owned) delete_queue_now(q);
}

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

// ---------------------------------------------------------------------- time

// Only the queues whose deadline has come: the index says which.
void VHost::advance(TimePoint now) {
  Outbox::Operation op(outbox_);
  std::vector<QueuePtr> due;
  for (auto it = deadlines_.begin(); it != deadlines_.end() && it->first <= now; ++it)
    due.push_back(it->second->shared_from_this());
  for (const QueuePtr& q : due) q->advance(now);
}

std::optional<TimePoint> VHost::next_deadline() const {
  if (deadlines_.empty()) return std::nullopt;
  return deadlines_.begin()->first;
}

void VHost::deadline_changed(Queue& q, std::optional<TimePoint> before, std::optional<TimePoint> after) {
  if (before) deadlines_.erase({*before, &q});
  if (after) deadlines_.insert({*after, &q});
}

}  // namespace warren::broker
