#pragma once
// Values in message headers and in queue/exchange/consumer arguments: what
// AMQP 0-9-1 field tables and AMQP 1.0 maps both map onto. Rich enough that
// a 0-9-1 table survives a round trip through the core with its types.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace warren::broker {

struct Value;
using Table = std::vector<std::pair<std::string, Value>>;  // ordered, as received
using Array = std::vector<Value>;

struct Decimal {
  uint8_t scale = 0;
  int32_t value = 0;
  bool operator==(const Decimal&) const = default;
};
struct Timestamp {
  uint64_t seconds = 0;  // POSIX time
  bool operator==(const Timestamp&) const = default;
};
struct Binary {  // bytes that are not text (0-9-1 'x', 1.0 binary)
  std::string bytes;
  bool operator==(const Binary&) const = default;
};

// Integer width and signedness as the wire said (0-9-1 b/B/s/u/I/i/l;
// the core compares integers by value, front ends re-encode by kind).
enum class IntKind : uint8_t { I8, U8, I16, U16, I32, U32, I64, U64 };
struct Int {
  int64_t value = 0;  // U64 beyond INT64_MAX is stored modulo 2^64
  IntKind kind = IntKind::I64;
  bool operator==(const Int& o) const { return value == o.value; }
};
struct Float {
  double value = 0;
  bool single = false;  // 0-9-1 'f' / 1.0 float, else double
  bool operator==(const Float& o) const { return value == o.value; }
};

struct Value {
  std::variant<std::monostate, bool, Int, Float, Decimal, std::string, Binary, Timestamp, Array, Table> v;

  Value() = default;
  Value(bool b) : v(b) {}
  Value(Int i) : v(i) {}
  Value(int64_t i) : v(Int{i, IntKind::I64}) {}
  Value(int i) : v(Int{i, IntKind::I32}) {}
  Value(Float f) : v(f) {}
  Value(double d) : v(Float{d, false}) {}
  Value(std::string s) : v(std::move(s)) {}
  Value(const char* s) : v(std::string(s)) {}
  Value(Binary b) : v(std::move(b)) {}
  Value(Decimal d) : v(d) {}
  Value(Timestamp t) : v(t) {}
  Value(Array a) : v(std::move(a)) {}
  Value(Table t) : v(std::move(t)) {}

  bool is_void() const { return std::holds_alternative<std::monostate>(v); }
  const std::string* as_string() const { return std::get_if<std::string>(&v); }
  const Table* as_table() const { return std::get_if<Table>(&v); }
  const Array* as_array() const { return std::get_if<Array>(&v); }
  const bool* as_bool() const { return std::get_if<bool>(&v); }
  // Any integer (or an integral float) as int64, for numeric arguments.
  std::optional<int64_t> as_int() const;
  bool operator==(const Value& o) const { return v == o.v; }
};

// First value under `key`, or null.
const Value* find(const Table& t, std::string_view key);
// Replaces the first value under `key`, or appends.
void set(Table& t, std::string_view key, Value v);
bool erase(Table& t, std::string_view key);
// Without these, an unqualified erase(table, "key") picks C++20's
// std::erase(vector, value) by argument-dependent lookup.
inline bool erase(Table& t, const char* key) { return erase(t, std::string_view(key)); }
inline bool erase(Table& t, const std::string& key) { return erase(t, std::string_view(key)); }

// RabbitMQ's name for a value's type, as in its error texts: "longstr",
// "long", "signedint", "bool", "table", "void", ...
std::string_view type_name(const Value& v);
// A short human rendering for error texts: strings as they are, numbers in
// decimal, booleans as true/false, containers by type name.
std::string to_text(const Value& v);

}  // namespace warren::broker
