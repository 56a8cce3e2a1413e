#include "amqp10/convert.hpp"

#include <fmt/format.h>

namespace warren::amqp10 {

using broker::Int;
using broker::IntKind;

namespace {
constexpr uint8_t kDefaultPriority = 4;  // part 3.2.1

bool is_text_key(const Value& k) { return k.kind() == Kind::String || k.kind() == Kind::Symbol; }

// The data section's constructor and binary length: the body bytes follow.
void append_data_section_prefix(std::string& out, size_t size) {
  out.push_back(char(code::kDescribed));
  out.push_back(char(code::kSmallUlong));
  out.push_back(char(kDataCode));
  if (size <= 255) {
    out.push_back(char(code::kVbin8));
    out.push_back(char(size));
    return;
  }
  out.push_back(char(code::kVbin32));
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(char(uint32_t(size) >> shift));
}

// Walks the raw sections a 1.0 message was stored with.
void decode_raw(std::string_view raw, std::optional<Properties>& props, std::optional<Value>& app) {
  Decoder d(as_bytes(raw));
  while (d.ok() && !d.at_end()) {
    uint64_t code;
    std::string_view symbol;
    if (!d.read_descriptor(code, symbol)) return;
    if (!symbol.empty()) code = descriptor_code_of(symbol).value_or(0);
    if (code == Properties::kCode) {
      if (!Properties::decode_fields(d, props.emplace())) props.reset();
    } else if (code == kApplicationPropertiesCode) {
      if (!d.read_map(app.emplace())) app.reset();
    } else {
      d.skip_value();
    }
  }
}

std::string hex_uuid(std::string_view raw) {
  std::string s;
  for (size_t i = 0; i < raw.size(); ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) s.push_back('-');
    s += fmt::format("{:02x}", uint8_t(raw[i]));
  }
  return s;
}
}  // namespace

std::string id_text(const Value& id) {
  switch (id.kind()) {
    case Kind::String:
    case Kind::Symbol:
    case Kind::Binary: return std::string(id.bytes());
    case Kind::Ulong: return std::to_string(id.as_ulong());
    case Kind::Uint: return std::to_string(id.as_uint());
    case Kind::Uuid: return hex_uuid(id.bytes());
    default: return id.to_string();
  }
}

broker::Value to_broker(const Value& v) {
  switch (v.kind()) {
    case Kind::Boolean: return broker::Value(v.as_bool());
    case Kind::Ubyte: return Int{v.as_ubyte(), IntKind::U8};
    case Kind::Ushort: return Int{v.as_ushort(), IntKind::U16};
    case Kind::Uint: return Int{v.as_uint(), IntKind::U32};
    case Kind::Ulong: return Int{int64_t(v.as_ulong()), IntKind::U64};
    case Kind::Byte: return Int{v.as_byte(), IntKind::I8};
    case Kind::Short: return Int{v.as_short(), IntKind::I16};
    case Kind::Int: return Int{v.as_int(), IntKind::I32};
    case Kind::Long: return Int{v.as_long(), IntKind::I64};
    case Kind::Float: return broker::Float{v.as_float(), true};
    case Kind::Double: return broker::Float{v.as_double(), false};
    case Kind::Timestamp: return broker::Timestamp{uint64_t(v.as_timestamp() / 1000)};
    case Kind::Binary: return broker::Binary{std::string(v.bytes())};
    case Kind::String:
    case Kind::Symbol: return broker::Value(std::string(v.bytes()));
    case Kind::Uuid: return broker::Value(hex_uuid(v.bytes()));
    case Kind::Char: return Int{int64_t(v.as_char()), IntKind::U32};
    case Kind::List:
    case Kind::Array: {
      broker::Array a;
      for (const Value& e : v.as_list()) a.push_back(to_broker(e));
      return a;
    }
    case Kind::Map: {
      broker::Table t;
      for (const auto& [k, e] : v.as_map())
        if (is_text_key(k)) t.emplace_back(std::string(k.bytes()), to_broker(e));
      return t;
    }
    default: return broker::Value();
  }
}

std::optional<Value> to_amqp10(const broker::Value& v) {
  return std::visit(
      [](const auto& x) -> std::optional<Value> {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, std::monostate>) return Value::null();
        else if constexpr (std::is_same_v<T, bool>) return Value::boolean(x);
        else if constexpr (std::is_same_v<T, Int>) {
          switch (x.kind) {
            case IntKind::I8: return Value::byte(int8_t(x.value));
            case IntKind::U8: return Value::ubyte(uint8_t(x.value));
            case IntKind::I16: return Value::short_(int16_t(x.value));
            case IntKind::U16: return Value::ushort(uint16_t(x.value));
            case IntKind::I32: return Value::int_(int32_t(x.value));
            case IntKind::U32: return Value::uint(uint32_t(x.value));
            case IntKind::U64: return Value::ulong(uint64_t(x.value));
            default: return Value::long_(x.value);
          }
        } else if constexpr (std::is_same_v<T, broker::Float>) {
          return x.single ? Value::float_(float(x.value)) : Value::double_(x.value);
        } else if constexpr (std::is_same_v<T, std::string>) return Value::string(x);
        else if constexpr (std::is_same_v<T, broker::Binary>) return Value::binary(x.bytes);
        else if constexpr (std::is_same_v<T, broker::Timestamp>) return Value::timestamp(int64_t(x.seconds) * 1000);
        else return std::nullopt;  // decimal, arrays, tables: not simple values
      },
      v.v);
}

