// Encoder: the smallest encoding of each value.
#include <cstring>

#include "amqp10/codec.hpp"

namespace warren::amqp10 {

void Encoder::put_u16(uint16_t v) {
  const char b[2] = {char(v >> 8), char(v)};
  out_.append(b, 2);
}

void Encoder::put_u32(uint32_t v) {
  const char b[4] = {char(v >> 24), char(v >> 16), char(v >> 8), char(v)};
  out_.append(b, 4);
}

void Encoder::put_u64(uint64_t v) {
  put_u32(uint32_t(v >> 32));
  put_u32(uint32_t(v));
}

void Encoder::write_ubyte(uint8_t v) {
  out_.push_back(char(code::kUbyte));
  out_.push_back(char(v));
}

void Encoder::write_ushort(uint16_t v) {
  out_.push_back(char(code::kUshort));
  put_u16(v);
}

void Encoder::write_uint(uint32_t v) {
  if (v == 0) {
    out_.push_back(char(code::kUint0));
  } else if (v < 256) {
    out_.push_back(char(code::kSmallUint));
    out_.push_back(char(v));
  } else {
    out_.push_back(char(code::kUint));
    put_u32(v);
  }
}

void Encoder::write_ulong(uint64_t v) {
  if (v == 0) {
    out_.push_back(char(code::kUlong0));
  } else if (v < 256) {
    out_.push_back(char(code::kSmallUlong));
    out_.push_back(char(v));
  } else {
    out_.push_back(char(code::kUlong));
    put_u64(v);
  }
}

void Encoder::write_byte(int8_t v) {
  out_.push_back(char(code::kByte));
  out_.push_back(char(v));
}

void Encoder::write_short(int16_t v) {
  out_.push_back(char(code::kShort));
  put_u16(uint16_t(v));
}

void Encoder::write_int(int32_t v) {
  if (v >= -128 && v <= 127) {
    out_.push_back(char(code::kSmallInt));
    out_.push_back(char(v));
  } else {
    out_.push_back(char(code::kInt));
    put_u32(uint32_t(v));
  }
}

void Encoder::write_long(int64_t v) {
  if (v >= -128 && v <= 127) {
    out_.push_back(char(code::kSmallLong));
    out_.push_back(char(v));
  } else {
    out_.push_back(char(code::kLong));
    put_u64(uint64_t(v));
  }
}

void Encoder::write_float(float v) {
  uint32_t bits;
  std::memcpy(&bits, &v, 4);
  out_.push_back(char(code::kFloat));
  put_u32(bits);
}

void Encoder::write_double(double v) {
  uint64_t bits;
  std::memcpy(&bits, &v, 8);
  out_.push_back(char(code::kDouble));
  put_u64(bits);
}

void Encoder::write_char(uint32_t v) {
  out_.push_back(char(code::kChar));
  put_u32(v);
}

void Encoder::write_timestamp(int64_t v) {
  out_.push_back(char(code::kTimestamp));
  put_u64(uint64_t(v));
}

namespace {
void put_fixed(std::string& out, std::string_view raw, size_t n) {
  out.append(raw.substr(0, n));
  if (raw.size() < n) out.append(n - raw.size(), '\0');
}

void put_variable(std::string& out, uint8_t small, std::string_view v) {
  if (v.size() < 256) {
    out.push_back(char(small));
    out.push_back(char(v.size()));
  } else {
    out.push_back(char(small + 0x10));
    const uint32_t n = uint32_t(v.size());
    const char b[4] = {char(n >> 24), char(n >> 16), char(n >> 8), char(n)};
    out.append(b, 4);
  }
  out.append(v);
}
}  // namespace

void Encoder::write_uuid(std::string_view raw16) {
  out_.push_back(char(code::kUuid));
  put_fixed(out_, raw16, 16);
}

void Encoder::write_binary(std::string_view v) { put_variable(out_, code::kVbin8, v); }
void Encoder::write_string(std::string_view v) { put_variable(out_, code::kStr8, v); }
void Encoder::write_symbol(std::string_view v) { put_variable(out_, code::kSym8, v); }

void Encoder::write_symbol_multiple(const std::vector<std::string>& v) {
  if (v.size() == 1) return write_symbol(v[0]);
  bool small = true;
  for (const auto& s : v) small = small && s.size() < 256;
  const size_t at = out_.size();
  out_.push_back(char(code::kArray32));
  put_u32(0);
  put_u32(uint32_t(v.size()));
  out_.push_back(char(small ? code::kSym8 : code::kSym32));
  for (const auto& s : v) {
    if (small) {
      out_.push_back(char(s.size()));
    } else {
      put_u32(uint32_t(s.size()));
    }
    out_.append(s);
  }
  end_compound(at, uint32_t(v.size()), code::kArray8, 0);
}

void Encoder::write_descriptor(uint64_t code) {
  out_.push_back(char(code::kDescribed));
  write_ulong(code);
}

void Encoder::write_descriptor(std::string_view symbol) {
  out_.push_back(char(code::kDescribed));
  write_symbol(symbol);
}

size_t Encoder::begin_list() {
  const size_t at = out_.size();
  out_.push_back(char(code::kList32));
  out_.append(8, '\0');  // size and count, filled in by end_list
  return at;
}

size_t Encoder::begin_map() {
  const size_t at = begin_list();
  out_[at] = char(code::kMap32);
  return at;
}

void Encoder::end_list(size_t at, uint32_t count) { end_compound(at, count, code::kList8, code::kList0); }
void Encoder::end_map(size_t at, uint32_t count) { end_compound(at, count, code::kMap8, 0); }

// `at` holds a 32-bit form (constructor, size, count) followed by the body:
// fill it in, or shrink it to the empty (if any) or 8-bit form.
void Encoder::end_compound(size_t at, uint32_t count, uint8_t small, uint8_t empty) {
  const size_t body = out_.size() - (at + 9);
  if (empty != 0 && count == 0 && body == 0) {
    out_.resize(at);
    out_.push_back(char(empty));
    return;
  }
  if (body + 1 <= 255 && count <= 255) {
    out_[at] = char(small);
    out_[at + 1] = char(body + 1);
    out_[at + 2] = char(count);
    std::memmove(out_.data() + at + 3, out_.data() + at + 9, body);
    out_.resize(at + 3 + body);
    return;
  }
  const uint32_t size = uint32_t(body + 4);
  char* p = out_.data() + at + 1;
  const char b[8] = {char(size >> 24), char(size >> 16), char(size >> 8), char(size),
                     char(count >> 24), char(count >> 16), char(count >> 8), char(count)};
  std::memcpy(p, b, 8);
}

void Encoder::write_value(const Value& v) { write_payload(v, v.kind_); }

// `v`'s members encoded as kind `k` (for a described value, its inner kind).
void Encoder::write_payload(const Value& v, Kind k) {
  switch (k) {
    case Kind::Null: return write_null();
    case Kind::Boolean: return write_bool(v.scalar_.b);
    case Kind::Ubyte: return write_ubyte(uint8_t(v.scalar_.u));
    case Kind::Ushort: return write_ushort(uint16_t(v.scalar_.u));
    case Kind::Uint: return write_uint(uint32_t(v.scalar_.u));
    case Kind::Ulong: return write_ulong(v.scalar_.u);
    case Kind::Byte: return write_byte(int8_t(v.scalar_.i));
    case Kind::Short: return write_short(int16_t(v.scalar_.i));
    case Kind::Int: return write_int(int32_t(v.scalar_.i));
    case Kind::Long: return write_long(v.scalar_.i);
    case Kind::Float: return write_float(v.scalar_.f);
    case Kind::Double: return write_double(v.scalar_.d);
    case Kind::Decimal32:
      out_.push_back(char(code::kDecimal32));
      return put_fixed(out_, v.bytes_, 4);
    case Kind::Decimal64:
      out_.push_back(char(code::kDecimal64));
      return put_fixed(out_, v.bytes_, 8);
    case Kind::Decimal128:
      out_.push_back(char(code::kDecimal128));
      return put_fixed(out_, v.bytes_, 16);
    case Kind::Char: return write_char(uint32_t(v.scalar_.u));
    case Kind::Timestamp: return write_timestamp(v.scalar_.i);
    case Kind::Uuid: return write_uuid(v.bytes_);
    case Kind::Binary: return write_binary(v.bytes_);
    case Kind::String: return write_string(v.bytes_);
    case Kind::Symbol: return write_symbol(v.bytes_);
    case Kind::List: {
      const size_t at = begin_list();
      for (const Value& item : v.items_) write_value(item);
      return end_list(at, uint32_t(v.items_.size()));
    }
    case Kind::Map: {
      const size_t at = begin_map();
      for (const auto& [key, value] : v.map_) {
        write_value(key);
        write_value(value);
      }
      return end_map(at, uint32_t(2 * v.map_.size()));
    }
    case Kind::Array: return write_array(v);
    case Kind::Described:
      if (v.kind_ != Kind::Described) return write_null();  // an array element kind misused
      if (v.descriptor_is_symbol_) {
        write_descriptor(v.descriptor_symbol_);
      } else {
        write_descriptor(v.scalar_descriptor_);
      }
      if (v.inner_kind_ == Kind::Described) return v.items_.empty() ? write_null() : write_value(v.items_[0]);
      return write_payload(v, v.inner_kind_);
  }
}

}  // namespace warren::amqp10
