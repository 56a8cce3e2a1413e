#pragma once
// A decoded AMQP 1.0 value of any type (OASIS AMQP 1.0 part 1.6): what a
// field of type "*" holds (source, target, delivery state, message-id...),
// and what maps such as fields, filter-set and annotations decode to.
//
// A described value keeps its inner value in its own members (the
// descriptor beside it) rather than behind a pointer, so that decoding the
// common `accepted` state of a disposition allocates nothing. Descriptors
// are a ulong or a symbol, the two forms the spec defines.
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace warren::amqp10 {

enum class Kind : uint8_t {
  Null,
  Boolean,
  Ubyte,
  Ushort,
  Uint,
  Ulong,
  Byte,
  Short,
  Int,
  Long,
  Float,
  Double,
  Decimal32,
  Decimal64,
  Decimal128,
  Char,
  Timestamp,
  Uuid,
  Binary,
  String,
  Symbol,
  List,
  Map,
  Array,
  Described,
};

std::string_view kind_name(Kind k);

class Value {
 public:
  using List = std::vector<Value>;
  using Map = std::vector<std::pair<Value, Value>>;

  Value() noexcept {}  // null (user-provided: clang wants it before the class is complete)

  static Value null() { return {}; }
  static Value boolean(bool v);
  static Value ubyte(uint8_t v);
  static Value ushort(uint16_t v);
  static Value uint(uint32_t v);
  static Value ulong(uint64_t v);
  static Value byte(int8_t v);
  static Value short_(int16_t v);
  static Value int_(int32_t v);
  static Value long_(int64_t v);
  static Value float_(float v);
  static Value double_(double v);
  // Raw IEEE 754 decimal bytes as on the wire: 4, 8 or 16 of them.
  static Value decimal32(std::string_view raw4);
  static Value decimal64(std::string_view raw8);
  static Value decimal128(std::string_view raw16);
  static Value char_(uint32_t code_point);
  static Value timestamp(int64_t ms_since_epoch);
  static Value uuid(std::string_view raw16);
  static Value binary(std::string_view bytes);
  static Value string(std::string_view utf8);
  static Value symbol(std::string_view ascii);
  static Value list(List items = {});
  static Value map(Map entries = {});
  // Every element must be of `element_kind` (for Described: the same
  // descriptor and inner kind); the encoder trusts it.
  static Value array(Kind element_kind, List elements = {});
  // `descriptor` must be a ulong or a symbol.
  static Value described(const Value& descriptor, Value inner);
  static Value described(uint64_t code, Value inner);
  static Value described(std::string_view symbol, Value inner);

  Kind kind() const { return kind_; }
  bool is_null() const { return kind_ == Kind::Null; }

  // Typed accessors. Precondition: kind() is the accessor's kind (for a
  // described value, inner_kind() is: they read the inner value).
  bool as_bool() const { return scalar_.b; }
  uint8_t as_ubyte() const { return uint8_t(scalar_.u); }
  uint16_t as_ushort() const { return uint16_t(scalar_.u); }
  uint32_t as_uint() const { return uint32_t(scalar_.u); }
  uint64_t as_ulong() const { return scalar_.u; }
  int8_t as_byte() const { return int8_t(scalar_.i); }
  int16_t as_short() const { return int16_t(scalar_.i); }
  int32_t as_int() const { return int32_t(scalar_.i); }
  int64_t as_long() const { return scalar_.i; }
  float as_float() const { return scalar_.f; }
  double as_double() const { return scalar_.d; }
  uint32_t as_char() const { return uint32_t(scalar_.u); }
  int64_t as_timestamp() const { return scalar_.i; }
  // binary, string, symbol, uuid and decimal bytes.
  std::string_view bytes() const { return bytes_; }
  const List& as_list() const { return items_; }  // a list's items, an array's elements
  List& as_list() { return items_; }
  const Map& as_map() const { return map_; }
  Map& as_map() { return map_; }
  Kind array_kind() const { return element_kind_; }  // for an array (or a described array)

  // Described values.
  bool is_described() const { return kind_ == Kind::Described; }
  Kind inner_kind() const { return inner_kind_; }
  bool descriptor_is_symbol() const { return descriptor_is_symbol_; }
  uint64_t descriptor_code() const { return scalar_descriptor_; }
  std::string_view descriptor_symbol() const { return descriptor_symbol_; }
  // True if this is a described value with either form of the descriptor.
  bool has_descriptor(uint64_t code, std::string_view symbol) const;
  Value descriptor() const;  // ulong or symbol (a copy)
  Value inner() const;       // the described value (a copy)

  // Floats compare bit for bit, so that a NaN round-trips equal.
  bool operator==(const Value& o) const;

  std::string to_string() const;

 private:
  union Scalar {
    bool b;
    uint64_t u;
    int64_t i;
    float f;
    double d;
  };
  Kind kind_ = Kind::Null;
  Kind inner_kind_ = Kind::Null;    // described: the kind of the inner value
  Kind element_kind_ = Kind::Null;  // array (or described array): element kind
  bool descriptor_is_symbol_ = false;
  Scalar scalar_{.u = 0};
  uint64_t scalar_descriptor_ = 0;
  std::string descriptor_symbol_;
  std::string bytes_;
  List items_;  // list items, array elements; a described described value: [inner]
  Map map_;

  friend class Decoder;
  friend class Encoder;
  bool payload_equal(Kind k, const Value& o) const;
  void append_payload(std::string& out, Kind k) const;
};

}  // namespace warren::amqp10
