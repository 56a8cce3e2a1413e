// The type system: every encoding of every primitive, decoded from bytes
// written out from the encoding tables of part 1.6, the encoder's choice of
// the smallest form, compounds, arrays, described values and the limits.
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "amqp10/codec.hpp"
#include "amqp10/codec_test_util.hpp"

namespace warren::amqp10 {
namespace {

TEST(Amqp10Decode, EveryPrimitiveEncoding) {
  struct Case {
    const char* hex;
    Value want;
  };
  const Case cases[] = {
      {"40", Value::null()},
      {"41", Value::boolean(true)},
      {"42", Value::boolean(false)},
      {"5601", Value::boolean(true)},
      {"5600", Value::boolean(false)},
      {"50ff", Value::ubyte(255)},
      {"601234", Value::ushort(0x1234)},
      {"43", Value::uint(0)},
      {"5207", Value::uint(7)},
      {"7012345678", Value::uint(0x12345678)},
      {"44", Value::ulong(0)},
      {"53ff", Value::ulong(255)},
      {"800102030405060708", Value::ulong(0x0102030405060708)},
      {"51fe", Value::byte(-2)},
      {"61fffe", Value::short_(-2)},
      {"54fe", Value::int_(-2)},
      {"71fffffffe", Value::int_(-2)},
      {"7100010000", Value::int_(65536)},
      {"5580", Value::long_(-128)},
      {"81fffffffffffffffe", Value::long_(-2)},
      {"723fc00000", Value::float_(1.5f)},
      {"82bff8000000000000", Value::double_(-1.5)},
      {"7422500001", Value::decimal32(unhex("22500001"))},
      {"842238000000000001", Value::decimal64(unhex("2238000000000001"))},
      {"94" "22080000000000000000000000000001", Value::decimal128(unhex("22080000000000000000000000000001"))},
      {"730001f600", Value::char_(0x1f600)},
      {"830000018bcfe56800", Value::timestamp(1700000000000)},
      {"98" "00112233445566778899aabbccddeeff", Value::uuid(unhex("00112233445566778899aabbccddeeff"))},
      {"a00300ff01", Value::binary(unhex("00ff01"))},
      {"b000000002abcd", Value::binary(unhex("abcd"))},
      {"a1026869", Value::string("hi")},
      {"b1000000026869", Value::string("hi")},
      {"a3026869", Value::symbol("hi")},
      {"b3000000026869", Value::symbol("hi")},
      {"45", Value::list()},
      {"c0030243" "41", Value::list({Value::uint(0), Value::boolean(true)})},
      {"d000000006000000024341", Value::list({Value::uint(0), Value::boolean(true)})},
      {"c10100", Value::map()},
      {"c10502a3016b41", Value::map({{Value::symbol("k"), Value::boolean(true)}})},
      {"d1" "00000008" "00000002" "a3016b41", Value::map({{Value::symbol("k"), Value::boolean(true)}})},
      {"e00402" "5201" "02", Value::array(Kind::Uint, {Value::uint(1), Value::uint(2)})},
      {"f00000000d0000000270" "0000000100000002", Value::array(Kind::Uint, {Value::uint(1), Value::uint(2)})},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.hex);
    Value v;
    const std::string in = unhex(c.hex);
    Decoder d(as_bytes(in));
    ASSERT_TRUE(d.read_value(v)) << d.error();
    EXPECT_TRUE(d.at_end());
    EXPECT_EQ(v, c.want);
    // skip_value agrees on the length.
    Decoder s(as_bytes(in));
    ASSERT_TRUE(s.skip_value()) << s.error();
    EXPECT_TRUE(s.at_end());
  }
}

TEST(Amqp10Decode, TypedReadsAcceptEveryForm) {
  uint32_t u = 9;
  EXPECT_TRUE(decoder_for("43").read_uint(u));
  EXPECT_EQ(u, 0u);
  EXPECT_TRUE(decoder_for("52fe").read_uint(u));
  EXPECT_EQ(u, 254u);
  EXPECT_TRUE(decoder_for("7000010000").read_uint(u));
  EXPECT_EQ(u, 65536u);
  uint64_t ul = 9;
  for (const char* hex : {"44", "53" "00", "80" "0000000000000000", "43", "5200", "7000000000"}) {
    Decoder d = decoder_for(hex);
    EXPECT_TRUE(d.read_ulong(ul)) << hex;
    EXPECT_EQ(ul, 0u) << hex;
  }
  bool b = false;
  EXPECT_TRUE(decoder_for("41").read_bool(b));
  EXPECT_TRUE(b);
  EXPECT_TRUE(decoder_for("5600").read_bool(b));
  EXPECT_FALSE(b);
  EXPECT_FALSE(decoder_for("5602").read_bool(b));
  int64_t l;
  EXPECT_TRUE(decoder_for("55ff").read_long(l));
  EXPECT_EQ(l, -1);
  int32_t i;
  EXPECT_TRUE(decoder_for("54ff").read_int(i));
  EXPECT_EQ(i, -1);
  std::string_view s;
  EXPECT_TRUE(decoder_for("b100000000").read_string(s));
  EXPECT_EQ(s, "");
  std::vector<std::string> symbols;
  EXPECT_TRUE(decoder_for("a30178").read_symbol_multiple(symbols));
  EXPECT_EQ(symbols, (std::vector<std::string>{"x"}));
  EXPECT_TRUE(decoder_for("e00602a30178017a").read_symbol_multiple(symbols));
  EXPECT_EQ(symbols, (std::vector<std::string>{"x", "z"}));
  EXPECT_TRUE(decoder_for("e00200a3").read_symbol_multiple(symbols));
  EXPECT_TRUE(symbols.empty());
  // A count no size could hold: refused before anything is reserved.
  EXPECT_FALSE(decoder_for("f000000004ffffffff" "a3").read_symbol_multiple(symbols));
  EXPECT_FALSE(decoder_for("e0020252" "01").read_symbol_multiple(symbols));
  // A type mismatch is an error, and the error sticks.
  Decoder d = decoder_for("a1026869" "43");
  EXPECT_FALSE(d.read_symbol(s));
  EXPECT_FALSE(d.ok());
  EXPECT_FALSE(d.read_uint(u));
  EXPECT_STREQ(d.error(), "expected a symbol");
}

TEST(Amqp10Encode, SmallestForm) {
  EXPECT_EQ(encoded([](Encoder& e) { e.write_uint(0); }), "43");
  EXPECT_EQ(encoded([](Encoder& e) { e.write_uint(255); }), "52ff");
  EXPECT_EQ(encoded([](Encoder& e) { e.write_uint(256); }), "7000000100");
  EXPECT_EQ(encoded([](Encoder& e) { e.write_ulong(0); }), "44");
  EXPECT_EQ(encoded([](Encoder& e) { e.write_ulong(16); }), "5310");
  EXPECT_EQ(encoded([](Encoder& e) { e.write_ulong(1ull << 32); }), "800000000100000000");
  EXPECT_EQ(encoded([](Encoder& e) { e.write_int(-128); }), "5480");
  EXPECT_EQ(encoded([](Encoder& e) { e.write_int(128); }), "7100000080");
  EXPECT_EQ(encoded([](Encoder& e) { e.write_long(127); }), "557f");
  EXPECT_EQ(encoded([](Encoder& e) { e.write_long(-129); }), "81ffffffffffffff7f");
  EXPECT_EQ(encoded([](Encoder& e) { e.write_bool(true); }), "41");
  EXPECT_EQ(encoded([](Encoder& e) { e.write_string(std::string(255, 'a')); }).substr(0, 4), "a1ff");
  EXPECT_EQ(encoded([](Encoder& e) { e.write_string(std::string(256, 'a')); }).substr(0, 10), "b100000100");
  EXPECT_EQ(encoded([](Encoder& e) { e.write_binary(""); }), "a000");
  EXPECT_EQ(encoded([](Encoder& e) { e.write_symbol("x"); }), "a30178");
  EXPECT_EQ(encoded([](Encoder& e) { e.write_value(Value::list()); }), "45");
  EXPECT_EQ(encoded([](Encoder& e) { e.write_value(Value::map()); }), "c10100");
  EXPECT_EQ(encoded([](Encoder& e) { e.write_value(Value::list({Value::null()})); }), "c0020140");
  // 254 bytes of items fit list8 (size counts the count byte), 255 do not.
  Value::List items(127, Value::ubyte(0));  // 127 * 2 bytes = 254
  EXPECT_EQ(encoded([&](Encoder& e) { e.write_value(Value::list(items)); }).substr(0, 6), "c0ff7f");
  items.push_back(Value::null());  // 255 bytes
  EXPECT_EQ(encoded([&](Encoder& e) { e.write_value(Value::list(items)); }).substr(0, 18), "d00000010300000080");
  EXPECT_EQ(encoded([](Encoder& e) { e.write_descriptor(0x10); }), "005310");
  EXPECT_EQ(encoded([](Encoder& e) { e.write_descriptor("amqp:open:list"); }),
            "00a30e" + hex_of("amqp:open:list"));
}

// Values of every kind, alone and inside compounds, survive encode/decode.
TEST(Amqp10RoundTrip, EveryKind) {
  for (const Value& v : sample_values()) {
    SCOPED_TRACE(v.to_string());
    expect_round_trip(v);
    expect_round_trip(Value::list({v, v}));
    expect_round_trip(Value::map({{Value::symbol("key"), v}, {v, Value::null()}}));
    expect_round_trip(Value::described(uint64_t{0x77}, v));
    expect_round_trip(Value::described("warren:test", v));
  }
}

TEST(Amqp10RoundTrip, ArraysOfEveryElementKind) {
  for (const Value& v : sample_values()) {
    SCOPED_TRACE(v.to_string());
    if (v.kind() == Kind::Described) {
      expect_round_trip(Value::array(Kind::Described, {v, v}));
      continue;
    }
    expect_round_trip(Value::array(v.kind(), {v}));
    expect_round_trip(Value::array(v.kind(), {v, v, v}));
    expect_round_trip(Value::array(v.kind(), {}));
  }
  // An array of arrays, of lists, of 300 symbols (array32, sym8 elements).
  Value inner = Value::array(Kind::Symbol, {Value::symbol("a"), Value::symbol("b")});
  expect_round_trip(Value::array(Kind::Array, {inner, inner}));
  expect_round_trip(Value::array(Kind::List, {Value::list(), Value::list({Value::uint(1)})}));
  expect_round_trip(Value::array(Kind::Symbol, Value::List(300, Value::symbol("s"))));
  expect_round_trip(Value::array(Kind::String, {Value::string(std::string(300, 'x'))}));
}

TEST(Amqp10Decode, ArraysInEveryForm) {
  // Elements with zero-width constructors: true, uint0, null, list0.
  EXPECT_EQ(value_of("e0020341"), Value::array(Kind::Boolean, Value::List(3, Value::boolean(true))));
  EXPECT_EQ(value_of("e0020243"), Value::array(Kind::Uint, Value::List(2, Value::uint(0))));
  EXPECT_EQ(value_of("e0020245"), Value::array(Kind::List, Value::List(2, Value::list())));
  // An empty array with and without an element constructor.
  EXPECT_EQ(value_of("e00100"), Value::array(Kind::Null, {}));
  EXPECT_EQ(value_of("e0020040"), Value::array(Kind::Null, {}));
  // Described elements: one descriptor for all.
  Value described = value_of("e00902" "005324" "c0" "0100" "0100");
  EXPECT_EQ(described, Value::array(Kind::Described, {Value::described(uint64_t{0x24}, Value::list()),
                                                      Value::described(uint64_t{0x24}, Value::list())}))
      << described.to_string();
  // sym32 elements in an array8.
  EXPECT_EQ(value_of("e00b02b3" "0000000161" "00000000"),
            Value::array(Kind::Symbol, {Value::symbol("a"), Value::symbol("")}));
}

TEST(Amqp10Decode, DescribedWithEitherDescriptor) {
  Value by_code = value_of("005324" "45");
  EXPECT_TRUE(by_code.has_descriptor(0x24, "amqp:accepted:list"));
  EXPECT_EQ(by_code.inner_kind(), Kind::List);
  EXPECT_EQ(by_code.descriptor(), Value::ulong(0x24));
  Value by_symbol = value_of("00a312" + hex_of("amqp:accepted:list") + "45");
  EXPECT_TRUE(by_symbol.has_descriptor(0x24, "amqp:accepted:list"));
  EXPECT_EQ(by_symbol.descriptor(), Value::symbol("amqp:accepted:list"));
  EXPECT_EQ(by_symbol.inner(), Value::list());
  EXPECT_EQ(by_code.to_string(), "accepted([])");
  // ulong descriptors in every form.
  EXPECT_TRUE(value_of("0080" "0000000000000024" "45").has_descriptor(0x24, ""));
  EXPECT_TRUE(value_of("0044" "45").has_descriptor(0, ""));
  // A described described value.
  Value nested = value_of("005301" "005302" "a1026869");
  EXPECT_EQ(nested.inner_kind(), Kind::Described);
  EXPECT_EQ(nested.inner(), Value::described(uint64_t{2}, Value::string("hi")));
  expect_round_trip(nested);
  // Other descriptor types are refused.
  EXPECT_FALSE(decoder_for("00a1026869" "45").read_value(nested));
}

TEST(Amqp10Decode, MalformedCompounds) {
  Value v;
  for (const char* hex : {
           "c0", "c005", "c00102", "c0020241", "c1020141", "c104024141", "d0000000", "d000000003000000",
           "d0ffffffff00000001" "41", "e001", "e00201", "e0030241" "41", "f000000004ffffffff40", "e003" "0200" "05",
           "46", "ff", "a005", "b0ffffffff", "0000", "00", "005324",
       }) {
    Decoder d = decoder_for(hex);
    EXPECT_FALSE(d.read_value(v)) << hex << " decoded as " << v.to_string();
    EXPECT_FALSE(d.ok()) << hex;
  }
  // More zero-width elements than we materialise.
  EXPECT_FALSE(decoder_for("f000000005" "00100001" "40").read_value(v));
}

TEST(Amqp10Decode, NestingDepthIsLimited) {
  // Innermost first: list0, then each level wraps it in a list32 of one item.
  auto nested_lists = [](int depth) {
    std::string bytes = unhex("45");
    for (int i = 1; i < depth; ++i) {
      std::string wrapped;
      Encoder e(wrapped);
      const size_t at = e.begin_list();
      wrapped += bytes;
      e.end_list(at, 1);
      bytes = wrapped;
    }
    return bytes;
  };
  Value v;
  std::string ok = nested_lists(kMaxDepth);
  Decoder d(as_bytes(ok));
  EXPECT_TRUE(d.read_value(v)) << d.error();
  std::string deep = nested_lists(kMaxDepth + 1);
  Decoder too_deep(as_bytes(deep));
  EXPECT_FALSE(too_deep.read_value(v));
  EXPECT_STREQ(too_deep.error(), "values nested too deeply");
  // Described descriptors nest without lists: 0x00 0x00 0x00...
  std::string descriptors(100000, '\0');
  Decoder dd(as_bytes(descriptors));
  EXPECT_FALSE(dd.read_value(v));
  Decoder ds(as_bytes(descriptors));
  EXPECT_FALSE(ds.skip_value());
}

TEST(Amqp10Decode, TruncatedValuesFailAtEveryLength) {
  for (const Value& v : sample_values()) {
    std::string wire;
    Encoder e(wire);
    e.write_value(Value::list({v, Value::map({{Value::symbol("k"), v}})}));
    for (size_t n = 0; n < wire.size(); ++n) {
      std::string cut = wire.substr(0, n);  // its own allocation: ASan sees reads past it
      Value out;
      Decoder d(as_bytes(cut));
      EXPECT_FALSE(d.read_value(out)) << v.to_string() << " cut at " << n;
      Decoder s(as_bytes(cut));
      EXPECT_FALSE(s.skip_value()) << v.to_string() << " cut at " << n;
    }
  }
}

TEST(Amqp10Value, AccessorsAndEquality) {
  EXPECT_EQ(Value::uint(7).as_uint(), 7u);
  EXPECT_EQ(Value::long_(-5).as_long(), -5);
  EXPECT_EQ(Value::symbol("s").bytes(), "s");
  EXPECT_NE(Value::symbol("s"), Value::string("s"));
  EXPECT_NE(Value::symbol("s"), Value::binary("s"));
  EXPECT_NE(Value::uint(1), Value::ulong(1));
  EXPECT_EQ(Value::double_(NAN), Value::double_(NAN));  // bitwise
  EXPECT_NE(Value::described(uint64_t{1}, Value::null()), Value::described("x", Value::null()));
  Value m = Value::map({{Value::symbol("a"), Value::uint(1)}, {Value::symbol("b"), Value::uint(2)}});
  EXPECT_EQ(m.as_map()[1].first.bytes(), "b");
  EXPECT_EQ(m.to_string(), "{:a: 1, :b: 2}");
  EXPECT_EQ(Value::list({Value::string("x\n"), Value::binary("\x01")}).to_string(), "[\"x\\x0a\", b\"\\x01\"]");
}

}  // namespace
}  // namespace warren::amqp10
