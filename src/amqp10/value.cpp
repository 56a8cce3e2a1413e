#include "amqp10/value.hpp"

#include <fmt/format.h>

#include <cstring>

#include "amqp10/generated/types.hpp"

namespace warren::amqp10 {

std::string_view kind_name(Kind k) {
  switch (k) {
    case Kind::Null: return "null";
    case Kind::Boolean: return "boolean";
    case Kind::Ubyte: return "ubyte";
    case Kind::Ushort: return "ushort";
    case Kind::Uint: return "uint";
    case Kind::Ulong: return "ulong";
    case Kind::Byte: return "byte";
    case Kind::Short: return "short";
    case Kind::Int: return "int";
    case Kind::Long: return "long";
    case Kind::Float: return "float";
    case Kind::Double: return "double";
    case Kind::Decimal32: return "decimal32";
    case Kind::Decimal64: return "decimal64";
    case Kind::Decimal128: return "decimal128";
    case Kind::Char: return "char";
    case Kind::Timestamp: return "timestamp";
    case Kind::Uuid: return "uuid";
    case Kind::Binary: return "binary";
    case Kind::String: return "string";
    case Kind::Symbol: return "symbol";
    case Kind::List: return "list";
    case Kind::Map: return "map";
    case Kind::Array: return "array";
    case Kind::Described: return "described";
  }
  return "?";
}

namespace {
// Fixed-size raw bytes (uuid, decimals): cut or zero-padded to `n`.
std::string fixed_bytes(std::string_view raw, size_t n) {
  std::string s(raw.substr(0, n));
  s.resize(n, '\0');
  return s;
}
}  // namespace

#define WARREN_AMQP10_FACTORY(name, type, kind, member) \
  Value Value::name(type v) {                           \
    Value out;                                          \
    out.kind_ = Kind::kind;                             \
    out.scalar_.member = v;                             \
    return out;                                         \
  }
WARREN_AMQP10_FACTORY(boolean, bool, Boolean, b)
WARREN_AMQP10_FACTORY(ubyte, uint8_t, Ubyte, u)
WARREN_AMQP10_FACTORY(ushort, uint16_t, Ushort, u)
WARREN_AMQP10_FACTORY(uint, uint32_t, Uint, u)
WARREN_AMQP10_FACTORY(ulong, uint64_t, Ulong, u)
WARREN_AMQP10_FACTORY(byte, int8_t, Byte, i)
WARREN_AMQP10_FACTORY(short_, int16_t, Short, i)
WARREN_AMQP10_FACTORY(int_, int32_t, Int, i)
WARREN_AMQP10_FACTORY(long_, int64_t, Long, i)
WARREN_AMQP10_FACTORY(float_, float, Float, f)
WARREN_AMQP10_FACTORY(double_, double, Double, d)
WARREN_AMQP10_FACTORY(char_, uint32_t, Char, u)
WARREN_AMQP10_FACTORY(timestamp, int64_t, Timestamp, i)
#undef WARREN_AMQP10_FACTORY

#define WARREN_AMQP10_BYTES_FACTORY(name, kind, convert) \
  Value Value::name(std::string_view v) {                \
    Value out;                                           \
    out.kind_ = Kind::kind;                              \
    out.bytes_ = convert;                                \
    return out;                                          \
  }
WARREN_AMQP10_BYTES_FACTORY(decimal32, Decimal32, fixed_bytes(v, 4))
WARREN_AMQP10_BYTES_FACTORY(decimal64, Decimal64, fixed_bytes(v, 8))
WARREN_AMQP10_BYTES_FACTORY(decimal128, Decimal128, fixed_bytes(v, 16))
WARREN_AMQP10_BYTES_FACTORY(uuid, Uuid, fixed_bytes(v, 16))
WARREN_AMQP10_BYTES_FACTORY(binary, Binary, std::string(v))
WARREN_AMQP10_BYTES_FACTORY(string, String, std::string(v))
WARREN_AMQP10_BYTES_FACTORY(symbol, Symbol, std::string(v))
#undef WARREN_AMQP10_BYTES_FACTORY

Value Value::list(List items) {
  Value out;
  out.kind_ = Kind::List;
  out.items_ = std::move(items);
  return out;
}

Value Value::map(Map entries) {
  Value out;
  out.kind_ = Kind::Map;
  out.map_ = std::move(entries);
  return out;
}

Value Value::array(Kind element_kind, List elements) {
  Value out;
  out.kind_ = Kind::Array;
  out.element_kind_ = element_kind;
  out.items_ = std::move(elements);
  return out;
}

Value Value::described(const Value& descriptor, Value inner) {
  if (descriptor.kind() == Kind::Symbol) return described(descriptor.bytes(), std::move(inner));
  return described(descriptor.as_ulong(), std::move(inner));
}

Value Value::described(uint64_t code, Value inner) {
  Value out;
  if (inner.kind_ == Kind::Described) {
    out.items_.push_back(std::move(inner));  // a described described value: boxed
    out.inner_kind_ = Kind::Described;
  } else {
    out = std::move(inner);
    out.inner_kind_ = out.kind_;
  }
  out.kind_ = Kind::Described;
  out.descriptor_is_symbol_ = false;
  out.scalar_descriptor_ = code;
  return out;
}

Value Value::described(std::string_view symbol, Value inner) {
  Value out = described(uint64_t{0}, std::move(inner));
  out.descriptor_is_symbol_ = true;
  out.descriptor_symbol_ = std::string(symbol);
  return out;
}

bool Value::has_descriptor(uint64_t code, std::string_view symbol) const {
  if (kind_ != Kind::Described) return false;
  return descriptor_is_symbol_ ? descriptor_symbol_ == symbol : scalar_descriptor_ == code;
}

Value Value::descriptor() const {
  if (kind_ != Kind::Described) return {};
  return descriptor_is_symbol_ ? symbol(descriptor_symbol_) : ulong(scalar_descriptor_);
}

Value Value::inner() const {
  if (kind_ != Kind::Described) return {};
  if (inner_kind_ == Kind::Described) return items_.empty() ? Value{} : items_[0];
  Value out = *this;
  out.kind_ = inner_kind_;
  out.inner_kind_ = Kind::Null;
  out.descriptor_is_symbol_ = false;
  out.scalar_descriptor_ = 0;
  out.descriptor_symbol_.clear();
  return out;
}

bool Value::payload_equal(Kind k, const Value& o) const {
  switch (k) {
    case Kind::Null: return true;
    case Kind::Boolean: return scalar_.b == o.scalar_.b;
    case Kind::Ubyte:
    case Kind::Ushort:
    case Kind::Uint:
    case Kind::Ulong:
    case Kind::Char: return scalar_.u == o.scalar_.u;
    case Kind::Byte:
    case Kind::Short:
    case Kind::Int:
    case Kind::Long:
    case Kind::Timestamp: return scalar_.i == o.scalar_.i;
    case Kind::Float: return std::memcmp(&scalar_.f, &o.scalar_.f, sizeof(float)) == 0;
    case Kind::Double: return std::memcmp(&scalar_.d, &o.scalar_.d, sizeof(double)) == 0;
    case Kind::Decimal32:
    case Kind::Decimal64:
    case Kind::Decimal128:
    case Kind::Uuid:
    case Kind::Binary:
    case Kind::String:
    case Kind::Symbol: return bytes_ == o.bytes_;
    case Kind::List: return items_ == o.items_;
    case Kind::Map: return map_ == o.map_;
    case Kind::Array: return element_kind_ == o.element_kind_ && items_ == o.items_;
    case Kind::Described: return items_ == o.items_;  // boxed
  }
  return false;
}

bool Value::operator==(const Value& o) const {
  if (kind_ != o.kind_) return false;
  if (kind_ != Kind::Described) return payload_equal(kind_, o);
  if (descriptor_is_symbol_ != o.descriptor_is_symbol_ || inner_kind_ != o.inner_kind_) return false;
  if (descriptor_is_symbol_ ? descriptor_symbol_ != o.descriptor_symbol_
                            : scalar_descriptor_ != o.scalar_descriptor_)
    return false;
  return payload_equal(inner_kind_, o);
}

namespace {
void append_quoted(std::string& out, std::string_view s) {
  out.push_back('"');
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(char(c));
    } else if (c >= 0x20 && c < 0x7f) {
      out.push_back(char(c));
    } else {
      out += fmt::format("\\x{:02x}", c);
    }
  }
  out.push_back('"');
}
}  // namespace

