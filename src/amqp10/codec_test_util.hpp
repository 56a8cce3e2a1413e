#pragma once
// Helpers for the codec tests: hex in and out, sample values of every kind.
#include <gtest/gtest.h>

#include <deque>
#include <ostream>
#include <string>
#include <vector>

#include "amqp10/codec.hpp"

namespace warren::amqp10 {

// So that gtest prints a Value readably.
inline void PrintTo(const Value& v, std::ostream* os) { *os << v.to_string(); }

inline std::string unhex(std::string_view hex) {
  std::string out;
  auto nibble = [](char c) { return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10; };
  for (size_t i = 0; i + 1 < hex.size(); i += 2) out.push_back(char(nibble(hex[i]) << 4 | nibble(hex[i + 1])));
  return out;
}

inline std::string hex_of(std::string_view bytes) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out.push_back(digits[c >> 4]);
    out.push_back(digits[c & 15]);
  }
  return out;
}

// A decoder over `hex`, whose bytes live until the test binary exits.
inline Decoder decoder_for(std::string_view hex) {
  static std::deque<std::string> keep;
  keep.push_back(unhex(hex));
  return Decoder(as_bytes(keep.back()));
}

inline Value value_of(std::string_view hex) {
  Decoder d = decoder_for(hex);
  Value v;
  EXPECT_TRUE(d.read_value(v)) << hex << ": " << d.error();
  EXPECT_TRUE(d.at_end()) << hex;
  return v;
}

template <class F>
std::string encoded(F&& write) {
  std::string out;
  Encoder e(out);
  write(e);
  return hex_of(out);
}

inline void expect_round_trip(const Value& v) {
  std::string wire;
  Encoder e(wire);
  e.write_value(v);
  Decoder d(as_bytes(wire));
  Value back;
  ASSERT_TRUE(d.read_value(back)) << d.error() << " in " << hex_of(wire);
  EXPECT_TRUE(d.at_end());
  EXPECT_EQ(back, v) << hex_of(wire);
  Decoder s(as_bytes(wire));
  EXPECT_TRUE(s.skip_value());
  EXPECT_TRUE(s.at_end());
}

inline std::vector<Value> sample_values() {
  return {
      Value::null(),
      Value::boolean(true),
      Value::boolean(false),
      Value::ubyte(200),
      Value::ushort(60000),
      Value::uint(0),
      Value::uint(200),
      Value::uint(70000),
      Value::ulong(0),
      Value::ulong(200),
      Value::ulong(uint64_t(1) << 40),
      Value::byte(-100),
      Value::short_(-30000),
      Value::int_(-1),
      Value::int_(100000),
      Value::long_(-1),
      Value::long_(int64_t(1) << 40),
      Value::float_(3.25f),
      Value::double_(-2.5e300),
      Value::decimal32(unhex("22500001")),
      Value::decimal64(unhex("2238000000000001")),
      Value::decimal128(unhex("22080000000000000000000000000001")),
      Value::char_(0x1f600),
      Value::timestamp(1700000000000),
      Value::uuid(unhex("00112233445566778899aabbccddeeff")),
      Value::binary(std::string("\0\1\2", 3)),
      Value::binary(std::string(300, 'b')),
      Value::string("hello"),
      Value::string(""),
      Value::symbol("amqp:accepted:list"),
      Value::list(),
      Value::list({Value::uint(1), Value::string("two")}),
      Value::map(),
      Value::map({{Value::symbol("k"), Value::int_(-7)}}),
      Value::array(Kind::Symbol, {Value::symbol("a"), Value::symbol("bc")}),
      Value::described(uint64_t{0x24}, Value::list()),
  };
}

}  // namespace warren::amqp10
