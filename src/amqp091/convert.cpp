#include "amqp091/convert.hpp"

#include <type_traits>

namespace warren::amqp091 {

using broker::Int;
using broker::IntKind;

broker::Value to_broker(const FieldValue& fv) {
  return std::visit(
      [](const auto& x) -> broker::Value {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, bool>) return broker::Value(x);
        else if constexpr (std::is_same_v<T, int8_t>) return Int{x, IntKind::I8};
        else if constexpr (std::is_same_v<T, uint8_t>) return Int{x, IntKind::U8};
        else if constexpr (std::is_same_v<T, int16_t>) return Int{x, IntKind::I16};
        else if constexpr (std::is_same_v<T, uint16_t>) return Int{x, IntKind::U16};
        else if constexpr (std::is_same_v<T, int32_t>) return Int{x, IntKind::I32};
        else if constexpr (std::is_same_v<T, uint32_t>) return Int{x, IntKind::U32};
        else if constexpr (std::is_same_v<T, int64_t>) return Int{x, IntKind::I64};
        else if constexpr (std::is_same_v<T, float>) return broker::Float{x, true};
        else if constexpr (std::is_same_v<T, double>) return broker::Float{x, false};
        else if constexpr (std::is_same_v<T, Decimal>) return broker::Decimal{x.scale, static_cast<int32_t>(x.value)};
        else if constexpr (std::is_same_v<T, std::string>) return broker::Value(x);
        else if constexpr (std::is_same_v<T, FieldArray>) {
          broker::Array a;
          a.reserve(x.size());
          for (const FieldValue& e : x) a.push_back(to_broker(e));
          return a;
        } else if constexpr (std::is_same_v<T, Timestamp>) return broker::Timestamp{x.seconds};
        else if constexpr (std::is_same_v<T, FieldTable>) return to_broker(x);
        else if constexpr (std::is_same_v<T, Void>) return broker::Value();
        else return broker::Binary{x.bytes};
      },
      fv.variant());
}

broker::Table to_broker(const FieldTable& t) {
  broker::Table out;
  out.reserve(t.size());
  for (const FieldEntry& e : t) out.emplace_back(e.key, to_broker(e.value));
  return out;
}

namespace {
FieldValue int_value(const Int& i) {
  switch (i.kind) {
    case IntKind::I8: return static_cast<int8_t>(i.value);
    case IntKind::U8: return static_cast<uint8_t>(i.value);
    case IntKind::I16: return static_cast<int16_t>(i.value);
    case IntKind::U16: return static_cast<uint16_t>(i.value);
    case IntKind::I32: return static_cast<int32_t>(i.value);
    case IntKind::U32: return static_cast<uint32_t>(i.value);
    case IntKind::I64:
    case IntKind::U64: return static_cast<int64_t>(i.value);  // 0-9-1 has no unsigned 64-bit type
  }
  return static_cast<int64_t>(i.value);
}
}  // namespace

FieldValue to_field_value(const broker::Value& bv) {
  return std::visit(
      [](const auto& x) -> FieldValue {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, std::monostate>) return Void{};
        else if constexpr (std::is_same_v<T, bool>) return x;
        else if constexpr (std::is_same_v<T, Int>) return int_value(x);
        else if constexpr (std::is_same_v<T, broker::Float>) {
          if (x.single) return static_cast<float>(x.value);
          return x.value;
        } else if constexpr (std::is_same_v<T, broker::Decimal>) return Decimal{x.scale, static_cast<uint32_t>(x.value)};
        else if constexpr (std::is_same_v<T, std::string>) return x;
        else if constexpr (std::is_same_v<T, broker::Binary>) return ByteArray{x.bytes};
        else if constexpr (std::is_same_v<T, broker::Timestamp>) return Timestamp{x.seconds};
        else if constexpr (std::is_same_v<T, broker::Array>) {
          FieldArray a;
          a.reserve(x.size());
          for (const broker::Value& e : x) a.push_back(to_field_value(e));
          return a;
        } else return to_field_table(x);
      },
      bv.v);
}

FieldTable to_field_table(const broker::Table& t) {
  FieldTable out;
  for (const auto& [k, v] : t) out.add(k, to_field_value(v));
  return out;
}

broker::Properties to_broker(const BasicProperties& p) {
  broker::Properties b;
  b.content_type = p.content_type;
  b.content_encoding = p.content_encoding;
  if (p.headers) b.headers = to_broker(*p.headers);
  b.delivery_mode = p.delivery_mode;
  b.priority = p.priority;
  b.correlation_id = p.correlation_id;
  b.reply_to = p.reply_to;
  b.expiration = p.expiration;
  b.message_id = p.message_id;
  b.timestamp = p.timestamp;
  b.type = p.type;
  b.user_id = p.user_id;
  b.app_id = p.app_id;
  b.cluster_id = p.cluster_id;
  return b;
}

BasicProperties to_basic(const broker::Properties& b) {
  BasicProperties p;
  p.content_type = b.content_type;
  p.content_encoding = b.content_encoding;
  if (b.headers) p.headers = to_field_table(*b.headers);
  p.delivery_mode = b.delivery_mode;
  p.priority = b.priority;
  p.correlation_id = b.correlation_id;
  p.reply_to = b.reply_to;
  p.expiration = b.expiration;
  p.message_id = b.message_id;
  p.timestamp = b.timestamp;
  p.type = b.type;
  p.user_id = b.user_id;
  p.app_id = b.app_id;
  p.cluster_id = b.cluster_id;
  return p;
}

bool decode_arguments(TableView view, broker::Table& out, DecodeStatus& status) {
  FieldTable t;
  status = view.decode(t);
  if (!status.ok()) return false;
  out = to_broker(t);
  return true;
}

broker::Properties PropertyCodec::decode(std::string_view raw) const {
  PropertiesView view;
  BasicProperties p;
  // The bytes were checked when the message arrived; a table that fails to
  // decode now (limits) leaves those properties out rather than failing.
  if (PropertiesView::parse(as_bytes(raw), view).ok()) view.decode(p);
  return to_broker(p);
}

const PropertyCodec& PropertyCodec::instance() {
  static const PropertyCodec codec;
  return codec;
}

broker::Message::Essentials essentials(const PropertiesView& v) {
  broker::Message::Essentials e;
  // The flags first: most publishes set few properties, if any.
  const uint16_t flags = v.flags();
  if (flags == 0) return e;
  if (flags & property_flag(Property::DeliveryMode)) e.persistent = v.delivery_mode() == 2;
  if (flags & property_flag(Property::Priority)) e.priority = v.priority().value_or(0);
  if (flags & property_flag(Property::Expiration))
    if (auto exp = v.expiration()) e.ttl = broker::parse_expiration(*exp);
  if (flags & property_flag(Property::Headers))
    if (auto h = v.headers()) e.sender_selected = h->has_key("CC") || h->has_key("BCC");
  return e;
}

}  // namespace warren::amqp091
