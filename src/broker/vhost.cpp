// VHost: declarations and deletions of exchanges and queues with RabbitMQ
// 3.10's rules and texts (rabbit_channel, rabbit_exchange,
// rabbit_amqqueue), and the queues' deadlines. Bindings are in
// vhost_bindings.cpp, routing and publishing in vhost_routing.cpp,
// dead-lettering in dead_letter.cpp.
#include "broker/vhost.hpp"

#include <fmt/format.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "broker/vhost_checks.hpp"

namespace warren::broker {

namespace {

using vhost_checks::default_exchange_refused;
using vhost_checks::permitted;

std::string quoted(bool b) { return b ? "'true'" : "'false'"; }

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
