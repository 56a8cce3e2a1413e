#include "store/records.hpp"

#include <bit>

namespace warren::store {

using broker::Table;
using broker::Value;

namespace {

// Value tags in the store's encoding. Never renumber: they are on disk.
enum Tag : uint8_t {
  kVoid = 0, kFalse = 1, kTrue = 2, kInt = 3, kFloat = 4, kDouble = 5, kDecimal = 6,
  kString = 7, kBinary = 8, kTimestamp = 9, kArray = 10, kTable = 11,
};

constexpr int kMaxDepth = 64;  // nested tables in damaged input must not exhaust the stack

void encode_value(Out& o, const Value& v);

void encode_array(Out& o, const broker::Array& a) {
  o.varint(a.size());
  for (const Value& v : a) encode_value(o, v);
}

void encode_value(Out& o, const Value& v) {
  struct Visit {
    Out& o;
    void operator()(std::monostate) { o.u8(kVoid); }
    void operator()(bool b) { o.u8(b ? kTrue : kFalse); }
    void operator()(const broker::Int& i) {
      o.u8(kInt);
      o.u8(uint8_t(i.kind));
      o.svarint(i.value);
    }
    void operator()(const broker::Float& f) {
      if (f.single) {
        o.u8(kFloat);
        o.u32(std::bit_cast<uint32_t>(float(f.value)));
      } else {
        o.u8(kDouble);
        o.u64(std::bit_cast<uint64_t>(f.value));
      }
    }
    void operator()(const broker::Decimal& d) {
      o.u8(kDecimal);
      o.u8(d.scale);
      o.svarint(d.value);
    }
    void operator()(const std::string& s) {
      o.u8(kString);
      o.bytes(s);
    }
    void operator()(const broker::Binary& b) {
      o.u8(kBinary);
      o.bytes(b.bytes);
    }
    void operator()(const broker::Timestamp& t) {
      o.u8(kTimestamp);
      o.varint(t.seconds);
    }
    void operator()(const broker::Array& a) {
      o.u8(kArray);
      encode_array(o, a);
    }
    void operator()(const Table& t) {
      o.u8(kTable);
      encode(o, t);
    }
  };
  std::visit(Visit{o}, v.v);
}

bool decode_table(In& in, Table& t, int depth);

bool decode_value(In& in, Value& v, int depth) {
  if (depth > kMaxDepth) return in.fail(), false;
  switch (in.u8()) {
    case kVoid: v = Value(); break;
    case kFalse: v = Value(false); break;
    case kTrue: v = Value(true); break;
    case kInt: {
      const uint8_t kind = in.u8();
      if (kind > uint8_t(broker::IntKind::U64)) return in.fail(), false;
      v = Value(broker::Int{in.svarint(), broker::IntKind(kind)});
      break;
    }
    case kFloat: v = Value(broker::Float{std::bit_cast<float>(in.u32()), true}); break;
    case kDouble: v = Value(broker::Float{std::bit_cast<double>(in.u64()), false}); break;
    case kDecimal: {
      const uint8_t scale = in.u8();
      v = Value(broker::Decimal{scale, int32_t(in.svarint())});
      break;
    }
    case kString: v = Value(std::string(in.bytes())); break;
    case kBinary: v = Value(broker::Binary{std::string(in.bytes())}); break;
    case kTimestamp: v = Value(broker::Timestamp{in.varint()}); break;
    case kArray: {
      const uint64_t n = in.varint();
      if (n > in.rest().size()) return in.fail(), false;  // each value takes a byte at least
      broker::Array a;
      a.resize(size_t(n));
      for (Value& e : a)
        if (!decode_value(in, e, depth + 1)) return false;
      v = Value(std::move(a));
      break;
    }
    case kTable: {
      Table t;
      if (!decode_table(in, t, depth + 1)) return false;
      v = Value(std::move(t));
      break;
    }
    default: return in.fail(), false;
  }
  return in.ok();
}

bool decode_table(In& in, Table& t, int depth) {
  const uint64_t n = in.varint();
  if (n > in.rest().size() / 2) return in.fail(), false;  // a key and a value take two bytes at least
  t.clear();
  t.reserve(size_t(n));
  for (uint64_t i = 0; i < n && in.ok(); ++i) {
    std::string key(in.bytes());
    Value v;
    if (!decode_value(in, v, depth)) return false;
    t.emplace_back(std::move(key), std::move(v));
  }
  return in.ok();
}

template <class R>
bool decode_whole(std::span<const uint8_t> p, R& r, bool (*body)(In&, R&)) {
  In in(p);
  return body(in, r) && in.ok() && in.done();
}

void encode_binding(Out& o, const BindingRecord& r) {
  o.bytes(r.source);
  o.u8(r.destination.is_exchange ? 1 : 0);
  o.bytes(r.destination.name);
  o.bytes(r.key);
  encode(o, r.arguments);
}

// Which of Properties' optional fields are present, one bit each.
enum PropBit : uint32_t {
  kContentType = 1, kContentEncoding = 2, kHeaders = 4, kDeliveryMode = 8, kPriority = 16,
  kCorrelationId = 32, kReplyTo = 64, kExpiration = 128, kMessageId = 256, kTimestampBit = 512,
  kType = 1024, kUserId = 2048, kAppId = 4096, kClusterId = 8192,
};

// Message record flags.
enum MsgFlag : uint8_t { kPersistent = 1, kHasTtl = 2, kSenderSelected = 4 };

}  // namespace

void encode(Out& o, const Table& t) {
  o.varint(t.size());
  for (const auto& [k, v] : t) {
    o.bytes(k);
    encode_value(o, v);
  }
}

bool decode(In& in, Table& t) { return decode_table(in, t, 0); }

void encode(Out& o, const broker::Properties& p) {
  uint32_t bits = 0;
  auto mark = [&](bool present, uint32_t bit) { bits |= present ? bit : 0; };
  mark(bool(p.content_type), kContentType);
  mark(bool(p.content_encoding), kContentEncoding);
  mark(bool(p.headers), kHeaders);
  mark(bool(p.delivery_mode), kDeliveryMode);
  mark(bool(p.priority), kPriority);
  mark(bool(p.correlation_id), kCorrelationId);
  mark(bool(p.reply_to), kReplyTo);
  mark(bool(p.expiration), kExpiration);
  mark(bool(p.message_id), kMessageId);
  mark(bool(p.timestamp), kTimestampBit);
  mark(bool(p.type), kType);
  mark(bool(p.user_id), kUserId);
  mark(bool(p.app_id), kAppId);
  mark(bool(p.cluster_id), kClusterId);
  o.varint(bits);
  auto str = [&](const std::optional<std::string>& s) {
    if (s) o.bytes(*s);
  };
  str(p.content_type);
  str(p.content_encoding);
  if (p.headers) encode(o, *p.headers);
  if (p.delivery_mode) o.u8(*p.delivery_mode);
  if (p.priority) o.u8(*p.priority);
  str(p.correlation_id);
  str(p.reply_to);
  str(p.expiration);
  str(p.message_id);
  if (p.timestamp) o.varint(*p.timestamp);
  str(p.type);
  str(p.user_id);
  str(p.app_id);
  str(p.cluster_id);
}

bool decode(In& in, broker::Properties& p) {
  const uint64_t bits = in.varint();
  if (bits >= 2 * kClusterId) return in.fail(), false;
  auto str = [&](uint32_t bit, std::optional<std::string>& s) {
    if (bits & bit) s.emplace(in.bytes());
  };
  str(kContentType, p.content_type);
  str(kContentEncoding, p.content_encoding);
  if (bits & kHeaders)
    if (!decode(in, p.headers.emplace())) return false;
  if (bits & kDeliveryMode) p.delivery_mode = in.u8();
  if (bits & kPriority) p.priority = in.u8();
  str(kCorrelationId, p.correlation_id);
  str(kReplyTo, p.reply_to);
  str(kExpiration, p.expiration);
  str(kMessageId, p.message_id);
  if (bits & kTimestampBit) p.timestamp = in.varint();
  str(kType, p.type);
  str(kUserId, p.user_id);
  str(kAppId, p.app_id);
  str(kClusterId, p.cluster_id);
  return in.ok();
}

void encode(Out& o, const ExchangeRecord& r) {
  o.bytes(r.name);
  o.bytes(r.type);
  o.u8(uint8_t((r.auto_delete ? 1 : 0) | (r.internal ? 2 : 0)));
  encode(o, r.arguments);
}

void encode(Out& o, const QueueRecord& r) {
  o.varint(r.id);
  o.bytes(r.name);
  o.u8(r.auto_delete ? 1 : 0);
  encode(o, r.arguments);
}

void encode(Out& o, const BindingRecord& r) { encode_binding(o, r); }

void encode(Out& o, const EnqueueRecord& r) {
  o.varint(r.queue);
  o.varint(r.seq);
  o.varint(r.message.segment);
  o.varint(r.message.offset);
  o.svarint(r.expires_ms);
}

void encode(Out& o, const RemoveRecord& r) {
  o.varint(r.queue);
  o.varint(r.seq);
}

void encode(Out& o, const PurgeRecord& r) {
  o.varint(r.queue);
  o.varint(r.before_seq);
  o.varint(r.kept.size());
  for (uint64_t s : r.kept) o.varint(s);
}

bool decode(std::span<const uint8_t> p, ExchangeRecord& r) {
  return decode_whole<ExchangeRecord>(p, r, [](In& in, ExchangeRecord& x) {
    x.name = in.bytes();
    x.type = in.bytes();
    const uint8_t f = in.u8();
    x.auto_delete = f & 1;
    x.internal = f & 2;
    return f < 4 && decode(in, x.arguments);
  });
}

bool decode(std::span<const uint8_t> p, QueueRecord& r) {
  return decode_whole<QueueRecord>(p, r, [](In& in, QueueRecord& x) {
    const uint64_t id = in.varint();
    x.id = uint32_t(id);
    x.name = in.bytes();
    const uint8_t f = in.u8();
    x.auto_delete = f & 1;
    return id <= UINT32_MAX && f < 2 && decode(in, x.arguments);
  });
}

bool decode(std::span<const uint8_t> p, BindingRecord& r) {
  return decode_whole<BindingRecord>(p, r, [](In& in, BindingRecord& x) {
    x.source = in.bytes();
    const uint8_t kind = in.u8();
    x.destination.is_exchange = kind == 1;
    x.destination.name = in.bytes();
    x.key = in.bytes();
    return kind < 2 && decode(in, x.arguments);
  });
}

bool decode(std::span<const uint8_t> p, EnqueueRecord& r) {
  return decode_whole<EnqueueRecord>(p, r, [](In& in, EnqueueRecord& x) {
    const uint64_t q = in.varint();
    x.queue = uint32_t(q);
    x.seq = in.varint();
    x.message.segment = in.varint();
    x.message.offset = in.varint();
    x.expires_ms = in.svarint();
    return q <= UINT32_MAX;
  });
}

bool decode(std::span<const uint8_t> p, RemoveRecord& r) {
  return decode_whole<RemoveRecord>(p, r, [](In& in, RemoveRecord& x) {
    const uint64_t q = in.varint();
    x.queue = uint32_t(q);
    x.seq = in.varint();
    return q <= UINT32_MAX;
  });
}

bool decode(std::span<const uint8_t> p, PurgeRecord& r) {
  return decode_whole<PurgeRecord>(p, r, [](In& in, PurgeRecord& x) {
    const uint64_t q = in.varint();
    x.queue = uint32_t(q);
    x.before_seq = in.varint();
    const uint64_t n = in.varint();
    if (n > in.rest().size()) return false;
    x.kept.resize(size_t(n));
    for (uint64_t& s : x.kept) s = in.varint();
    return q <= UINT32_MAX;
  });
}

void encode_message_head(Out& o, const broker::Message& m) {
  const auto ttl = m.ttl();
  o.u8(uint8_t((m.persistent() ? kPersistent : 0) | (ttl ? kHasTtl : 0) |
               (m.sender_selected() ? kSenderSelected : 0)));
  o.u8(m.priority());
  if (ttl) o.svarint(ttl->count());
  o.bytes(m.exchange());
  o.bytes(m.routing_key());
  const uint8_t codec = m.codec() ? m.codec()->store_id() : 0;
  o.u8(codec);
  if (codec) {
    o.bytes(m.raw_properties());
  } else {
    encode(o, m.properties());
  }
  o.varint(m.bcc_keys().size());
  for (const std::string& k : m.bcc_keys()) o.bytes(k);
  o.varint(m.body_size());
}

namespace {

// A message record's fields before its body, up to the body's length.
bool parse_message_head(In& in, MessageRecord& r, uint64_t& body_size) {
  const uint8_t flags = in.u8();
  r.essentials = {};
  r.essentials.persistent = flags & kPersistent;
  r.essentials.sender_selected = flags & kSenderSelected;
  r.essentials.priority = in.u8();
  if (flags & kHasTtl) r.essentials.ttl = Duration(in.svarint());
  r.exchange = in.bytes();
  r.routing_key = in.bytes();
  r.codec = in.u8();
  if (r.codec == 0) {
    if (!decode(in, r.properties)) return false;
  } else {
    r.raw_properties = in.bytes();
  }
  const uint64_t nbcc = in.varint();
  if (nbcc > in.rest().size()) return false;
  r.bcc_keys.clear();
  for (uint64_t i = 0; i < nbcc && in.ok(); ++i) r.bcc_keys.emplace_back(in.bytes());
  body_size = in.varint();
  return flags < 8 && in.ok();
}

}  // namespace

bool parse_message(std::span<const uint8_t> payload, MessageRecord& r) {
  In in(payload);
  uint64_t body_size = 0;
  if (!parse_message_head(in, r, body_size)) return false;
  r.body = in.raw(size_t(body_size));
  return in.ok() && in.done();
}

// A message record stands in the index as its priority and body size,
// exactly when parse_message() would take it: its fields before the body
// parse, and the body's length is what is left of the payload.
bool summarize_record(uint8_t type, std::span<const uint8_t> head, uint64_t size, std::vector<uint8_t>& out) {
  if (RecordType(type) != RecordType::Message) return false;
  In in(head);
  MessageRecord r;
  uint64_t body_size = 0;
  if (!parse_message_head(in, r, body_size) || in.pos() > size || size - in.pos() != body_size) return false;
  Out o(out);
  o.u8(r.essentials.priority);
  o.varint(body_size);
  return true;
}

bool decode_summary(std::span<const uint8_t> summary, MessageSummary& out) {
  In in(summary);
  out.priority = in.u8();
  const uint64_t n = in.varint();
  out.body_size = n;
  return in.ok() && in.done() && n <= kMaxRecordPayload;
}

broker::MessagePtr decode_message(std::span<const uint8_t> payload,
                                  std::span<const broker::PropertyCodec* const> codecs) {
  MessageRecord r;
  if (!parse_message(payload, r)) return nullptr;
  const broker::PropertyCodec* codec = nullptr;
  if (r.codec != 0) {
    for (const broker::PropertyCodec* c : codecs)
      if (c && c->store_id() == r.codec) codec = c;
    if (!codec) return nullptr;
  }
  broker::MessagePtr m =
      codec ? broker::Message::received_bytes(r.exchange, r.routing_key, codec, r.raw_properties, r.essentials, r.body)
            : broker::Message::built(r.exchange, r.routing_key, std::move(r.properties),
                                     std::make_shared<const std::string>(r.body));
  if (!r.bcc_keys.empty()) m = m->with(m->properties(), r.exchange, r.routing_key, std::move(r.bcc_keys));
  return m;
}

}  // namespace warren::store