void to_broker(const Properties& p, const std::optional<Value>& app, broker::Properties& out) {
  if (p.message_id) out.message_id = id_text(*p.message_id);
  if (p.user_id) out.user_id = *p.user_id;
  if (p.reply_to && !p.reply_to->is_null()) out.reply_to = id_text(*p.reply_to);
  if (p.correlation_id) out.correlation_id = id_text(*p.correlation_id);
  if (p.content_type) out.content_type = *p.content_type;
  if (p.content_encoding) out.content_encoding = *p.content_encoding;
  if (p.creation_time) out.timestamp = uint64_t(*p.creation_time / 1000);
  if (app && app->kind() == Kind::Map) {
    broker::Table t;
    for (const auto& [k, v] : app->as_map())
      if (is_text_key(k)) t.emplace_back(std::string(k.bytes()), to_broker(v));
    out.headers = std::move(t);
  }
}

broker::Properties PropertyCodec::decode(std::string_view raw) const {
  std::optional<Properties> props;
  std::optional<Value> app;
  decode_raw(raw, props, app);
  broker::Properties out;
  to_broker(props ? *props : Properties{}, app, out);
  return out;
}

broker::Body PropertyCodec::plain_body(const broker::Body& stored) const {
  if (!stored || stored->empty()) return stored;
  Decoder d(as_bytes(*stored));
  uint64_t code;
  std::string_view symbol;
  if (!d.read_descriptor(code, symbol)) return stored;
  if (!symbol.empty()) code = descriptor_code_of(symbol).value_or(0);
  std::string_view bytes;
  if (code == kDataCode) {
    if (!d.read_binary(bytes) || !d.at_end()) return stored;
  } else if (code == kAmqpValueCode) {
    uint8_t c;
    if (!d.peek(c)) return stored;
    bool ok = (c == code::kStr8 || c == code::kStr32) ? d.read_string(bytes)
              : (c == code::kVbin8 || c == code::kVbin32) ? d.read_binary(bytes)
                                                          : false;
    if (!ok || !d.at_end()) return stored;
  } else {
    return stored;
  }
  return std::make_shared<const std::string>(bytes);
}

const PropertyCodec& PropertyCodec::instance() {
  static const PropertyCodec codec;
  return codec;
}

void store_message(const MessageSections& m, std::span<const uint8_t> bytes, Stored& out) {
  out.raw.clear();
  out.raw.append(as_chars(m.message_annotations));
  out.raw.append(as_chars(m.bare.first(m.bare.size() - m.body.size())));
  out.body.assign(as_chars(m.body));
  broker::Message::Essentials e;
  e.priority = kDefaultPriority;
  if (m.header) {
    e.persistent = m.header->durable.value_or(false);
    e.priority = m.header->priority.value_or(kDefaultPriority);
    if (m.header->ttl) e.ttl = warren::Duration(*m.header->ttl);
  }
  if (m.application_properties && m.application_properties->kind() == Kind::Map)
    for (const auto& [k, v] : m.application_properties->as_map())
      if (is_text_key(k) && (k.bytes() == "CC" || k.bytes() == "BCC")) e.sender_selected = true;
  out.essentials = e;
  (void)bytes;
}

void append_delivery_prefix(std::string& out, const broker::Message& msg, uint32_t delivery_count,
                            bool first_acquirer) {
  Encoder e(out);
  const bool from_amqp10 = msg.codec() == &PropertyCodec::instance();
  Header h;
  if (msg.persistent()) h.durable = true;
  if (from_amqp10) {
    if (msg.priority() != kDefaultPriority) h.priority = msg.priority();
  } else if (auto pr = msg.properties().priority) {
    h.priority = *pr;
  }
  if (auto ttl = msg.ttl()) h.ttl = uint32_t(ttl->count());
  if (!first_acquirer) h.first_acquirer = false;
  if (delivery_count > 0) h.delivery_count = delivery_count;
  if (h != Header{}) encode_header(e, h);
  if (from_amqp10) {
    out.append(msg.raw_properties());
    return;
  }
  // From 0-9-1 (or built by the core): RabbitMQ's mapping.
  const broker::Properties& p = msg.properties();
  e.write_descriptor(kMessageAnnotationsCode);
  size_t at = e.begin_map();
  e.write_symbol("x-exchange");
  e.write_string(msg.exchange());
  e.write_symbol("x-routing-key");
  e.write_string(msg.routing_key());
  e.end_map(at, 4);
  Properties props;
  if (p.message_id) props.message_id = Value::string(*p.message_id);
  if (p.user_id) props.user_id = *p.user_id;
  if (p.reply_to) props.reply_to = Value::string(*p.reply_to);
  if (p.correlation_id) props.correlation_id = Value::string(*p.correlation_id);
  if (p.content_type) props.content_type = *p.content_type;
  if (p.content_encoding) props.content_encoding = *p.content_encoding;
  if (p.timestamp) props.creation_time = int64_t(*p.timestamp) * 1000;
  props.subject = msg.routing_key();
  encode_properties(e, props);
  if (p.headers && !p.headers->empty()) {
    Value::Map map;
    for (const auto& [k, v] : *p.headers)
      if (auto x = to_amqp10(v)) map.emplace_back(Value::string(k), std::move(*x));
    encode_application_properties(e, Value::map(std::move(map)));
  }
  append_data_section_prefix(out, msg.body_size());
}

}  // namespace warren::amqp10
