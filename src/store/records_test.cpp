// Record payloads: every field round-trips, and damaged payloads are
// refused rather than misread.
#include "store/records.hpp"

#include <gtest/gtest.h>

namespace warren::store {
namespace {

template <class R>
R round_trip(const R& r) {
  std::vector<uint8_t> buf;
  Out o(buf);
  encode(o, r);
  R back;
  EXPECT_TRUE(decode(buf, back));
  // Every strict prefix is refused.
  for (size_t n = 0; n < buf.size(); ++n) {
    R cut;
    EXPECT_FALSE(decode(std::span(buf.data(), n), cut)) << "prefix " << n;
  }
  return back;
}

broker::Table rich_table() {
  broker::Table inner{{"deep", broker::Array{broker::Value(1), broker::Value("two"), broker::Value()}}};
  return broker::Table{
      {"s", "text"},
      {"i8", broker::Int{-5, broker::IntKind::I8}},
      {"u64", broker::Int{-1, broker::IntKind::U64}},
      {"f", broker::Float{1.5, true}},
      {"d", 2.25},
      {"dec", broker::Decimal{2, -12345}},
      {"bin", broker::Binary{std::string("\0\1\2", 3)}},
      {"ts", broker::Timestamp{1700000000}},
      {"yes", true},
      {"no", false},
      {"void", broker::Value()},
      {"t", inner},
  };
}

TEST(Records, DefinitionsRoundTrip) {
  ExchangeRecord x{"orders", "topic", true, true, rich_table()};
  EXPECT_EQ(round_trip(x), x);
  QueueRecord q{42, "q", true, {{"x-max-length", int64_t(10)}}};
  EXPECT_EQ(round_trip(q), q);
  BindingRecord b{"orders", broker::Destination{"q", false}, "eu.#", {{"x-match", "all"}}};
  EXPECT_EQ(round_trip(b), b);
  BindingRecord e{"a", broker::Destination{"b", true}, "", {}};
  EXPECT_EQ(round_trip(e), e);
}

TEST(Records, QueueOpsRoundTrip) {
  EnqueueRecord en{7, 1ull << 40, Position{3, 123456}, 1'700'000'000'123};
  EXPECT_EQ(round_trip(en), en);
  RemoveRecord rm{7, 99};
  EXPECT_EQ(round_trip(rm), rm);
  PurgeRecord p{7, 1000, {5, 17, 999}};
  EXPECT_EQ(round_trip(p), p);
}

TEST(Records, IntegerKindsSurvive) {
  ExchangeRecord x{"x", "direct", false, false, rich_table()};
  ExchangeRecord back = round_trip(x);
  EXPECT_EQ(std::get<broker::Int>(broker::find(back.arguments, "i8")->v).kind, broker::IntKind::I8);
  EXPECT_EQ(std::get<broker::Int>(broker::find(back.arguments, "u64")->v).kind, broker::IntKind::U64);
  EXPECT_TRUE(std::get<broker::Float>(broker::find(back.arguments, "f")->v).single);
}

TEST(Records, BuiltMessagesKeepTheirPropertiesAndBcc) {
  broker::Properties p;
  p.delivery_mode = 2;
  p.priority = 4;
  p.expiration = "60000";
  p.headers = rich_table();
  p.message_id = "id-1";
  p.timestamp = 1700000000;
  p.app_id = "app";
  auto m = broker::Message::built("ex", "key", p, std::make_shared<const std::string>("body bytes"));
  m = m->with(m->properties(), "ex", "key", {"bcc-1", "bcc-2"});
  std::vector<uint8_t> buf;
  Out o(buf);
  encode_message_head(o, *m);
  o.raw(m->body_view());
  broker::MessagePtr back = decode_message(buf, {});
  ASSERT_TRUE(back);
  EXPECT_EQ(back->exchange(), "ex");
  EXPECT_EQ(back->routing_key(), "key");
  EXPECT_EQ(back->body_view(), "body bytes");
  EXPECT_EQ(back->properties(), p);
  EXPECT_TRUE(back->persistent());
  EXPECT_EQ(back->priority(), 4);
  EXPECT_EQ(back->ttl(), Duration(60000));
  EXPECT_EQ(back->bcc_keys(), (std::vector<std::string>{"bcc-1", "bcc-2"}));
  for (size_t n = 0; n < buf.size(); ++n) EXPECT_FALSE(decode_message(std::span(buf.data(), n), {})) << n;
}

// A front end's codec keeps its raw bytes; the store tags them.
class UpperCodec final : public broker::PropertyCodec {
 public:
  broker::Properties decode(std::string_view raw) const override {
    broker::Properties p;
    p.content_type = std::string(raw);
    return p;
  }
  uint8_t store_id() const override { return 9; }
};

TEST(Records, RawPropertiesComeBackWithTheirCodec) {
  UpperCodec codec;
  broker::Message::Essentials e;
  e.persistent = true;
  e.priority = 2;
  auto m = broker::Message::received_bytes("", "q", &codec, "TEXT/PLAIN", e, std::string(1000, 'b'));
  std::vector<uint8_t> buf;
  Out o(buf);
  encode_message_head(o, *m);
  o.raw(m->body_view());
  const broker::PropertyCodec* codecs[] = {&codec};
  broker::MessagePtr back = decode_message(buf, codecs);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->codec(), &codec);
  EXPECT_EQ(back->raw_properties(), "TEXT/PLAIN");
  EXPECT_EQ(back->body_view(), std::string(1000, 'b'));
  EXPECT_TRUE(back->persistent());
  EXPECT_EQ(back->priority(), 2);
  EXPECT_FALSE(decode_message(buf, {}));  // its codec is not there
}

TEST(Records, DeepNestingIsRefusedNotRecursedInto) {
  std::vector<uint8_t> buf;
  Out o(buf);
  o.varint(1);  // one entry
  for (int i = 0; i < 100000; ++i) {
    o.bytes("k");
    o.u8(11);  // a table
    o.varint(1);
  }
  In in(buf);
  broker::Table t;
  EXPECT_FALSE(decode(in, t));
}

}  // namespace
}  // namespace warren::store
