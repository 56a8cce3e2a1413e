#pragma once
// Test helpers shared by the generated round-trip tests and the hand-written
// ones: byte strings, readable printing, and the round-trip check itself.
#include <gtest/gtest.h>

#include <cstdio>
#include <memory>
#include <ostream>
#include <string>
#include <type_traits>

#include "amqp091/generated/methods.hpp"

namespace warren::amqp091 {

// {"x-k": longstr "v", "x-n": int8 -5}
inline constexpr uint8_t kSampleTable[] = {3, 'x', '-', 'k', 'S', 0, 0, 0, 1, 'v', 3, 'x', '-', 'n', 'b', 0xFB};

// "01 02 ce" -> bytes; spaces are ignored.
inline std::string hex(std::string_view text) {
  std::string out;
  for (size_t i = 0; i < text.size();) {
    if (text[i] == ' ') {
      ++i;
      continue;
    }
    out.push_back(char(std::stoi(std::string(text.substr(i, 2)), nullptr, 16)));
    i += 2;
  }
  return out;
}

inline std::string to_hex(std::span<const uint8_t> b) {
  std::string out;
  char buf[4];
  for (uint8_t c : b) {
    std::snprintf(buf, sizeof buf, out.empty() ? "%02x" : " %02x", c);
    out += buf;
  }
  return out;
}
inline std::string to_hex(std::string_view s) { return to_hex(as_bytes(s)); }

inline std::ostream& operator<<(std::ostream& os, ReplyCode c) {
  return os << reply_name(c) << " (" << uint16_t(c) << ")";
}
inline void PrintTo(const TableView& v, std::ostream* os) { *os << "TableView{" << to_hex(v.bytes()) << "}"; }

template <class M>
  requires requires { M::kClassId; }
void PrintTo(const M& m, std::ostream* os) {
  *os << M::kName << "(";
  const char* sep = "";
  m.for_each_field([&](std::string_view name, const auto& v) {
    *os << sep << name << "=";
    if constexpr (std::is_same_v<std::decay_t<decltype(v)>, TableView>)
      PrintTo(v, os);
    else if constexpr (std::is_same_v<std::decay_t<decltype(v)>, std::string_view>)
      *os << '"' << v << '"';
    else
      *os << uint64_t(v);
    sep = ", ";
  });
  *os << ")";
}

// A copy of `bytes` in a heap block of exactly its size, so AddressSanitizer
// catches any read past the end.
struct ExactCopy {
  std::unique_ptr<uint8_t[]> p;
  size_t n;
  explicit ExactCopy(std::span<const uint8_t> bytes) : p(new uint8_t[bytes.size()]), n(bytes.size()) {
    std::copy(bytes.begin(), bytes.end(), p.get());
  }
  std::span<const uint8_t> span() const { return {p.get(), n}; }
};

// Encodes `m`, decodes it back through decode_method, and checks: the same
// method with the same fields, the same bytes when encoded again, the ids up
// front, and that every truncation and one extra octet fail cleanly.
template <class M>
void check_round_trip(const M& m) {
  SCOPED_TRACE(std::string(M::kName));
  std::string payload;
  ASSERT_TRUE(m.encode(payload));
  ASSERT_GE(payload.size(), 4u);
  EXPECT_EQ(uint8_t(payload[0]) << 8 | uint8_t(payload[1]), M::kClassId);
  EXPECT_EQ(uint8_t(payload[2]) << 8 | uint8_t(payload[3]), M::kMethodId);

  Method out;
  DecodeStatus st = decode_method(as_bytes(payload), out);
  ASSERT_TRUE(st.ok()) << st.text;
  const M* decoded = std::get_if<M>(&out);
  ASSERT_NE(decoded, nullptr);
  EXPECT_EQ(*decoded, m);
  std::string again;
  ASSERT_TRUE(encode_method(again, out));
  EXPECT_EQ(to_hex(again), to_hex(payload));

  const MethodInfo* info = method_info(out);
  ASSERT_NE(info, nullptr);
  EXPECT_EQ(info->name, M::kName);
  EXPECT_EQ(info->class_id, M::kClassId);
  EXPECT_EQ(info->method_id, M::kMethodId);
  EXPECT_EQ(info->synchronous, M::kSynchronous);
  EXPECT_EQ(info->has_content, M::kHasContent);
  EXPECT_EQ(method_name(M::kClassId, M::kMethodId), M::kName);

  for (size_t n = 0; n < payload.size(); ++n) {
    ExactCopy cut(as_bytes(payload).first(n));
    Method t;
    DecodeStatus ts = decode_method(cut.span(), t);
    EXPECT_EQ(ts.code, n < 4 ? ReplyCode::FrameError : ReplyCode::SyntaxError) << "cut at " << n;
    if (n >= 4) {
      EXPECT_NE(ts.text.find(M::kName), std::string_view::npos) << ts.text;
    }
  }
  payload.push_back('\0');
  Method t;
  DecodeStatus extra = decode_method(ExactCopy(as_bytes(payload)).span(), t);
  EXPECT_EQ(extra.code, ReplyCode::SyntaxError);
  EXPECT_EQ(extra.text, std::string(M::kName) + ": octets after the last field");
}

}  // namespace warren::amqp091
