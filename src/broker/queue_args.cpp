// QueueArgs::parse: RabbitMQ's queue-argument checks (rabbit_amqqueue's
// declare_args validators), their order and their error terms.
#include <fmt/format.h>

#include <array>
#include <span>

#include "broker/queue.hpp"

namespace warren::broker {

namespace {

constexpr int64_t kMaxPriority = 255;        // RabbitMQ's ?MAX_SUPPORTED_PRIORITY

// The keys RabbitMQ validates on declare and compares on redeclare, in its order.
constexpr std::array<std::string_view, 18> kDeclareArgs = {
    "x-expires",          "x-message-ttl",          "x-dead-letter-exchange", "x-dead-letter-routing-key",
    "x-max-length",       "x-max-length-bytes",     "x-max-in-memory-length", "x-max-in-memory-bytes",
    "x-max-priority",     "x-overflow",             "x-queue-mode",           "x-single-active-consumer",
    "x-queue-type",       "x-quorum-initial-group-size", "x-max-age",          "x-stream-max-segment-size-bytes",
    "x-initial-cluster-size", "x-queue-leader-locator",
};

// A lock queue's own arguments (lock_args.hpp), also compared on redeclare.
constexpr std::array<std::string_view, 4> kLockArgs = {"x-lock-kind", "x-permits", "x-lock-policy", "x-lock-ttl"};
// What a lock refuses: it holds no messages.
constexpr std::array<std::string_view, 9> kLockRefuses = {
    "x-message-ttl", "x-max-length",   "x-max-length-bytes", "x-overflow",   "x-dead-letter-exchange",
    "x-dead-letter-routing-key", "x-max-priority", "x-single-active-consumer", "x-queue-mode"};

// An integer argument's value; an unsigned 64-bit value beyond INT64_MAX
// (stored modulo 2^64) reads as "too large" rather than negative.
struct IntArg {
  int64_t value = 0;
  bool huge = false;
  std::string text() const { return huge ? fmt::format("{}", uint64_t(value)) : fmt::format("{}", value); }
};

std::optional<IntArg> int_arg(const Value& v) {
  const Int* i = std::get_if<Int>(&v.v);
  if (!i) return std::nullopt;
  return IntArg{i->value, i->kind == IntKind::U64 && i->value < 0};
}

std::string unacceptable(const Value& v) { return fmt::format("{{unacceptable_type,{}}}", type_name(v)); }

// Each checker returns RabbitMQ's error term, or "" when the value is fine.
std::string check_non_neg(const Value& v) {
  auto i = int_arg(v);
  if (!i) return unacceptable(v);
  if (!i->huge && i->value < 0) return fmt::format("{{value_negative,{}}}", i->value);
  return "";
}

std::string check_expiry(const IntArg& i) {
  if (!i.huge && i.value < 0) return fmt::format("{{value_negative,{}}}", i.value);
  if (i.huge || uint64_t(i.value) > kMaxExpiry) return fmt::format("{{value_too_large,{},{}}}", i.text(), kMaxExpiry);
  return "";
}

std::string check_one_of(const Value& v, std::initializer_list<std::string_view> allowed, std::string_view error) {
  const std::string* s = v.as_string();
  if (!s) return unacceptable(v);
  for (std::string_view a : allowed)
    if (*s == a) return "";
  return std::string(error);
}

}  // namespace

bool QueueArgs::is_compared_on_redeclare(std::string_view key) {
  for (std::string_view k : kDeclareArgs)
    if (k == key) return true;
  for (std::string_view k : kLockArgs)
    if (k == key) return true;
  return false;
}

namespace {

// The x-lock-* arguments of a lock queue; "" or the problem, as parse's.
std::string parse_lock_arg(std::string_view key, const Value& v, LockArgs& out) {
  if (key == "x-lock-kind") {
    std::string problem = check_one_of(v, {"mutex", "rwlock", "semaphore"}, "invalid_lock_kind");
    if (problem.empty())
      out.kind = *v.as_string() == "mutex" ? LockKind::Mutex : *v.as_string() == "rwlock" ? LockKind::RwLock
                                                                                          : LockKind::Semaphore;
    return problem;
  }
  if (key == "x-permits") {
    auto i = int_arg(v);
    if (!i) return unacceptable(v);
    if (i->huge || i->value < 1 || i->value > UINT32_MAX) return fmt::format("{{value_out_of_range,{}}}", i->text());
    out.permits = uint32_t(i->value);
    return "";
  }
  if (key == "x-lock-policy") {
    std::string problem = check_one_of(v, {"fifo", "writer-preferred", "reader-preferred"}, "invalid_lock_policy");
    if (problem.empty())
      out.policy = *v.as_string() == "fifo"               ? locks::Policy::Fifo
                   : *v.as_string() == "writer-preferred" ? locks::Policy::WriterPreferred
                                                          : locks::Policy::ReaderPreferred;
    return problem;
  }
  // x-lock-ttl
  auto i = int_arg(v);
  if (!i) return unacceptable(v);
  if (!i->huge && i->value == 0) return "{value_zero,0}";
  if (std::string problem = check_expiry(*i); !problem.empty()) return problem;
  out.lease = Duration(i->value);
  return "";
}

}  // namespace

QueueArgs QueueArgs::parse(const Table& args, Error& err, std::string_view queue, std::string_view vhost) {
  QueueArgs out;
  err = Error::none();
  const std::string rs = resource("queue", queue, vhost);
  // rabbit_channel checks the DLX name's type before the argument validators run.
  if (const Value* v = find(args, "x-dead-letter-exchange"); v && !v->as_string()) {
    err = Error::make(ErrorCode::PreconditionFailed,
                      fmt::format("invalid type '{}' for arg 'x-dead-letter-exchange' in {}", type_name(*v), rs));
    return out;
  }
  for (std::string_view key : kDeclareArgs) {
    const Value* v = find(args, key);
    if (!v) continue;
    std::string problem;
    if (key == "x-expires") {
      if (auto i = int_arg(*v)) {
        if (!i->huge && i->value == 0) problem = "{value_zero,0}";
        else if (problem = check_expiry(*i); problem.empty()) out.expires = Duration(i->value);
      } else {
        problem = unacceptable(*v);
      }
    } else if (key == "x-message-ttl") {
      if (auto i = int_arg(*v)) {
        if (problem = check_expiry(*i); problem.empty()) out.message_ttl = Duration(i->value);
      } else {
        problem = unacceptable(*v);
      }
    } else if (key == "x-dead-letter-exchange") {
      out.dead_letter_exchange = *v->as_string();
    } else if (key == "x-dead-letter-routing-key") {
      if (!v->as_string()) problem = unacceptable(*v);
      else if (!find(args, "x-dead-letter-exchange")) problem = "routing_key_but_no_dlx_defined";
      else out.dead_letter_routing_key = *v->as_string();
    } else if (key == "x-max-length" || key == "x-max-length-bytes") {
      if (problem = check_non_neg(*v); problem.empty())
        (key == "x-max-length" ? out.max_length : out.max_length_bytes) = uint64_t(int_arg(*v)->value);
    } else if (key == "x-max-in-memory-length" || key == "x-max-in-memory-bytes" ||
               key == "x-stream-max-segment-size-bytes") {
      problem = check_non_neg(*v);  // accepted, no effect in Warren
    } else if (key == "x-max-priority") {
      if (problem = check_non_neg(*v); problem.empty()) {
        IntArg i = *int_arg(*v);
        if (i.huge || i.value > kMaxPriority) problem = fmt::format("{{max_value_exceeded,{}}}", i.text());
        else out.max_priority = uint8_t(i.value);
      }
    } else if (key == "x-overflow") {
      problem = check_one_of(*v, {"drop-head", "reject-publish", "reject-publish-dlx"}, "invalid_overflow");
      if (problem.empty()) {
        const std::string& s = *v->as_string();
        out.overflow = s == "drop-head"        ? Overflow::DropHead
                       : s == "reject-publish" ? Overflow::RejectPublish
                                               : Overflow::RejectPublishDlx;
      }
    } else if (key == "x-queue-mode") {
      problem = check_one_of(*v, {"default", "lazy"}, "invalid_queue_mode");
    } else if (key == "x-queue-type") {
      problem = check_one_of(*v, {"classic", "quorum", "stream", "lock"}, "invalid_queue_type");
      if (problem.empty())
        out.type = *v->as_string() == "quorum"   ? QueueType::Quorum
                   : *v->as_string() == "stream" ? QueueType::Stream
                   : *v->as_string() == "lock"   ? QueueType::Lock
                                                 : QueueType::Classic;
    } else if (key == "x-single-active-consumer") {
      if (const bool* b = v->as_bool()) out.single_active_consumer = *b;
      else problem = unacceptable(*v);
    } else if (key == "x-queue-leader-locator") {
      problem = check_one_of(*v, {"client-local", "balanced", "random", "least-leaders"}, "invalid_queue_locator");
    } else if (key == "x-quorum-initial-group-size" || key == "x-initial-cluster-size") {
      if (problem = check_non_neg(*v); problem.empty() && int_arg(*v)->value == 0) problem = "{value_zero,0}";
    } else if (key == "x-max-age") {
      if (!v->as_string()) problem = unacceptable(*v);
    }
    if (!problem.empty()) {
      err = Error::make(ErrorCode::PreconditionFailed, fmt::format("invalid arg '{}' for {}: {}", key, rs, problem));
      return QueueArgs{};
    }
  }
  if (out.type != QueueType::Lock) return out;  // x-lock-* elsewhere: unknown, ignored
  for (std::string_view key : kLockArgs) {
    const Value* v = find(args, key);
    if (!v) continue;
    if (std::string problem = parse_lock_arg(key, *v, out.lock); !problem.empty()) {
      err = Error::make(ErrorCode::PreconditionFailed, fmt::format("invalid arg '{}' for {}: {}", key, rs, problem));
      return QueueArgs{};
    }
  }
  return out;
}

Error QueueArgs::check_type(const Table& args, bool durable, bool exclusive, bool auto_delete, std::string_view queue,
                            std::string_view vhost) const {
  if (type == QueueType::Classic) return Error::none();
  const std::string rs = resource("queue", queue, vhost);
  if (type == QueueType::Lock) {
    for (std::string_view key : kLockRefuses)
      if (find(args, key))
        return Error::make(ErrorCode::PreconditionFailed, fmt::format("invalid arg '{}' for {}: a lock holds no messages", key, rs));
    if (lock.kind != LockKind::Semaphore && find(args, "x-permits"))
      return Error::make(ErrorCode::PreconditionFailed, fmt::format("invalid arg 'x-permits' for {}: only a semaphore has permits", rs));
    return Error::none();  // durable or not, exclusive, auto-delete: all make sense for a lock
  }
  // RabbitMQ 3.10: quorum queues have no priorities, no lazy mode and no
  // reject-publish-dlx; streams refuse every per-message queue feature.
  static constexpr std::array<std::string_view, 2> kQuorumRefuses = {"x-max-priority", "x-queue-mode"};
  static constexpr std::array<std::string_view, 9> kStreamRefuses = {
      "x-expires",          "x-message-ttl",          "x-max-priority",
      "x-queue-mode",       "x-overflow",             "x-max-in-memory-length",
      "x-max-in-memory-bytes", "x-quorum-initial-group-size", "x-cancel-on-ha-failover"};
  std::span<const std::string_view> refused =
      type == QueueType::Quorum ? std::span<const std::string_view>(kQuorumRefuses) : kStreamRefuses;
  for (std::string_view key : refused)
    if (find(args, key))
      return Error::make(ErrorCode::PreconditionFailed, fmt::format("invalid arg '{}' for {}", key, rs));
  if (type == QueueType::Quorum && overflow == Overflow::RejectPublishDlx)
    return Error::make(ErrorCode::PreconditionFailed,
                       fmt::format("invalid arg 'x-overflow' with value 'reject-publish-dlx' for {}", rs));
  auto property = [&](std::string_view p) {
    return Error::make(ErrorCode::PreconditionFailed, fmt::format("invalid property '{}' for {}", p, rs));
  };
  if (auto_delete) return property("auto-delete");
  if (exclusive) return property("exclusive-owner");
  if (!durable) return property("non-durable");
  return Error::none();
}

}  // namespace warren::broker
