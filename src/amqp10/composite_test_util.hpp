#pragma once
// check_round_trip: what every composite type must survive (used by the
// generated generated/composites_roundtrip_test.cpp).
#include <gtest/gtest.h>

#include <string>

#include "amqp10/codec.hpp"

namespace warren::amqp10 {

template <class T>
void check_round_trip(const T& m) {
  std::string wire;
  Encoder e(wire);
  m.encode(e);

  // Encode, decode.
  {
    Decoder d(as_bytes(wire));
    T back;
    ASSERT_TRUE(T::decode(d, back)) << d.error();
    EXPECT_TRUE(d.at_end());
    EXPECT_TRUE(back == m) << m.to_value().to_string() << " came back as " << back.to_value().to_string();
  }
  // As a Value and back; the Value re-encodes to the same bytes.
  Value v = m.to_value();
  ASSERT_TRUE(v.has_descriptor(T::kCode, T::kSymbol)) << v.to_string();
  auto from = T::from_value(v);
  ASSERT_TRUE(from.has_value()) << v.to_string();
  EXPECT_TRUE(*from == m);
  {
    std::string again;
    Encoder e2(again);
    e2.write_value(v);
    EXPECT_EQ(again, wire) << v.to_string();
  }
  // With the symbolic descriptor.
  {
    std::string sym;
    Encoder e3(sym);
    e3.write_value(Value::described(T::kSymbol, v.inner()));
    Decoder d(as_bytes(sym));
    T back;
    ASSERT_TRUE(T::decode(d, back)) << d.error();
    EXPECT_TRUE(back == m);
  }
  // Every truncation fails cleanly (ASan checks the reads).
  for (size_t n = 0; n < wire.size(); ++n) {
    Decoder d(as_bytes(std::string_view(wire).substr(0, n)));
    T back;
    EXPECT_FALSE(T::decode(d, back)) << "decoded from " << n << " of " << wire.size() << " bytes";
    EXPECT_FALSE(d.ok());
  }
}

}  // namespace warren::amqp10
