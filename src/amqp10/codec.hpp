#pragma once
// The AMQP 1.0 type system on the wire (OASIS AMQP 1.0 part 1.6).
//
// `Decoder` is a bounds-checked cursor over received bytes: every read says
// whether it worked, accepts every encoding a peer may choose for the type
// (uint0/smalluint/uint, true/false/0x56 boolean, list0/list8/list32...),
// never reads past the end and never throws. After a failure the decoder
// stays failed, and error() says why (static text).
//
// `Encoder` appends to a std::string and picks the smallest encoding.
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "amqp10/value.hpp"

namespace warren::amqp10 {

// How deep lists, maps, arrays and described values may nest in what we
// decode: recursion is bounded whatever a peer sends.
inline constexpr int kMaxDepth = 64;

inline std::string_view as_chars(std::span<const uint8_t> b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}
inline std::span<const uint8_t> as_bytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

// Big-endian integers at p (which the caller has bounds-checked).
inline uint16_t be16(const uint8_t* p) { return uint16_t(p[0] << 8 | p[1]); }
inline uint32_t be32(const uint8_t* p) {
  return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | p[3];
}
inline uint64_t be64(const uint8_t* p) { return uint64_t(be32(p)) << 32 | be32(p + 4); }

// Encoding constructors (part 1.6 tables).
namespace code {
inline constexpr uint8_t kDescribed = 0x00;
inline constexpr uint8_t kNull = 0x40;
inline constexpr uint8_t kTrue = 0x41;
inline constexpr uint8_t kFalse = 0x42;
inline constexpr uint8_t kBoolean = 0x56;
inline constexpr uint8_t kUint0 = 0x43;
inline constexpr uint8_t kUlong0 = 0x44;
inline constexpr uint8_t kList0 = 0x45;
inline constexpr uint8_t kUbyte = 0x50;
inline constexpr uint8_t kByte = 0x51;
inline constexpr uint8_t kSmallUint = 0x52;
inline constexpr uint8_t kSmallUlong = 0x53;
inline constexpr uint8_t kSmallInt = 0x54;
inline constexpr uint8_t kSmallLong = 0x55;
inline constexpr uint8_t kUshort = 0x60;
inline constexpr uint8_t kShort = 0x61;
inline constexpr uint8_t kUint = 0x70;
inline constexpr uint8_t kInt = 0x71;
inline constexpr uint8_t kFloat = 0x72;
inline constexpr uint8_t kChar = 0x73;
inline constexpr uint8_t kDecimal32 = 0x74;
inline constexpr uint8_t kUlong = 0x80;
inline constexpr uint8_t kLong = 0x81;
inline constexpr uint8_t kDouble = 0x82;
inline constexpr uint8_t kTimestamp = 0x83;
inline constexpr uint8_t kDecimal64 = 0x84;
inline constexpr uint8_t kDecimal128 = 0x94;
inline constexpr uint8_t kUuid = 0x98;
inline constexpr uint8_t kVbin8 = 0xa0;
inline constexpr uint8_t kStr8 = 0xa1;
inline constexpr uint8_t kSym8 = 0xa3;
inline constexpr uint8_t kVbin32 = 0xb0;
inline constexpr uint8_t kStr32 = 0xb1;
inline constexpr uint8_t kSym32 = 0xb3;
inline constexpr uint8_t kList8 = 0xc0;
inline constexpr uint8_t kMap8 = 0xc1;
inline constexpr uint8_t kList32 = 0xd0;
inline constexpr uint8_t kMap32 = 0xd1;
inline constexpr uint8_t kArray8 = 0xe0;
inline constexpr uint8_t kArray32 = 0xf0;
}  // namespace code

// A list being decoded field by field: how many items it has and where it ends.
struct ListScope {
  uint32_t count = 0;
  size_t end = 0;
};

class Decoder {
 public:
  Decoder() = default;
  explicit Decoder(std::span<const uint8_t> in) : in_(in) {}

  size_t position() const { return pos_; }
  size_t remaining() const { return in_.size() - pos_; }
  bool at_end() const { return pos_ == in_.size(); }
  std::span<const uint8_t> rest() const { return in_.subspan(pos_); }
  bool ok() const { return error_ == nullptr; }
  const char* error() const { return error_ ? error_ : ""; }
  // Records the first failure; returns false so callers can `return d.fail(..)`.
  bool fail(const char* why) {
    if (!error_) error_ = why;
    return false;
  }

  // The constructor of the next value (0x00 for a described one).
  bool peek(uint8_t& constructor) const;
  bool next_is_null() const { return ok() && pos_ < in_.size() && in_[pos_] == code::kNull; }
  bool take_null();  // consumes a 0x40 if it is next

