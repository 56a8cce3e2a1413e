#include "broker/message.hpp"

#include <unistd.h>

#include "broker/memory.hpp"

namespace warren::broker {

namespace {
// RabbitMQ's ?MAX_EXPIRY_TIMER: per-message and queue TTLs above it are refused.
constexpr uint64_t kMaxExpiry = 4294967295;
}  // namespace

MessagePtr Message::received(std::string exchange, std::string routing_key, const PropertyCodec* codec,
                             std::string raw_properties, Essentials essentials, Body body) {
  std::shared_ptr<Message> m(new Message());
  m->exchange_ = std::move(exchange);
  m->routing_key_ = std::move(routing_key);
  m->codec_ = codec;
  m->raw_ = std::move(raw_properties);
  m->essentials_ = essentials;
  m->body_ = std::move(body);
  MemoryAccount::add(int64_t(m->size()));
  return m;
}

MessagePtr Message::built(std::string exchange, std::string routing_key, Properties props, Body body) {
  return build(std::move(exchange), std::move(routing_key), std::move(props), std::move(body));
}

std::shared_ptr<Message> Message::build(std::string exchange, std::string routing_key, Properties props, Body body) {
  std::shared_ptr<Message> m(new Message());
  m->exchange_ = std::move(exchange);
  m->routing_key_ = std::move(routing_key);
  m->essentials_ = essentials_of(props);
  m->decoded_ = std::make_unique<Properties>(std::move(props));
  m->body_ = std::move(body);
  MemoryAccount::add(int64_t(m->size()));
  return m;
}

const Properties& Message::properties() const {
  if (decoded_) return *decoded_;
  decoded_ = std::make_unique<Properties>(codec_ ? codec_->decode(raw_) : Properties{});
  // What another protocol keeps outside its properties (AMQP 1.0's header).
  Properties& p = *decoded_;
  if (!p.delivery_mode && essentials_.persistent) p.delivery_mode = 2;
  if (!p.priority && essentials_.priority != 0) p.priority = essentials_.priority;
  if (!p.expiration && essentials_.ttl) p.expiration = std::to_string(essentials_.ttl->count());
  return p;
}

MessagePtr Message::with(Properties props, std::string exchange, std::string routing_key) const {
  return built(std::move(exchange), std::move(routing_key), std::move(props),
               codec_ ? codec_->plain_body(body_) : body_);
}

MessagePtr Message::with(Properties props, std::string exchange, std::string routing_key,
                         std::vector<std::string> bcc_keys) const {
  std::shared_ptr<Message> m = build(std::move(exchange), std::move(routing_key), std::move(props),
                                     codec_ ? codec_->plain_body(body_) : body_);
  if (!bcc_keys.empty()) m->essentials_.sender_selected = true;
  m->bcc_keys_ = std::move(bcc_keys);
  return m;
}

Message::Essentials essentials_of(const Properties& p) {
  Message::Essentials e;
  e.persistent = p.delivery_mode == 2;
  e.priority = p.priority.value_or(0);
  if (p.expiration) e.ttl = parse_expiration(*p.expiration);
  e.sender_selected = p.headers && (find(*p.headers, "CC") || find(*p.headers, "BCC"));
  return e;
}

// As RabbitMQ's string:to_integer + check_expiry: an optional sign, digits,
// nothing after them, 0 <= N <= 2^32-1.
std::optional<Duration> parse_expiration(std::string_view text) {
  bool negative = false;
  if (!text.empty() && (text.front() == '+' || text.front() == '-')) {
    negative = text.front() == '-';
    text.remove_prefix(1);
  }
  if (text.empty()) return std::nullopt;
  uint64_t n = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + uint64_t(c - '0');
    if (n > kMaxExpiry) return std::nullopt;
  }
  if (negative && n != 0) return std::nullopt;
  return Duration(int64_t(n));
}

Message::~Message() { MemoryAccount::add(-int64_t(size())); }

uint64_t default_memory_high_watermark() {
  long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  if (pages <= 0 || page <= 0) return uint64_t(1) << 30;
  return uint64_t(pages) * uint64_t(page) / 10 * 4;
}

}  // namespace warren::broker
