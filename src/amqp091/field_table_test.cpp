#include "amqp091/field_table.hpp"

#include <gtest/gtest.h>

#include "amqp091/methods_test_util.hpp"

namespace warren::amqp091 {
namespace {

// One entry per type, keyed by its letter, and its encoding.
FieldTable every_type() {
  return {
      {"t", true},
      {"b", int8_t(-2)},
      {"B", uint8_t(200)},
      {"s", int16_t(-2)},
      {"u", uint16_t(65000)},
      {"I", int32_t(-100000)},
      {"i", uint32_t(4000000000u)},
      {"l", int64_t(-1)},
      {"f", 1.5f},
      {"d", -2.5},
      {"D", Decimal{2, 12345}},
      {"S", std::string("hi")},
      {"A", FieldArray{int32_t(1), std::string("x")}},
      {"T", Timestamp{1700000000}},
      {"F", FieldTable{{"k", Void{}}}},
      {"V", Void{}},
      {"x", ByteArray{std::string("\0\xff", 2)}},
  };
}

const char* kEveryTypeHex =
    "01 74 74 01"
    " 01 62 62 fe"
    " 01 42 42 c8"
    " 01 73 73 ff fe"
    " 01 75 75 fd e8"
    " 01 49 49 ff fe 79 60"
    " 01 69 69 ee 6b 28 00"
    " 01 6c 6c ff ff ff ff ff ff ff ff"
    " 01 66 66 3f c0 00 00"
    " 01 64 64 c0 04 00 00 00 00 00 00"
    " 01 44 44 02 00 00 30 39"
    " 01 53 53 00 00 00 02 68 69"
    " 01 41 41 00 00 00 0b 49 00 00 00 01 53 00 00 00 01 78"
    " 01 54 54 00 00 00 00 65 53 f1 00"
    " 01 46 46 00 00 00 03 01 6b 56"
    " 01 56 56"
    " 01 78 78 00 00 00 02 00 ff";

TEST(FieldTable, EveryTypeEncodesByteForByte) {
  std::string out;
  ASSERT_TRUE(encode_table_entries(out, every_type()));
  EXPECT_EQ(to_hex(out), to_hex(hex(kEveryTypeHex)));

  std::string with_length;
  ASSERT_TRUE(encode_table(with_length, every_type()));
  EXPECT_EQ(with_length.size(), out.size() + 4);
  EXPECT_EQ(to_hex(with_length.substr(0, 4)), "00 00 00 85");  // 133 octets
  EXPECT_EQ(with_length.substr(4), out);
}

TEST(FieldTable, EveryTypeDecodes) {
  std::string bytes = hex(kEveryTypeHex);
  FieldTable t;
  DecodeStatus st = decode_table_entries(as_bytes(bytes), t);
  ASSERT_TRUE(st.ok()) << st.text;
  EXPECT_EQ(t, every_type());
  ASSERT_NE(t.find("I"), nullptr);
  EXPECT_EQ(std::get<int32_t>(*t.find("I")), -100000);
  EXPECT_EQ(t.find("F")->type(), 'F');
  EXPECT_EQ(std::get<FieldTable>(*t.find("F")).find("k")->type(), 'V');
  EXPECT_EQ(t.find("missing"), nullptr);
  std::string letters;
  for (const FieldEntry& e : t) letters += e.value.type();
  EXPECT_EQ(letters, "tbBsuIilfdDSATFVx");
}

TEST(FieldTable, NestedTablesAndArraysRoundTrip) {
  FieldTable inner{{"x-death", FieldArray{FieldTable{{"count", int64_t(3)}, {"reason", std::string("expired")}},
                                         FieldTable{{"count", int64_t(1)}, {"queue", std::string("q")}}}},
                   {"empty", FieldTable{}},
                   {"empty-array", FieldArray{}}};
  FieldTable t{{"outer", inner}, {"list", FieldArray{FieldArray{true, false}, FieldArray{}, Void{}}}};
  std::string bytes;
  ASSERT_TRUE(encode_table_entries(bytes, t));
  FieldTable back;
  ASSERT_TRUE(TableView(bytes).decode(back).ok());
  EXPECT_EQ(back, t);
  std::string again;
  ASSERT_TRUE(encode_table_entries(again, back));
  EXPECT_EQ(again, bytes);
}

TEST(FieldTable, EmptyTable) {
  FieldTable t;
  std::string out;
  ASSERT_TRUE(encode_table(out, t));
  EXPECT_EQ(to_hex(out), "00 00 00 00");
  FieldTable back{{"stale", true}};
  ASSERT_TRUE(TableView().decode(back).ok());
  EXPECT_TRUE(back.empty());
}

TEST(FieldTable, EveryTruncationFailsCleanly) {
  std::string bytes = hex(kEveryTypeHex);
  // Where entries end, a prefix is a valid shorter table.
  std::vector<size_t> boundaries{0};
  FieldTable so_far;
  for (const FieldEntry& e : every_type()) {
    so_far.add(e.key, e.value);
    std::string enc;
    encode_table_entries(enc, so_far);
    boundaries.push_back(enc.size());
  }
  size_t k = 0;
  for (size_t n = 0; n < bytes.size(); ++n) {
    ExactCopy cut(as_bytes(bytes).first(n));
    FieldTable t;
    DecodeStatus st = decode_table_entries(cut.span(), t);
    if (n == boundaries[k]) {
      EXPECT_TRUE(st.ok()) << n;
      EXPECT_EQ(t.size(), k);
      ++k;
    } else {
      EXPECT_EQ(st.code, ReplyCode::SyntaxError) << n;
      EXPECT_TRUE(st.text.starts_with("field table: truncated")) << n << ": " << st.text;
    }
  }
}

TEST(FieldTable, UnknownTypeIsASyntaxError) {
  std::string bytes = hex("01 6b 5a 00");  // "k" of type 'Z'
  FieldTable t;
  DecodeStatus st = decode_table_entries(as_bytes(bytes), t);
  EXPECT_EQ(st.code, ReplyCode::SyntaxError);
  EXPECT_EQ(st.text, "field table: unknown field type");
}

// {"n": {"n": ... {} ...}} with `levels` tables in all, the outermost included.
std::string nested_tables(int levels) {
  FieldTable t;
  for (int i = 1; i < levels; ++i) t = FieldTable{{"n", std::move(t)}};
  std::string out;
  encode_table_entries(out, t);
  return out;
}

TEST(FieldTable, NestingIsLimited) {
  FieldTable t;
  std::string ok = nested_tables(32);
  EXPECT_TRUE(decode_table_entries(as_bytes(ok), t).ok());
  std::string deep = nested_tables(33);
  DecodeStatus st = decode_table_entries(as_bytes(deep), t);
  EXPECT_EQ(st.code, ReplyCode::SyntaxError);
  EXPECT_EQ(st.text, "field table: nested too deeply");
  EXPECT_TRUE(decode_table_entries(as_bytes(deep), t, {.max_depth = 33}).ok());

  // Arrays count as levels too: 100000 nested arrays, crafted by hand, fail
  // fast instead of exhausting the stack.
  const int levels = 100000;
  std::string arrays;
  for (int i = 0; i < levels; ++i) {
    uint32_t len = uint32_t(5 * (levels - 1 - i));
    arrays += 'A';
    arrays += std::string{char(len >> 24), char(len >> 16), char(len >> 8), char(len)};
  }
  std::string entry = hex("01 61") + arrays;
  EXPECT_EQ(decode_table_entries(as_bytes(entry), t).text, "field table: nested too deeply");
}

TEST(FieldTable, ValueCountIsLimited) {
  // An array of 70000 voids: 70 KB on the wire, but megabytes decoded.
  uint32_t n = 70000;
  std::string bytes = hex("01 61 41");
  bytes += std::string{char(n >> 24), char(n >> 16), char(n >> 8), char(n)};
  bytes += std::string(n, 'V');
  FieldTable t;
  DecodeStatus st = decode_table_entries(as_bytes(bytes), t);
  EXPECT_EQ(st.code, ReplyCode::SyntaxError);
  EXPECT_EQ(st.text, "field table: too many values");
  EXPECT_TRUE(decode_table_entries(as_bytes(bytes), t, {.max_values = 70001}).ok());
  EXPECT_EQ(std::get<FieldArray>(*t.find("a")).size(), n);
}

TEST(FieldTable, SetReplacesAddAppends) {
  FieldTable t;
  t.set("a", int32_t(1));
  t.set("a", int32_t(2));
  EXPECT_EQ(t.size(), 1u);
  EXPECT_EQ(std::get<int32_t>(*t.find("a")), 2);
  t.add("a", int32_t(3));  // duplicates can arrive on the wire; find() sees the first
  EXPECT_EQ(t.size(), 2u);
  EXPECT_EQ(std::get<int32_t>(*t.find("a")), 2);
  *t.find("a") = std::string("s");
  EXPECT_EQ(t.find("a")->type(), 'S');
  FieldValue v;
  EXPECT_EQ(v.type(), 'V');
}

TEST(FieldTable, OversizedKeyIsACallerBug) {
  EXPECT_DEBUG_DEATH(
      {
        std::string out = "keep";
        EXPECT_FALSE(encode_table(out, FieldTable{{std::string(300, 'k'), true}}));
        EXPECT_EQ(out, "keep");
      },
      "shortstr longer than 255");
}

TEST(TableView, PassThroughIsByteIdentical) {
  // queue.declare whose arguments hold what a decode would not reproduce:
  // a bool encoded as 0x05 and a duplicate key.
  std::string args = hex("01 62 74 05  01 62 74 00  03 78 2d 6e 49 00 00 00 07");
  std::string payload = hex("00 32 00 0a 00 00 01 71 02");
  payload += std::string{0, 0, 0, char(args.size())} + args;

  Method m;
  ASSERT_TRUE(decode_method(as_bytes(payload), m).ok());
  const auto& qd = std::get<QueueDeclare>(m);
  EXPECT_EQ(qd.arguments.bytes().data(), as_bytes(payload).data() + 13);  // a view, not a copy
  std::string forwarded;
  ASSERT_TRUE(encode_method(forwarded, m));
  EXPECT_EQ(to_hex(forwarded), to_hex(payload));

  // Decoding and re-encoding normalizes, which is why the view exists.
  FieldTable t;
  ASSERT_TRUE(qd.arguments.decode(t).ok());
  EXPECT_EQ(t.size(), 3u);
  EXPECT_EQ(std::get<bool>(*t.find("b")), true);
  std::string reencoded;
  encode_table_entries(reencoded, t);
  EXPECT_NE(reencoded, args);
  EXPECT_EQ(to_hex(reencoded), "01 62 74 01 01 62 74 00 03 78 2d 6e 49 00 00 00 07");
}

TEST(TableView, HasKeySkipsEveryValueType) {
  FieldTable t = every_type();
  t.add("CC", FieldArray{std::string("a")});
  std::string bytes;
  ASSERT_TRUE(encode_table_entries(bytes, t));
  TableView v(bytes);
  for (const FieldEntry& e : t) EXPECT_TRUE(v.has_key(e.key)) << e.key;
  EXPECT_FALSE(v.has_key("BCC"));
  EXPECT_FALSE(v.has_key("c"));
  EXPECT_FALSE(TableView().has_key("CC"));
  // A value longer than the table, or an unknown type, before the key: false,
  // never a read past the end.
  EXPECT_FALSE(TableView(hex("01 61 53 00 00 00 09 41  02 43 43 56")).has_key("CC"));
  EXPECT_FALSE(TableView(hex("01 61 5a  02 43 43 56")).has_key("CC"));
  EXPECT_TRUE(TableView(hex("01 61 53 00 00 00 01 41  02 43 43 56")).has_key("CC"));
}

}  // namespace
}  // namespace warren::amqp091
