#pragma once
// The content header that follows basic.publish, basic.deliver, basic.return
// and basic.get-ok: the body size and the message's properties.
//
//   class-id (short) | weight (short, 0) | body-size (longlong) |
//   property-flags (short, more if bit 0 is set) | the present properties, in flag order
//
// Two forms, as for tables. `PropertiesView` keeps the property octets as
// they arrived, so a broker forwards them to consumers verbatim and reads the
// few it needs (delivery-mode, priority, expiration) without decoding the
// rest; `BasicProperties` is the decoded, owning form.
#include <algorithm>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "amqp091/field_table.hpp"
#include "amqp091/wire.hpp"

namespace warren::amqp091 {

enum class Property : uint8_t {
  ContentType,
  ContentEncoding,
  Headers,
  DeliveryMode,  // 1 transient, 2 persistent
  Priority,
  CorrelationId,
  ReplyTo,
  Expiration,  // per-message TTL in milliseconds, as a decimal string
  MessageId,
  Timestamp,
  Type,
  UserId,
  AppId,
  ClusterId,  // deprecated, but still on the wire
};
inline constexpr size_t kPropertyCount = 14;
inline constexpr uint16_t kMoreFlags = 0x0001;  // another flags word follows

// A property's bit in the first flags word: content-type 0x8000 ... cluster-id 0x0004.
constexpr uint16_t property_flag(Property p) { return uint16_t(0x8000u >> unsigned(p)); }
std::string_view property_name(Property p);  // "content-type"

struct BasicProperties {
  std::optional<std::string> content_type;
  std::optional<std::string> content_encoding;
  std::optional<FieldTable> headers;
  std::optional<uint8_t> delivery_mode;
  std::optional<uint8_t> priority;
  std::optional<std::string> correlation_id;
  std::optional<std::string> reply_to;
  std::optional<std::string> expiration;
  std::optional<std::string> message_id;
  std::optional<uint64_t> timestamp;
  std::optional<std::string> type;
  std::optional<std::string> user_id;
  std::optional<std::string> app_id;
  std::optional<std::string> cluster_id;

  bool operator==(const BasicProperties&) const = default;
};

// Property flags and values, not decoded. Views the caller's bytes.
class PropertiesView {
 public:
  PropertiesView();  // no properties

  // Checks the structure (flag words, lengths, nothing left over) without
  // decoding tables or copying: 502 SYNTAX_ERROR if it does not hold.
  static DecodeStatus parse(std::span<const uint8_t> bytes, PropertiesView& out);

  std::span<const uint8_t> bytes() const { return bytes_; }  // flags and values, as received
  uint16_t flags() const { return uint16_t(bytes_[0] << 8 | bytes_[1]); }
  bool has(Property p) const { return (flags() & property_flag(p)) != 0; }

  // Single properties, found by skipping the ones before them.
  std::optional<uint8_t> delivery_mode() const { return octet(Property::DeliveryMode); }
  std::optional<uint8_t> priority() const { return octet(Property::Priority); }
  std::optional<std::string_view> expiration() const { return shortstr(Property::Expiration); }
  std::optional<TableView> headers() const;
  std::optional<uint64_t> timestamp() const;
  std::optional<uint8_t> octet(Property p) const;             // delivery-mode, priority
  std::optional<std::string_view> shortstr(Property p) const;  // the string properties

  DecodeStatus decode(BasicProperties& out, const TableLimits& limits = {}) const;

  bool operator==(const PropertiesView& o) const {
    return bytes_.size() == o.bytes_.size() && std::equal(bytes_.begin(), bytes_.end(), o.bytes_.begin());
  }

 private:
  // A reader at property p's value, if p is present.
  std::optional<Reader> seek(Property p) const;

  std::span<const uint8_t> bytes_;
};

struct ContentHeader {
  uint16_t class_id = kClassBasic;  // the only class with content
  uint16_t weight = 0;     // unused, always 0
  uint64_t body_size = 0;
  PropertiesView properties;

  bool operator==(const ContentHeader&) const = default;
};

// Decodes a header frame's payload; the properties are checked, not decoded.
// 501 FRAME_ERROR if the fixed part is cut short, 505 UNEXPECTED_FRAME for a
// class other than basic, 502 SYNTAX_ERROR for malformed properties.
DecodeStatus decode_content_header(std::span<const uint8_t> payload, ContentHeader& out);

// Appends a header frame's payload with the properties verbatim.
void encode_content_header(std::string& out, const ContentHeader& h);
// Appends one from decoded properties. False, with `out` unchanged, if a
// string is too long for a shortstr (a caller bug, asserted in debug builds).
bool encode_content_header(std::string& out, uint64_t body_size, const BasicProperties& p);
// Just the property flags and values: what a PropertiesView holds.
bool encode_properties(std::string& out, const BasicProperties& p);

}  // namespace warren::amqp091
