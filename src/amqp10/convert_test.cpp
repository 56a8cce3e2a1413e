// The cross-protocol mapping: 1.0 sections <-> broker::Properties and bodies.
#include "amqp10/convert.hpp"

#include <gtest/gtest.h>

#include "amqp10/engine_test_util.hpp"

namespace warren::amqp10 {
namespace {

broker::MessagePtr store(const std::string& bytes) {
  MessageSections m;
  std::string err;
  EXPECT_TRUE(split_message(as_bytes(bytes), m, err)) << err;
  Stored s;
  store_message(m, as_bytes(bytes), s);
  return broker::Message::received("", "q", &PropertyCodec::instance(), s.raw, s.essentials,
                                   std::make_shared<const std::string>(s.body));
}

TEST(Convert, Amqp10ToBrokerProperties) {
  Properties p;
  p.message_id = Value::ulong(42);
  p.correlation_id = Value::string("corr");
  p.reply_to = Value::string("/queues/r");
  p.content_type = "application/json";
  p.content_encoding = "gzip";
  p.user_id = "guest";
  p.creation_time = 1700000000123;
  Header h;
  h.durable = true;
  h.priority = 7;
  h.ttl = 5000;
  Value app = Value::map({{Value::string("s"), Value::string("v")},
                          {Value::string("i"), Value::int_(-3)},
                          {Value::string("b"), Value::boolean(true)},
                          {Value::string("CC"), Value::string("x")}});
  auto msg = store(test::message_bytes("{}", p, h, app));
  EXPECT_TRUE(msg->persistent());
  EXPECT_EQ(msg->priority(), 7);
  EXPECT_EQ(msg->ttl(), warren::Duration(5000));
  EXPECT_TRUE(msg->sender_selected());
  const broker::Properties& b = msg->properties();
  EXPECT_EQ(b.message_id, "42");
  EXPECT_EQ(b.correlation_id, "corr");
  EXPECT_EQ(b.reply_to, "/queues/r");
  EXPECT_EQ(b.content_type, "application/json");
  EXPECT_EQ(b.content_encoding, "gzip");
  EXPECT_EQ(b.user_id, "guest");
  EXPECT_EQ(b.timestamp, 1700000000u);
  EXPECT_EQ(b.delivery_mode, 2);
  EXPECT_EQ(b.priority, 7);
  EXPECT_EQ(b.expiration, "5000");
  ASSERT_TRUE(b.headers);
  EXPECT_EQ(*broker::find(*b.headers, "s"), broker::Value("v"));
  EXPECT_EQ(broker::find(*b.headers, "i")->as_int(), -3);
  EXPECT_EQ(*broker::find(*b.headers, "b"), broker::Value(true));
}

TEST(Convert, DefaultPriorityIsFour) {
  auto msg = store(test::message_bytes("x"));
  EXPECT_EQ(msg->priority(), 4);
  EXPECT_FALSE(msg->persistent());
}

TEST(Convert, PlainBody) {
  const PropertyCodec& c = PropertyCodec::instance();
  auto data = store(test::message_bytes("bytes"));
  EXPECT_EQ(*c.plain_body(data->body()), "bytes");
  EXPECT_EQ(*c.plain_body(data->body()), *data->codec()->plain_body(data->body()));
  std::string v;
  Encoder e(v);
  encode_amqp_value_section(e, Value::string("text"));
  EXPECT_EQ(*c.plain_body(std::make_shared<const std::string>(v)), "text");
  std::string seq;
  Encoder e2(seq);
  encode_amqp_value_section(e2, Value::int_(5));
  auto stored = std::make_shared<const std::string>(seq);
  EXPECT_EQ(c.plain_body(stored), stored) << "anything else stays as it is";
  std::string two;
  Encoder e3(two);
  encode_data_section(e3, as_bytes(std::string_view("a")));
  encode_data_section(e3, as_bytes(std::string_view("b")));
  stored = std::make_shared<const std::string>(two);
  EXPECT_EQ(c.plain_body(stored), stored);
}

TEST(Convert, BrokerToAmqp10Delivery) {
  broker::Properties p;
  p.message_id = "id";
  p.correlation_id = "c";
  p.reply_to = "r";
  p.content_type = "text/plain";
  p.content_encoding = "utf-8";
  p.timestamp = 1700000000;
  p.priority = 9;
  p.delivery_mode = 2;
  p.expiration = "1000";
  p.headers = broker::Table{{"str", "v"}, {"num", int64_t(7)}, {"nested", broker::Table{}}};
  auto msg = broker::Message::built("ex", "rk", p, std::make_shared<const std::string>("body"));
  std::string out;
  append_delivery_prefix(out, *msg, 2, false);
  out += *msg->body();
  MessageSections s;
  std::string err;
  ASSERT_TRUE(split_message(as_bytes(out), s, err)) << err;
  ASSERT_TRUE(s.header);
  EXPECT_EQ(s.header->durable, true);
  EXPECT_EQ(s.header->priority, 9);
  EXPECT_EQ(s.header->ttl, 1000u);
  EXPECT_EQ(s.header->delivery_count, 2u);
  EXPECT_EQ(s.header->first_acquirer, false);
  ASSERT_TRUE(s.properties);
  EXPECT_EQ(id_text(*s.properties->message_id), "id");
  EXPECT_EQ(id_text(*s.properties->reply_to), "r");
  EXPECT_EQ(s.properties->content_encoding, "utf-8");
  EXPECT_EQ(s.properties->creation_time, 1700000000000);
  EXPECT_EQ(s.properties->subject, "rk");
  ASSERT_TRUE(s.application_properties);
  EXPECT_EQ(s.application_properties->as_map().size(), 2u) << "simple values only";
  Decoder d(s.message_annotations);
  Value ma;
  ASSERT_TRUE(d.read_value(ma));
  EXPECT_NE(ma.to_string().find("x-routing-key"), std::string::npos);
  EXPECT_EQ(test::data_of(out), "body");
}

TEST(Convert, Amqp10MessageGoesOutAsReceived) {
  Properties p;
  p.subject = "s";
  std::string bytes = test::message_bytes("payload", p);
  auto msg = store(bytes);
  std::string out;
  append_delivery_prefix(out, *msg, 0, true);
  out += *msg->body();
  EXPECT_EQ(out, bytes) << "no header needed: durable false, priority 4, first acquirer";
}

TEST(Convert, IdsAsText) {
  EXPECT_EQ(id_text(Value::uuid(std::string("\x01\x23\x45\x67\x89\xab\xcd\xef\x01\x23\x45\x67\x89\xab\xcd\xef", 16))),
            "01234567-89ab-cdef-0123-456789abcdef");
  EXPECT_EQ(id_text(Value::binary("b")), "b");
}

}  // namespace
}  // namespace warren::amqp10
