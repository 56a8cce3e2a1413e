#include "broker/message.hpp"

#include <algorithm>
#include <cstring>
#include <new>

#include "broker/memory.hpp"

namespace warren::broker {

namespace {

// The trailer's size for the next allocation, set by Message::make just
// before allocate_shared. Passed aside so that the allocator stays empty:
// a stateful one would be copied into every control block.
thread_local size_t trailer_bytes = 0;

// Allocates the control block and message with room for the trailer after them.
template <class T>
struct TrailerAllocator {
  using value_type = T;
  TrailerAllocator() = default;
  template <class U>
  TrailerAllocator(const TrailerAllocator<U>&) {}
  T* allocate(size_t n) { return static_cast<T*>(::operator new(n * sizeof(T) + trailer_bytes)); }
  void deallocate(T* p, size_t) { ::operator delete(p); }
  template <class U>
  bool operator==(const TrailerAllocator<U>&) const { return true; }
};

char* put(char* out, std::string_view bytes) {
  if (!bytes.empty()) std::memcpy(out, bytes.data(), bytes.size());
  return out + bytes.size();
}
}  // namespace

// A shared body is placed at the start of the trailer; 48 B keeps a 16 B
// body's message in a 96 B malloc chunk.
static_assert(sizeof(Message) % alignof(Body) == 0 && sizeof(Message) == 48);

std::shared_ptr<Message> Message::make(std::string_view exchange, std::string_view routing_key,
                                       const PropertyCodec* codec, std::string_view raw, Essentials e, Body shared,
                                       std::string_view bytes, bool has_body) {
  const size_t body_size = bytes.size();
  // Large bodies stay shared (front ends write them by reference); one
  // given as bytes gets its shared string here.
  const bool keep_shared = body_size > kInlineBody;
  if (keep_shared && !shared) shared = std::make_shared<const std::string>(bytes);
  trailer_bytes = (keep_shared ? sizeof(Body) : body_size) + exchange.size() + routing_key.size() + raw.size();
  std::shared_ptr<Message> m = std::allocate_shared<Message>(TrailerAllocator<Message>(), Key{});
  char* out = m->trailer();
  if (keep_shared) {
    new (out) Body(std::move(shared));
    out += sizeof(Body);
    m->flags_ |= kSharedBody;
  }
  out = put(out, exchange);
  out = put(out, routing_key);
  out = put(out, raw);
  if (!keep_shared) put(out, bytes);
  m->codec_ = codec;
  m->exchange_size_ = uint32_t(exchange.size());
  m->routing_key_size_ = uint32_t(routing_key.size());
  m->raw_size_ = uint32_t(raw.size());
  m->body_size_ = uint32_t(body_size);
  m->priority_ = e.priority;
  if (has_body) m->flags_ |= kHasBody;
  if (e.persistent) m->flags_ |= kPersistent;
  if (e.sender_selected) m->flags_ |= kSenderSelected;
  if (e.ttl) {
    m->flags_ |= kHasTtl;
    // Per-message TTLs are at most 2^32-1 ms (parse_expiration, AMQP 1.0's uint).
    m->ttl_ms_ = uint32_t(std::clamp<int64_t>(e.ttl->count(), 0, UINT32_MAX));
  }
  MemoryAccount::add(int64_t(body_size));
  return m;
}

MessagePtr Message::received(std::string_view exchange, std::string_view routing_key, const PropertyCodec* codec,
                             std::string_view raw_properties, Essentials essentials, Body body) {
  std::string_view bytes = body ? std::string_view(*body) : std::string_view();
  const bool has_body = body != nullptr;
  return make(exchange, routing_key, codec, raw_properties, essentials, std::move(body), bytes, has_body);
}

MessagePtr Message::received_bytes(std::string_view exchange, std::string_view routing_key,
                                   const PropertyCodec* codec, std::string_view raw_properties, Essentials essentials,
                                   std::string_view body) {
  return make(exchange, routing_key, codec, raw_properties, essentials, nullptr, body, true);
}

MessagePtr Message::built(std::string_view exchange, std::string_view routing_key, Properties props, Body body) {
  std::string_view bytes = body ? std::string_view(*body) : std::string_view();
  const bool has_body = body != nullptr;
  std::shared_ptr<Message> m =
      make(exchange, routing_key, nullptr, {}, essentials_of(props), std::move(body), bytes, has_body);
  m->cold().decoded = std::move(props);
  return m;
}

Message::~Message() {
  MemoryAccount::add(-int64_t(size()));
  if (flags_ & kSharedBody) shared_body()->~Body();
}

std::string_view Message::body_view() const {
  if (flags_ & kSharedBody) return **shared_body();
  return {trailer() + exchange_size_ + routing_key_size_ + raw_size_, body_size_};
}

Body Message::body() const {
  if (flags_ & kSharedBody) return *shared_body();
  if (!(flags_ & kHasBody)) return nullptr;
  return std::make_shared<const std::string>(body_view());
}

Message::Cold& Message::cold() const {
  if (!cold_) cold_ = std::make_unique<Cold>();
  return *cold_;
}

const std::vector<std::string>& Message::bcc_keys() const {
  static const std::vector<std::string> none;
  return cold_ ? cold_->bcc_keys : none;
}

const Properties& Message::properties() const {
  Cold& c = cold();
  if (c.decoded) return *c.decoded;
  c.decoded = codec_ ? codec_->decode(raw_properties()) : Properties{};
  // What another protocol keeps outside its properties (AMQP 1.0's header).
  Properties& p = *c.decoded;
  if (!p.delivery_mode && persistent()) p.delivery_mode = 2;
  if (!p.priority && priority_ != 0) p.priority = priority_;
  if (!p.expiration && (flags_ & kHasTtl)) p.expiration = std::to_string(ttl_ms_);
  return p;
}

MessagePtr Message::with(Properties props, std::string_view exchange, std::string_view routing_key) const {
  return built(exchange, routing_key, std::move(props), codec_ ? codec_->plain_body(body()) : body());
}

MessagePtr Message::with(Properties props, std::string_view exchange, std::string_view routing_key,
                         std::vector<std::string> bcc_keys) const {
  Body b = codec_ ? codec_->plain_body(body()) : body();
  std::string_view bytes = b ? std::string_view(*b) : std::string_view();
  const bool has_body = b != nullptr;
  std::shared_ptr<Message> m =
      make(exchange, routing_key, nullptr, {}, essentials_of(props), std::move(b), bytes, has_body);
  m->cold().decoded = std::move(props);
  if (!bcc_keys.empty()) {
    m->flags_ |= kSenderSelected;
    m->cold().bcc_keys = std::move(bcc_keys);
  }
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

}  // namespace warren::broker