  // Typed reads of one value. A type mismatch is an error: callers that
  // accept null check take_null() first.
  bool read_bool(bool& v);
  bool read_ubyte(uint8_t& v);
  bool read_ushort(uint16_t& v);
  bool read_uint(uint32_t& v);
  bool read_ulong(uint64_t& v);  // also accepts the uint encodings
  bool read_byte(int8_t& v);
  bool read_short(int16_t& v);
  bool read_int(int32_t& v);
  bool read_long(int64_t& v);
  bool read_float(float& v);
  bool read_double(double& v);
  bool read_char(uint32_t& v);
  bool read_timestamp(int64_t& v);
  bool read_uuid(std::string_view& raw16);
  // Views into the input (valid as long as it is).
  bool read_binary(std::string_view& v);
  bool read_string(std::string_view& v);
  bool read_symbol(std::string_view& v);
  // Copies (no allocation while they fit std::string's small buffer).
  bool read_binary(std::string& v);
  bool read_string(std::string& v);
  bool read_symbol(std::string& v);
  // A "multiple" symbol field: a single symbol or an array of them.
  bool read_symbol_multiple(std::vector<std::string>& v);

  // 0x00 and a ulong or symbol descriptor; `symbol` is empty for a ulong.
  bool read_descriptor(uint64_t& code, std::string_view& symbol);
  // A descriptor that must be `code` or `symbol`.
  bool expect_descriptor(uint64_t code, std::string_view symbol);

  // Field-by-field list decoding: enter_list, then for field i
  // `take_absent(l, i)` (true when the list is shorter or the field is
  // null), then leave_list, which skips fields a later version may add and
  // checks that the list's size was right.
  bool enter_list(ListScope& l);
  bool take_absent(const ListScope& l, uint32_t index);
  bool leave_list(const ListScope& l, uint32_t known_fields);

  // Any value, decoded (allocates for composite values) or skipped.
  bool read_value(Value& v);
  bool read_map(Value& v);  // a value that must be a map
  bool skip_value();

 private:
  bool need(size_t n);
  const uint8_t* take(size_t n);  // nullptr and failure if fewer than n remain
  bool read_constructor(uint8_t& c);
  bool read_variable(uint8_t c, uint8_t small, uint8_t large, std::string_view& v);
  bool read_payload(uint8_t c, Value& v);
  bool read_array_body(uint8_t c, Value& v);
  bool skip_payload(uint8_t c);
  bool enter(size_t end);  // depth check
  bool enter_compound(uint8_t c, ListScope& l);

  std::span<const uint8_t> in_;
  size_t pos_ = 0;
  int depth_ = 0;
  // Array elements with zero-width encodings (null, true, uint0...) cost
  // the sender nothing: how many more this decoder will materialise.
  uint32_t zero_width_budget_ = 65536;
  const char* error_ = nullptr;
};

class Encoder {
 public:
  explicit Encoder(std::string& out) : out_(out) {}
  std::string& out() { return out_; }

  void write_null() { out_.push_back(char(code::kNull)); }
  void write_bool(bool v) { out_.push_back(char(v ? code::kTrue : code::kFalse)); }
  void write_ubyte(uint8_t v);
  void write_ushort(uint16_t v);
  void write_uint(uint32_t v);
  void write_ulong(uint64_t v);
  void write_byte(int8_t v);
  void write_short(int16_t v);
  void write_int(int32_t v);
  void write_long(int64_t v);
  void write_float(float v);
  void write_double(double v);
  void write_char(uint32_t v);
  void write_timestamp(int64_t v);
  void write_uuid(std::string_view raw16);
  void write_binary(std::string_view v);
  void write_string(std::string_view v);
  void write_symbol(std::string_view v);
  // One symbol as itself, several as an array, none as an empty array.
  void write_symbol_multiple(const std::vector<std::string>& v);

  void write_descriptor(uint64_t code);
  void write_descriptor(std::string_view symbol);

  // A list or map of `count` items (a map counts keys and values) written
  // between begin and end; end_ picks list0/list8/map8 when they fit.
  size_t begin_list();
  void end_list(size_t at, uint32_t count);
  size_t begin_map();
  void end_map(size_t at, uint32_t count);

  void write_value(const Value& v);

 private:
  void put_u16(uint16_t v);
  void put_u32(uint32_t v);
  void put_u64(uint64_t v);
  void end_compound(size_t at, uint32_t count, uint8_t small, uint8_t empty);
  void write_payload(const Value& v, Kind k);
  void write_array(const Value& v);
  void write_array_body(const Value& v, bool element);
  void write_element(const Value& e, Kind k, uint8_t c);

  std::string& out_;
};

// A composite type (generated/types.hpp) as a Value and back, through its
// encoding: for fields of type "*" (Attach::source -> Source...).
template <class T>
Value composite_to_value(const T& m) {
  std::string buf;
  Encoder e(buf);
  m.encode(e);
  Decoder d(as_bytes(buf));
  Value v;
  d.read_value(v);
  return v;
}

template <class T>
std::optional<T> composite_from_value(const Value& v) {
  if (!v.has_descriptor(T::kCode, T::kSymbol)) return std::nullopt;
  std::string buf;
  Encoder e(buf);
  e.write_value(v);
  Decoder d(as_bytes(buf));
  T m;
  if (!T::decode(d, m) || !d.at_end()) return std::nullopt;
  return m;
}

}  // namespace warren::amqp10
