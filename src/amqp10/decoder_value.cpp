// Decoder: any value into a Value, or skipped.
#include <algorithm>
#include <cstring>

#include "amqp10/codec.hpp"

namespace warren::amqp10 {

namespace {

bool zero_width(uint8_t c) {
  return c == code::kNull || c == code::kTrue || c == code::kFalse || c == code::kUint0 || c == code::kUlong0 ||
         c == code::kList0;
}

// Payload bytes of a fixed-width encoding; -1 for variable, compound and
// array encodings and for codes the spec does not define.
int fixed_width(uint8_t c) {
  if (zero_width(c)) return 0;
  switch (c) {
    case code::kUbyte:
    case code::kByte:
    case code::kSmallUint:
    case code::kSmallUlong:
    case code::kSmallInt:
    case code::kSmallLong:
    case code::kBoolean: return 1;
    case code::kUshort:
    case code::kShort: return 2;
    case code::kUint:
    case code::kInt:
    case code::kFloat:
    case code::kChar:
    case code::kDecimal32: return 4;
    case code::kUlong:
    case code::kLong:
    case code::kDouble:
    case code::kTimestamp:
    case code::kDecimal64: return 8;
    case code::kDecimal128:
    case code::kUuid: return 16;
    default: return -1;
  }
}

// Kind of the value a constructor encodes (every encoding of a type maps to it).
bool kind_of(uint8_t c, Kind& k) {
  switch (c) {
    case code::kNull: k = Kind::Null; return true;
    case code::kTrue:
    case code::kFalse:
    case code::kBoolean: k = Kind::Boolean; return true;
    case code::kUbyte: k = Kind::Ubyte; return true;
    case code::kUshort: k = Kind::Ushort; return true;
    case code::kUint0:
    case code::kSmallUint:
    case code::kUint: k = Kind::Uint; return true;
    case code::kUlong0:
    case code::kSmallUlong:
    case code::kUlong: k = Kind::Ulong; return true;
    case code::kByte: k = Kind::Byte; return true;
    case code::kShort: k = Kind::Short; return true;
    case code::kSmallInt:
    case code::kInt: k = Kind::Int; return true;
    case code::kSmallLong:
    case code::kLong: k = Kind::Long; return true;
    case code::kFloat: k = Kind::Float; return true;
    case code::kDouble: k = Kind::Double; return true;
    case code::kDecimal32: k = Kind::Decimal32; return true;
    case code::kDecimal64: k = Kind::Decimal64; return true;
    case code::kDecimal128: k = Kind::Decimal128; return true;
    case code::kChar: k = Kind::Char; return true;
    case code::kTimestamp: k = Kind::Timestamp; return true;
    case code::kUuid: k = Kind::Uuid; return true;
    case code::kVbin8:
    case code::kVbin32: k = Kind::Binary; return true;
    case code::kStr8:
    case code::kStr32: k = Kind::String; return true;
    case code::kSym8:
    case code::kSym32: k = Kind::Symbol; return true;
    case code::kList0:
    case code::kList8:
    case code::kList32: k = Kind::List; return true;
    case code::kMap8:
    case code::kMap32: k = Kind::Map; return true;
    case code::kArray8:
    case code::kArray32: k = Kind::Array; return true;
    default: return false;
  }
}
}  // namespace

bool Decoder::read_value(Value& v) {
  v = Value{};
  uint8_t c;
  if (!read_constructor(c)) return false;
  return read_payload(c, v);
}

// The value after its constructor `c` (which read_payload consumed already,
// or which an array gives once for all its elements).
bool Decoder::read_payload(uint8_t c, Value& v) {
  if (c == code::kDescribed) {
    if (!enter(pos_)) return false;
    --pos_;  // read_descriptor wants the 0x00
    uint64_t dcode;
    std::string_view dsym;
    if (!read_descriptor(dcode, dsym)) return false;
    uint8_t ic;
    if (!read_constructor(ic)) return false;
    if (ic == code::kDescribed) {
      Value inner;
      if (!read_payload(ic, inner)) return false;
      v.items_.clear();
      v.items_.push_back(std::move(inner));
      v.inner_kind_ = Kind::Described;
    } else {
      if (!read_payload(ic, v)) return false;
      v.inner_kind_ = v.kind_;
    }
    v.kind_ = Kind::Described;
    v.descriptor_is_symbol_ = !dsym.empty();
    v.scalar_descriptor_ = dcode;
    v.descriptor_symbol_.assign(dsym);
    --depth_;
    return true;
  }
  Kind k;
  if (!kind_of(c, k)) return fail("unknown encoding constructor");
  v.kind_ = k;
  if (k == Kind::List || k == Kind::Map) {
    ListScope l;
    if (!enter_compound(c, l)) return false;
    if (k == Kind::List) {
      v.items_.reserve(l.count);
      for (uint32_t i = 0; i < l.count; ++i)
        if (!read_value(v.items_.emplace_back())) return false;
    } else {
      if (l.count % 2) return fail("map with an odd number of items");
      v.map_.reserve(l.count / 2);
      for (uint32_t i = 0; i < l.count / 2; ++i) {
        auto& [key, value] = v.map_.emplace_back(Value{}, Value{});
        if (!read_value(key) || !read_value(value)) return false;
      }
    }
    return leave_list(l, l.count);
  }
  if (k == Kind::Array) return read_array_body(c, v);
  if (k == Kind::Binary || k == Kind::String || k == Kind::Symbol) {
    std::string_view s;
    uint8_t small = k == Kind::Binary ? code::kVbin8 : k == Kind::String ? code::kStr8 : code::kSym8;
    if (!read_variable(c, small, uint8_t(small + 0x10), s)) return false;
    v.bytes_.assign(s);
    return true;
  }
  // Fixed width: the payload follows the constructor.
  const int w = fixed_width(c);
  const uint8_t* p = take(size_t(w));
  if (!p) return false;
  switch (c) {
    case code::kTrue: v.scalar_.b = true; return true;
    case code::kFalse: v.scalar_.b = false; return true;
    case code::kBoolean:
      if (*p > 1) return fail("boolean byte is neither 0 nor 1");
      v.scalar_.b = *p == 1;
      return true;
    case code::kFloat: {
      uint32_t bits = be32(p);
      std::memcpy(&v.scalar_.f, &bits, 4);
      return true;
    }
    case code::kDouble: {
      uint64_t bits = be64(p);
      std::memcpy(&v.scalar_.d, &bits, 8);
      return true;
    }
    case code::kDecimal32:
    case code::kDecimal64:
    case code::kDecimal128:
    case code::kUuid: v.bytes_.assign(reinterpret_cast<const char*>(p), size_t(w)); return true;
    default: break;
  }
  uint64_t raw = w == 0 ? 0 : w == 1 ? p[0] : w == 2 ? be16(p) : w == 4 ? be32(p) : be64(p);
  switch (k) {
    case Kind::Byte:
    case Kind::Int:
    case Kind::Long:
    case Kind::Short:
    case Kind::Timestamp:
      // Sign-extend from the encoding's width.
      v.scalar_.i = w == 1 ? int8_t(raw) : w == 2 ? int16_t(raw) : w == 4 ? int32_t(raw) : int64_t(raw);
      return true;
    default: v.scalar_.u = raw; return true;
  }
}
bool Decoder::read_array_body(uint8_t c, Value& v) {
  const bool small = c == code::kArray8;
  const uint8_t* p = take(small ? 2 : 8);
  if (!p) return false;
  const size_t size = small ? p[0] : be32(p);
  const uint32_t count = small ? p[1] : be32(p + 4);
  if (size < (small ? 1u : 4u)) return fail("array size smaller than its count");
  const size_t end = pos_ - (small ? 1 : 4) + size;
  if (!enter(end)) return false;
  v.kind_ = Kind::Array;
  if (count == 0 && pos_ == end) {  // no element constructor at all
    --depth_;
    return true;
  }
  // The element constructor, once for all elements; for described
  // elements, the descriptor and the inner constructor.
  uint8_t ec;
  if (!read_constructor(ec)) return false;
  uint64_t dcode = 0;
  std::string_view dsym;
  if (ec == code::kDescribed) {
    --pos_;
    if (!read_descriptor(dcode, dsym) || !read_constructor(ec)) return false;
    if (ec == code::kDescribed) return fail("array of described described values");
    v.element_kind_ = Kind::Described;
  } else if (!kind_of(ec, v.element_kind_)) {
    return fail("unknown array element constructor");
  }
  Kind ek;
  if (!kind_of(ec, ek)) return fail("unknown array element constructor");
  if (zero_width(ec)) {
    if (count > zero_width_budget_) return fail("too many zero-width array elements");
    zero_width_budget_ -= count;
  } else if (count > end - std::min(end, pos_)) {
    return fail("array count larger than its size");
  }
  v.items_.reserve(count);
  for (uint32_t i = 0; i < count; ++i) {
    Value& e = v.items_.emplace_back();
    if (!read_payload(ec, e)) return false;
    if (v.element_kind_ == Kind::Described) {
      e.inner_kind_ = e.kind_;
      e.kind_ = Kind::Described;
      e.descriptor_is_symbol_ = !dsym.empty();
      e.scalar_descriptor_ = dcode;
      e.descriptor_symbol_.assign(dsym);
    }
  }
  if (pos_ != end) return fail("array size does not match its contents");
  --depth_;
  return true;
}

bool Decoder::skip_value() {
  uint8_t c;
  if (!read_constructor(c)) return false;
  return skip_payload(c);
}

bool Decoder::skip_payload(uint8_t c) {
  if (c == code::kDescribed) {
    if (!enter(pos_)) return false;
    if (!skip_value() || !skip_value()) return false;
    --depth_;
    return true;
  }
  if (int w = fixed_width(c); w >= 0) {
    const uint8_t* p = take(size_t(w));
    if (p && c == code::kBoolean && *p > 1) return fail("boolean byte is neither 0 nor 1");
    return p != nullptr;
  }
  // Variable, compound and array encodings: a 1- or 4-byte size, then that
  // many bytes. Compounds are skipped whole, without looking inside.
  size_t width;
  switch (c) {
    case code::kVbin8:
    case code::kStr8:
    case code::kSym8:
    case code::kList8:
    case code::kMap8:
    case code::kArray8: width = 1; break;
    case code::kVbin32:
    case code::kStr32:
    case code::kSym32:
    case code::kList32:
    case code::kMap32:
    case code::kArray32: width = 4; break;
    default: return fail("unknown encoding constructor");
  }
  const uint8_t* p = take(width);
  if (!p) return false;
  const size_t size = width == 1 ? p[0] : be32(p);
  const bool compound = c >= code::kList8;
  if (compound && size < width) return fail("compound size smaller than its count");
  return take(size) != nullptr;
}

}  // namespace warren::amqp10
