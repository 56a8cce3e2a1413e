// Encoder: arrays, whose elements share one constructor and so are written
// in one fixed form each (uint as 0x70, never uint0 or smalluint).
#include <cstring>

#include "amqp10/codec.hpp"

namespace warren::amqp10 {

namespace {
uint8_t element_constructor(Kind k, const Value::List& items) {
  switch (k) {
    case Kind::Null: return code::kNull;
    case Kind::Boolean: return code::kBoolean;
    case Kind::Ubyte: return code::kUbyte;
    case Kind::Ushort: return code::kUshort;
    case Kind::Uint: return code::kUint;
    case Kind::Ulong: return code::kUlong;
    case Kind::Byte: return code::kByte;
    case Kind::Short: return code::kShort;
    case Kind::Int: return code::kInt;
    case Kind::Long: return code::kLong;
    case Kind::Float: return code::kFloat;
    case Kind::Double: return code::kDouble;
    case Kind::Decimal32: return code::kDecimal32;
    case Kind::Decimal64: return code::kDecimal64;
    case Kind::Decimal128: return code::kDecimal128;
    case Kind::Char: return code::kChar;
    case Kind::Timestamp: return code::kTimestamp;
    case Kind::Uuid: return code::kUuid;
    case Kind::Binary:
    case Kind::String:
    case Kind::Symbol: {
      bool small = true;
      for (const Value& e : items) small = small && e.bytes().size() < 256;
      const uint8_t c = k == Kind::Binary ? code::kVbin8 : k == Kind::String ? code::kStr8 : code::kSym8;
      return small ? c : uint8_t(c + 0x10);
    }
    case Kind::List: return code::kList32;
    case Kind::Map: return code::kMap32;
    case Kind::Array: return code::kArray32;
    case Kind::Described: return code::kNull;  // not an inner kind of array elements
  }
  return code::kNull;
}
}  // namespace

void Encoder::write_array(const Value& v) { write_array_body(v, /*element=*/false); }

// An array; as an element of an outer array (`element`), without its
// constructor and in the 32-bit form the outer constructor announced.
void Encoder::write_array_body(const Value& v, bool element) {
  const Value::List& items = v.items_;
  const size_t at = out_.size();
  if (!element) out_.push_back(char(code::kArray32));
  const size_t size_at = out_.size();
  put_u32(0);
  put_u32(uint32_t(items.size()));
  Kind k = v.element_kind_;
  if (k == Kind::Described) {
    // One descriptor for all elements: the first element's.
    const Value* first = items.empty() ? nullptr : &items[0];
    if (first && first->kind_ == Kind::Described && first->descriptor_is_symbol_) {
      write_descriptor(first->descriptor_symbol_);
    } else {
      write_descriptor(first && first->kind_ == Kind::Described ? first->scalar_descriptor_ : 0);
    }
    k = first && first->kind_ == Kind::Described ? first->inner_kind_ : Kind::Null;
  }
  const uint8_t c = element_constructor(k, items);
  out_.push_back(char(c));
  for (const Value& e : items) write_element(e, k, c);
  if (element) {
    const uint32_t size = uint32_t(out_.size() - size_at - 4);
    const char b[4] = {char(size >> 24), char(size >> 16), char(size >> 8), char(size)};
    std::memcpy(out_.data() + size_at, b, 4);
  } else {
    end_compound(at, uint32_t(items.size()), code::kArray8, 0);
  }
}

// One array element's payload in the form of constructor `c`.
void Encoder::write_element(const Value& e, Kind k, uint8_t c) {
  switch (k) {
    case Kind::Null: return;
    case Kind::Boolean: out_.push_back(char(e.scalar_.b ? 1 : 0)); return;
    case Kind::Ubyte:
    case Kind::Byte: out_.push_back(char(e.scalar_.u)); return;
    case Kind::Ushort:
    case Kind::Short: return put_u16(uint16_t(e.scalar_.u));
    case Kind::Uint:
    case Kind::Int:
    case Kind::Char: return put_u32(uint32_t(e.scalar_.u));
    case Kind::Ulong:
    case Kind::Long:
    case Kind::Timestamp: return put_u64(e.scalar_.u);
    case Kind::Float: {
      uint32_t bits;
      std::memcpy(&bits, &e.scalar_.f, 4);
      return put_u32(bits);
    }
    case Kind::Double: {
      uint64_t bits;
      std::memcpy(&bits, &e.scalar_.d, 8);
      return put_u64(bits);
    }
    case Kind::Decimal32:
    case Kind::Decimal64:
    case Kind::Decimal128:
    case Kind::Uuid: {
      const size_t n = k == Kind::Decimal32 ? 4 : k == Kind::Decimal64 ? 8 : 16;
      std::string_view raw = std::string_view(e.bytes_).substr(0, n);
      out_.append(raw);
      out_.append(n - raw.size(), '\0');
      return;
    }
    case Kind::Binary:
    case Kind::String:
    case Kind::Symbol:
      if (c == code::kVbin8 || c == code::kStr8 || c == code::kSym8) {
        out_.push_back(char(e.bytes_.size()));
      } else {
        put_u32(uint32_t(e.bytes_.size()));
      }
      out_.append(e.bytes_);
      return;
    case Kind::List:
    case Kind::Map: {
      const size_t size_at = out_.size();
      put_u32(0);
      const bool list = k == Kind::List;
      put_u32(uint32_t(list ? e.items_.size() : 2 * e.map_.size()));
      if (list) {
        for (const Value& item : e.items_) write_value(item);
      } else {
        for (const auto& [key, value] : e.map_) {
          write_value(key);
          write_value(value);
        }
      }
      const uint32_t size = uint32_t(out_.size() - size_at - 4);
      const char b[4] = {char(size >> 24), char(size >> 16), char(size >> 8), char(size)};
      std::memcpy(out_.data() + size_at, b, 4);
      return;
    }
    case Kind::Array: return write_array_body(e, /*element=*/true);
    case Kind::Described: return;
  }
}

}  // namespace warren::amqp10
