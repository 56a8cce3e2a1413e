#include "amqp091/properties.hpp"

#include <array>

namespace warren::amqp091 {
namespace {

enum class Kind : uint8_t { Shortstr, Table, Octet, Timestamp };

struct PropertyInfo {
  std::string_view name;
  Kind kind;
  std::string_view truncated;  // the error text
};

constexpr std::array<PropertyInfo, kPropertyCount> kProperties = {{
    {"content-type", Kind::Shortstr, "content header: truncated at property content-type"},
    {"content-encoding", Kind::Shortstr, "content header: truncated at property content-encoding"},
    {"headers", Kind::Table, "content header: truncated at property headers"},
    {"delivery-mode", Kind::Octet, "content header: truncated at property delivery-mode"},
    {"priority", Kind::Octet, "content header: truncated at property priority"},
    {"correlation-id", Kind::Shortstr, "content header: truncated at property correlation-id"},
    {"reply-to", Kind::Shortstr, "content header: truncated at property reply-to"},
    {"expiration", Kind::Shortstr, "content header: truncated at property expiration"},
    {"message-id", Kind::Shortstr, "content header: truncated at property message-id"},
    {"timestamp", Kind::Timestamp, "content header: truncated at property timestamp"},
    {"type", Kind::Shortstr, "content header: truncated at property type"},
    {"user-id", Kind::Shortstr, "content header: truncated at property user-id"},
    {"app-id", Kind::Shortstr, "content header: truncated at property app-id"},
    {"cluster-id", Kind::Shortstr, "content header: truncated at property cluster-id"},
}};

// Bits of the first flags word that name no basic property (bit 1).
constexpr uint16_t kUnknownFlags = uint16_t(~(0xFFFCu | kMoreFlags));

constexpr uint8_t kNoProperties[2] = {0, 0};

bool skip(Reader& r, Kind k) {
  std::string_view s;
  std::span<const uint8_t> b;
  switch (k) {
    case Kind::Shortstr: return r.shortstr(s);
    case Kind::Table: return r.longbytes(b);
    case Kind::Octet: return r.skip(1);
    case Kind::Timestamp: return r.skip(8);
  }
  return false;
}

// Reads the flag words; leaves `r` at the first value.
DecodeStatus read_flags(Reader& r, uint16_t& flags) {
  if (!r.u16(flags)) return syntax_error("content header: truncated property flags");
  if (flags & kUnknownFlags) return syntax_error("content header: unknown property flag");
  // More words may follow, but basic has no properties beyond the first word.
  for (uint16_t word = flags; word & kMoreFlags;) {
    if (!r.u16(word)) return syntax_error("content header: truncated property flags");
    if (word & ~kMoreFlags) return syntax_error("content header: unknown property flag");
  }
  return {};
}

}  // namespace

std::string_view property_name(Property p) { return kProperties[size_t(p)].name; }

PropertiesView::PropertiesView() : bytes_(kNoProperties) {}

DecodeStatus PropertiesView::parse(std::span<const uint8_t> bytes, PropertiesView& out) {
  Reader r(bytes);
  uint16_t flags;
  if (DecodeStatus st = read_flags(r, flags); !st.ok()) return st;
  for (size_t i = 0; i < kPropertyCount; ++i) {
    if ((flags & property_flag(Property(i))) && !skip(r, kProperties[i].kind))
      return syntax_error(kProperties[i].truncated);
  }
  if (!r.empty()) return syntax_error("content header: octets after the last property");
  out.bytes_ = bytes;
  return {};
}

std::optional<Reader> PropertiesView::seek(Property p) const {
  Reader r(bytes_);
  uint16_t flags;
  if (!read_flags(r, flags).ok() || !(flags & property_flag(p))) return std::nullopt;
  for (size_t i = 0; i < size_t(p); ++i) {
    if ((flags & property_flag(Property(i))) && !skip(r, kProperties[i].kind)) return std::nullopt;
  }
  return r;
}

std::optional<uint8_t> PropertiesView::octet(Property p) const {
  uint8_t v;
  auto r = seek(p);
  if (kProperties[size_t(p)].kind != Kind::Octet || !r || !r->octet(v)) return std::nullopt;
  return v;
}

std::optional<std::string_view> PropertiesView::shortstr(Property p) const {
  std::string_view v;
  auto r = seek(p);
  if (kProperties[size_t(p)].kind != Kind::Shortstr || !r || !r->shortstr(v)) return std::nullopt;
  return v;
}

std::optional<TableView> PropertiesView::headers() const {
  TableView v;
  auto r = seek(Property::Headers);
  if (!r || !read_table(*r, v)) return std::nullopt;
  return v;
}

std::optional<uint64_t> PropertiesView::timestamp() const {
  uint64_t v;
  auto r = seek(Property::Timestamp);
  if (!r || !r->timestamp(v)) return std::nullopt;
  return v;
}

DecodeStatus PropertiesView::decode(BasicProperties& out, const TableLimits& limits) const {
  out = {};
  auto str = [&](Property p, std::optional<std::string>& field) {
    if (auto v = shortstr(p)) field.emplace(*v);
  };
  str(Property::ContentType, out.content_type);
  str(Property::ContentEncoding, out.content_encoding);
  if (auto h = headers()) {
    if (DecodeStatus st = h->decode(out.headers.emplace(), limits); !st.ok()) return st;
  }
  out.delivery_mode = delivery_mode();
  out.priority = priority();
  str(Property::CorrelationId, out.correlation_id);
  str(Property::ReplyTo, out.reply_to);
  str(Property::Expiration, out.expiration);
  str(Property::MessageId, out.message_id);
  out.timestamp = timestamp();
  str(Property::Type, out.type);
  str(Property::UserId, out.user_id);
  str(Property::AppId, out.app_id);
  str(Property::ClusterId, out.cluster_id);
  return {};
}

DecodeStatus decode_content_header(std::span<const uint8_t> payload, ContentHeader& out) {
  Reader r(payload);
  if (!r.u16(out.class_id) || !r.u16(out.weight) || !r.u64(out.body_size))
    return {ReplyCode::FrameError, "content header shorter than its class, weight and body size"};
  if (out.class_id != kClassBasic)
    return {ReplyCode::UnexpectedFrame, "content header for a class other than basic"};
  return PropertiesView::parse(r.rest(), out.properties);
}

void encode_content_header(std::string& out, const ContentHeader& h) {
  Writer w(out);
  w.u16(h.class_id);
  w.u16(h.weight);
  w.u64(h.body_size);
  w.bytes(h.properties.bytes());
}

bool encode_properties(std::string& out, const BasicProperties& p) {
  Writer w(out);
  uint16_t flags = 0;
  auto flag = [&](Property prop, bool present) {
    if (present) flags |= property_flag(prop);
  };
  flag(Property::ContentType, bool(p.content_type));
  flag(Property::ContentEncoding, bool(p.content_encoding));
  flag(Property::Headers, bool(p.headers));
  flag(Property::DeliveryMode, bool(p.delivery_mode));
  flag(Property::Priority, bool(p.priority));
  flag(Property::CorrelationId, bool(p.correlation_id));
  flag(Property::ReplyTo, bool(p.reply_to));
  flag(Property::Expiration, bool(p.expiration));
  flag(Property::MessageId, bool(p.message_id));
  flag(Property::Timestamp, bool(p.timestamp));
  flag(Property::Type, bool(p.type));
  flag(Property::UserId, bool(p.user_id));
  flag(Property::AppId, bool(p.app_id));
  flag(Property::ClusterId, bool(p.cluster_id));
  w.u16(flags);
  auto str = [&](const std::optional<std::string>& v) {
    if (v) w.shortstr(*v);
  };
  str(p.content_type);
  str(p.content_encoding);
  if (p.headers) {
    size_t at = w.begin_length();
    if (!encode_table_entries(out, *p.headers)) w.fail();
    w.end_length(at);
  }
  if (p.delivery_mode) w.octet(*p.delivery_mode);
  if (p.priority) w.octet(*p.priority);
  str(p.correlation_id);
  str(p.reply_to);
  str(p.expiration);
  str(p.message_id);
  if (p.timestamp) w.timestamp(*p.timestamp);
  str(p.type);
  str(p.user_id);
  str(p.app_id);
  str(p.cluster_id);
  return w.finish();
}

bool encode_content_header(std::string& out, uint64_t body_size, const BasicProperties& p) {
  size_t start = out.size();
  Writer w(out);
  w.u16(kClassBasic);
  w.u16(0);
  w.u64(body_size);
  if (encode_properties(out, p)) return true;
  out.resize(start);
  return false;
}

}  // namespace warren::amqp091