void Value::append_payload(std::string& out, Kind k) const {
  switch (k) {
    case Kind::Null: out += "null"; return;
    case Kind::Boolean: out += scalar_.b ? "true" : "false"; return;
    case Kind::Ubyte:
    case Kind::Ushort:
    case Kind::Uint:
    case Kind::Ulong: out += fmt::format("{}", scalar_.u); return;
    case Kind::Char: out += fmt::format("char:{}", scalar_.u); return;
    case Kind::Byte:
    case Kind::Short:
    case Kind::Int:
    case Kind::Long: out += fmt::format("{}", scalar_.i); return;
    case Kind::Timestamp: out += fmt::format("ts:{}", scalar_.i); return;
    case Kind::Float: out += fmt::format("{}", scalar_.f); return;
    case Kind::Double: out += fmt::format("{}", scalar_.d); return;
    case Kind::Decimal32:
    case Kind::Decimal64:
    case Kind::Decimal128:
    case Kind::Uuid:
      out += kind_name(k);
      out.push_back(':');
      for (unsigned char c : bytes_) out += fmt::format("{:02x}", c);
      return;
    case Kind::Binary: out.push_back('b'); append_quoted(out, bytes_); return;
    case Kind::String: append_quoted(out, bytes_); return;
    case Kind::Symbol: out.push_back(':'); out += bytes_; return;
    case Kind::List:
    case Kind::Array: {
      out += k == Kind::Array ? fmt::format("@{}[", kind_name(element_kind_)) : "[";
      for (size_t i = 0; i < items_.size(); ++i) {
        if (i) out += ", ";
        out += items_[i].to_string();
      }
      out.push_back(']');
      return;
    }
    case Kind::Map: {
      out.push_back('{');
      for (size_t i = 0; i < map_.size(); ++i) {
        if (i) out += ", ";
        out += map_[i].first.to_string();
        out += ": ";
        out += map_[i].second.to_string();
      }
      out.push_back('}');
      return;
    }
    case Kind::Described:
      if (!items_.empty()) out += items_[0].to_string();
      return;
  }
}

std::string Value::to_string() const {
  std::string out;
  if (kind_ != Kind::Described) {
    append_payload(out, kind_);
    return out;
  }
  if (descriptor_is_symbol_) {
    out += descriptor_symbol_;
  } else if (std::string_view name = descriptor_name(scalar_descriptor_); !name.empty()) {
    out += name;
  } else {
    out += fmt::format("0x{:x}", scalar_descriptor_);
  }
  out.push_back('(');
  append_payload(out, inner_kind_);
  out.push_back(')');
  return out;
}

}  // namespace warren::amqp10
