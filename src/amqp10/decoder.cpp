// Decoder: every read is bounds-checked and the first failure sticks.
#include <algorithm>
#include <cstring>

#include "amqp10/codec.hpp"

namespace warren::amqp10 {

bool Decoder::need(size_t n) {
  if (error_) return false;
  if (remaining() < n) return fail("truncated value");
  return true;
}

const uint8_t* Decoder::take(size_t n) {
  if (!need(n)) return nullptr;
  const uint8_t* p = in_.data() + pos_;
  pos_ += n;
  return p;
}

bool Decoder::read_constructor(uint8_t& c) {
  const uint8_t* p = take(1);
  if (!p) return false;
  c = *p;
  return true;
}

bool Decoder::peek(uint8_t& c) const {
  if (error_ || pos_ >= in_.size()) return false;
  c = in_[pos_];
  return true;
}

bool Decoder::take_null() {
  if (!next_is_null()) return false;
  ++pos_;
  return true;
}

bool Decoder::enter(size_t end) {
  if (end > in_.size()) return fail("compound value larger than its input");
  if (++depth_ > kMaxDepth) return fail("values nested too deeply");
  return true;
}

bool Decoder::read_bool(bool& v) {
  uint8_t c;
  if (!read_constructor(c)) return false;
  if (c == code::kTrue || c == code::kFalse) {
    v = c == code::kTrue;
    return true;
  }
  if (c != code::kBoolean) return fail("expected a boolean");
  const uint8_t* p = take(1);
  if (!p) return false;
  if (*p > 1) return fail("boolean byte is neither 0 nor 1");
  v = *p == 1;
  return true;
}

// One fixed-width read: constructor `c` with an n-byte big-endian payload.
#define WARREN_AMQP10_FIXED(fn, type, constructor, n, convert, what) \
  bool Decoder::fn(type& v) {                                         \
    uint8_t c;                                                        \
    if (!read_constructor(c)) return false;                           \
    if (c != constructor) return fail("expected " what);              \
    const uint8_t* p = take(n);                                       \
    if (!p) return false;                                             \
    v = type(convert);                                                \
    return true;                                                      \
  }
WARREN_AMQP10_FIXED(read_ubyte, uint8_t, code::kUbyte, 1, p[0], "a ubyte")
WARREN_AMQP10_FIXED(read_ushort, uint16_t, code::kUshort, 2, be16(p), "a ushort")
WARREN_AMQP10_FIXED(read_byte, int8_t, code::kByte, 1, int8_t(p[0]), "a byte")
WARREN_AMQP10_FIXED(read_short, int16_t, code::kShort, 2, int16_t(be16(p)), "a short")
WARREN_AMQP10_FIXED(read_char, uint32_t, code::kChar, 4, be32(p), "a char")
WARREN_AMQP10_FIXED(read_timestamp, int64_t, code::kTimestamp, 8, int64_t(be64(p)), "a timestamp")
#undef WARREN_AMQP10_FIXED

bool Decoder::read_uint(uint32_t& v) {
  uint8_t c;
  if (!read_constructor(c)) return false;
  if (c == code::kUint0) {
    v = 0;
    return true;
  }
  size_t n = c == code::kSmallUint ? 1 : c == code::kUint ? 4 : 0;
  if (n == 0) return fail("expected a uint");
  const uint8_t* p = take(n);
  if (!p) return false;
  v = n == 1 ? p[0] : be32(p);
  return true;
}

bool Decoder::read_ulong(uint64_t& v) {
  uint8_t c;
  if (!peek(c)) return need(1);
  if (c == code::kUint0 || c == code::kSmallUint || c == code::kUint) {
    uint32_t u;
    if (!read_uint(u)) return false;
    v = u;
    return true;
  }
  ++pos_;
  if (c == code::kUlong0) {
    v = 0;
    return true;
  }
  size_t n = c == code::kSmallUlong ? 1 : c == code::kUlong ? 8 : 0;
  if (n == 0) return fail("expected a ulong");
  const uint8_t* p = take(n);
  if (!p) return false;
  v = n == 1 ? p[0] : be64(p);
  return true;
}

bool Decoder::read_int(int32_t& v) {
  uint8_t c;
  if (!read_constructor(c)) return false;
  size_t n = c == code::kSmallInt ? 1 : c == code::kInt ? 4 : 0;
  if (n == 0) return fail("expected an int");
  const uint8_t* p = take(n);
  if (!p) return false;
  v = n == 1 ? int8_t(p[0]) : int32_t(be32(p));
  return true;
}

bool Decoder::read_long(int64_t& v) {
  uint8_t c;
  if (!read_constructor(c)) return false;
  size_t n = c == code::kSmallLong ? 1 : c == code::kLong ? 8 : 0;
  if (n == 0) return fail("expected a long");
  const uint8_t* p = take(n);
  if (!p) return false;
  v = n == 1 ? int8_t(p[0]) : int64_t(be64(p));
  return true;
}

bool Decoder::read_float(float& v) {
  uint32_t bits;
  uint8_t c;
  if (!read_constructor(c)) return false;
  if (c != code::kFloat) return fail("expected a float");
  const uint8_t* p = take(4);
  if (!p) return false;
  bits = be32(p);
  std::memcpy(&v, &bits, 4);
  return true;
}

bool Decoder::read_double(double& v) {
  uint8_t c;
  if (!read_constructor(c)) return false;
  if (c != code::kDouble) return fail("expected a double");
  const uint8_t* p = take(8);
  if (!p) return false;
  uint64_t bits = be64(p);
  std::memcpy(&v, &bits, 8);
  return true;
}

bool Decoder::read_uuid(std::string_view& raw16) {
  uint8_t c;
  if (!read_constructor(c)) return false;
  if (c != code::kUuid) return fail("expected a uuid");
  const uint8_t* p = take(16);
  if (!p) return false;
  raw16 = {reinterpret_cast<const char*>(p), 16};
  return true;
}

bool Decoder::read_variable(uint8_t c, uint8_t small, uint8_t large, std::string_view& v) {
  size_t len;
  if (c == small) {
    const uint8_t* p = take(1);
    if (!p) return false;
    len = p[0];
  } else if (c == large) {
    const uint8_t* p = take(4);
    if (!p) return false;
    len = be32(p);
  } else {
    return fail(small == code::kVbin8   ? "expected a binary"
                : small == code::kStr8 ? "expected a string"
                                       : "expected a symbol");
  }
  const uint8_t* p = take(len);
  if (!p) return false;
  v = {reinterpret_cast<const char*>(p), len};
  return true;
}

#define WARREN_AMQP10_VARIABLE(fn, small, large)      \
  bool Decoder::fn(std::string_view& v) {             \
    uint8_t c;                                        \
    return read_constructor(c) && read_variable(c, small, large, v); \
  }                                                   \
  bool Decoder::fn(std::string& v) {                  \
    std::string_view s;                               \
    if (!fn(s)) return false;                         \
    v.assign(s);                                      \
    return true;                                      \
  }
WARREN_AMQP10_VARIABLE(read_binary, code::kVbin8, code::kVbin32)
WARREN_AMQP10_VARIABLE(read_string, code::kStr8, code::kStr32)
WARREN_AMQP10_VARIABLE(read_symbol, code::kSym8, code::kSym32)
#undef WARREN_AMQP10_VARIABLE

bool Decoder::read_symbol_multiple(std::vector<std::string>& v) {
  v.clear();
  uint8_t c;
  if (!peek(c)) return need(1);
  if (c != code::kArray8 && c != code::kArray32) return read_symbol(v.emplace_back());
  ++pos_;
  const bool small = c == code::kArray8;
  const uint8_t* p = take(small ? 2 : 8);
  if (!p) return false;
  const size_t size = small ? p[0] : be32(p);
  const uint32_t count = small ? p[1] : be32(p + 4);
  const size_t end = pos_ - (small ? 1 : 4) + size;
  if (size < (small ? 1u : 4u) || end > in_.size()) return fail("array larger than its input");
  if (count == 0) {
    // An empty array still names its element constructor.
    if (pos_ < end) ++pos_;
  } else {
    uint8_t ec;
    if (!read_constructor(ec)) return false;
    if (ec != code::kSym8 && ec != code::kSym32) return fail("expected an array of symbols");
    if (pos_ > end || count > end - pos_) return fail("array count larger than its size");
    v.reserve(count);
    for (uint32_t i = 0; i < count; ++i) {
      std::string_view s;
      if (!read_variable(ec, code::kSym8, code::kSym32, s)) return false;
      v.emplace_back(s);
    }
  }
  if (pos_ != end) return fail("array size does not match its contents");
  return true;
}

bool Decoder::read_descriptor(uint64_t& code, std::string_view& symbol) {
  uint8_t c;
  if (!read_constructor(c)) return false;
  if (c != code::kDescribed) return fail("expected a described type");
  if (!peek(c)) return need(1);
  symbol = {};
  code = 0;
  if (c == code::kSym8 || c == code::kSym32) {
    if (!read_symbol(symbol)) return false;
    if (symbol.empty()) return fail("empty descriptor symbol");
    return true;
  }
  if (c != code::kUlong0 && c != code::kSmallUlong && c != code::kUlong)
    return fail("descriptor is neither a ulong nor a symbol");
  return read_ulong(code);
}

bool Decoder::expect_descriptor(uint64_t code, std::string_view symbol) {
  uint64_t c;
  std::string_view s;
  if (!read_descriptor(c, s)) return false;
  if (s.empty() ? c != code : s != symbol) return fail("unexpected descriptor");
  return true;
}

bool Decoder::enter_list(ListScope& l) {
  uint8_t c;
  if (!read_constructor(c)) return false;
  if (c != code::kList0 && c != code::kList8 && c != code::kList32) return fail("expected a list");
  return enter_compound(c, l);
}

// A list's or map's size and count, after its constructor `c`.
bool Decoder::enter_compound(uint8_t c, ListScope& l) {
  if (c == code::kList0) {
    l = {0, pos_};
    return enter(pos_);
  }
  const bool small = c == code::kList8 || c == code::kMap8;
  const uint8_t* p = take(small ? 2 : 8);
  if (!p) return false;
  const size_t size = small ? p[0] : be32(p);
  l.count = small ? p[1] : be32(p + 4);
  if (size < (small ? 1u : 4u)) return fail("compound size smaller than its count");
  l.end = pos_ - (small ? 1 : 4) + size;
  if (l.count > size) return fail("compound count larger than its size");
  return enter(l.end);
}

bool Decoder::take_absent(const ListScope& l, uint32_t index) { return index >= l.count || take_null(); }

bool Decoder::leave_list(const ListScope& l, uint32_t known_fields) {
  // Fields a later version of the spec may add: skipped.
  for (uint32_t i = known_fields; i < l.count; ++i)
    if (!skip_value()) return false;
  if (!ok()) return false;
  if (pos_ != l.end) return fail("list size does not match its contents");
  --depth_;
  return true;
}

bool Decoder::read_map(Value& v) {
  uint8_t c;
  if (!peek(c)) return need(1);
  if (c != code::kMap8 && c != code::kMap32) return fail("expected a map");
  return read_value(v);
}

}  // namespace warren::amqp10
