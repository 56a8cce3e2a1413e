// Hand-written checks of the generated method codec; the per-method round
// trips are generated (generated/methods_roundtrip_test.cpp).
#include <gtest/gtest.h>

#include "amqp091/generated/methods.hpp"
#include "amqp091/methods_test_util.hpp"

namespace warren::amqp091 {
namespace {

DecodeStatus decode_hex(std::string_view h, Method& out) {
  static std::string keep;  // the views in `out` point into it
  keep = hex(h);
  return decode_method(as_bytes(keep), out);
}

TEST(Methods, QueueDeclarePacksFiveBitsInOneOctet) {
  QueueDeclare m;
  m.queue = "jobs";
  m.passive = false;
  m.durable = true;
  m.exclusive = false;
  m.auto_delete = true;
  m.nowait = true;
  std::string out;
  ASSERT_TRUE(m.encode(out));
  // class 50, method 10 | ticket | "jobs" | bits: durable 0x02, auto-delete 0x08,
  // nowait 0x10 | empty arguments table
  EXPECT_EQ(to_hex(out), "00 32 00 0a 00 00 04 6a 6f 62 73 1a 00 00 00 00");

  for (int bits = 0; bits < 32; ++bits) {
    std::string payload = hex("00 32 00 0a 00 00 00") + char(bits) + hex("00 00 00 00");
    Method d;
    ASSERT_TRUE(decode_method(as_bytes(payload), d).ok());
    const auto& q = std::get<QueueDeclare>(d);
    EXPECT_EQ(q.passive, (bits & 1) != 0);
    EXPECT_EQ(q.durable, (bits & 2) != 0);
    EXPECT_EQ(q.exclusive, (bits & 4) != 0);
    EXPECT_EQ(q.auto_delete, (bits & 8) != 0);
    EXPECT_EQ(q.nowait, (bits & 16) != 0);
  }
}

TEST(Methods, ReservedBitsAreIgnored) {
  // basic.ack: delivery-tag, multiple. Bits beyond the spec's are dropped,
  // as RabbitMQ does, so a re-encode may differ from what arrived.
  Method d;
  ASSERT_TRUE(decode_hex("00 3c 00 50 00 00 00 00 00 00 00 2a fe", d).ok());
  const auto& ack = std::get<BasicAck>(d);
  EXPECT_EQ(ack.delivery_tag, 42u);
  EXPECT_FALSE(ack.multiple);
}

TEST(Methods, BitsFollowedByOtherFields) {
  // basic.nack: delivery-tag, multiple, requeue (two bits, one octet).
  BasicNack n;
  n.delivery_tag = 7;
  n.multiple = true;
  n.requeue = false;
  std::string out;
  ASSERT_TRUE(n.encode(out));
  EXPECT_EQ(to_hex(out), "00 3c 00 78 00 00 00 00 00 00 00 07 01");
  // basic.deliver: a bit between a longlong and a shortstr.
  BasicDeliver d;
  d.consumer_tag = "c";
  d.delivery_tag = 1;
  d.redelivered = true;
  d.exchange = "e";
  d.routing_key = "r";
  out.clear();
  ASSERT_TRUE(d.encode(out));
  EXPECT_EQ(to_hex(out), "00 3c 00 3c 01 63 00 00 00 00 00 00 00 01 01 01 65 01 72");
}

TEST(Methods, SpecDefaults) {
  ConnectionStart start;
  EXPECT_EQ(start.version_major, 0);
  EXPECT_EQ(start.version_minor, 9);
  EXPECT_EQ(start.mechanisms, "PLAIN");
  EXPECT_EQ(start.locales, "en_US");
  EXPECT_TRUE(start.server_properties.empty());
  EXPECT_EQ(ConnectionOpen{}.virtual_host, "/");
  EXPECT_EQ(ExchangeDeclare{}.type, "direct");
  EXPECT_TRUE(BasicReject{}.requeue);
  EXPECT_TRUE(BasicNack{}.requeue);
  EXPECT_FALSE(BasicNack{}.multiple);
  EXPECT_EQ(AccessRequest{}.realm, "/data");
  EXPECT_TRUE(AccessRequest{}.passive);
  EXPECT_FALSE(AccessRequest{}.exclusive);
  EXPECT_EQ(AccessRequestOk{}.ticket, 1);
}

TEST(Methods, StaticDescriptions) {
  EXPECT_EQ(BasicPublish::kName, "basic.publish");
  EXPECT_EQ(BasicPublish::kClassId, 60);
  EXPECT_EQ(BasicPublish::kMethodId, 40);
  EXPECT_TRUE(BasicPublish::kHasContent);
  EXPECT_FALSE(BasicPublish::kSynchronous);
  EXPECT_TRUE(QueueDeclare::kSynchronous);
  EXPECT_FALSE(QueueDeclare::kHasContent);
  EXPECT_TRUE(BasicGetOk::kHasContent);
  // RabbitMQ's extensions are in the spec file too.
  EXPECT_EQ(ConfirmSelect::kClassId, 85);
  EXPECT_EQ(ExchangeUnbindOk::kMethodId, 51);  // sic: 51, not 41
  EXPECT_EQ(ConnectionBlocked::kMethodId, 60);
  EXPECT_EQ(ConnectionUpdateSecret::kMethodId, 70);
  EXPECT_EQ(method_name(60, 120), "basic.nack");
  EXPECT_EQ(method_name(10, 61), "connection.unblocked");
  EXPECT_EQ(method_name(60, 99), "");
  EXPECT_EQ(method_name(1, 1), "");
  EXPECT_EQ(method_info(Method{}), nullptr);
  Method m = TxCommitOk{};
  EXPECT_EQ(method_info(m)->name, "tx.commit-ok");
}

TEST(Methods, UnknownClassOrMethodIsNotImplemented) {
  Method d;
  DecodeStatus st = decode_hex("00 63 00 0a", d);  // class 99
  EXPECT_EQ(st.code, ReplyCode::NotImplemented);
  EXPECT_EQ(st.text, "unknown class");
  st = decode_hex("00 3c 00 63", d);  // basic, method 99
  EXPECT_EQ(st.code, ReplyCode::NotImplemented);
  EXPECT_EQ(st.text, "unknown method in class basic");
  st = decode_hex("00 55 00 0c", d);  // confirm, method 12
  EXPECT_EQ(st.text, "unknown method in class confirm");
}

TEST(Methods, ShortOrMalformedPayloads) {
  Method d;
  DecodeStatus st = decode_hex("00 3c 00", d);
  EXPECT_EQ(st.code, ReplyCode::FrameError);
  EXPECT_EQ(st.text, "method frame shorter than its class and method ids");

  // basic.publish whose routing-key claims 9 octets but has 2.
  st = decode_hex("00 3c 00 28 00 00 00 09 61 62", d);
  EXPECT_EQ(st.code, ReplyCode::SyntaxError);
  EXPECT_EQ(st.text, "basic.publish: truncated at field routing-key");
  EXPECT_EQ(reply_text(st.code, st.text), "SYNTAX_ERROR - basic.publish: truncated at field routing-key");

  // queue.declare with an arguments table longer than the frame.
  st = decode_hex("00 32 00 0a 00 00 00 00 00 00 01 00", d);
  EXPECT_EQ(st.text, "queue.declare: truncated at field arguments");

  // tx.select takes no arguments.
  st = decode_hex("00 5a 00 0a 00", d);
  EXPECT_EQ(st.code, ReplyCode::SyntaxError);
  EXPECT_EQ(st.text, "tx.select: octets after the last field");
  EXPECT_TRUE(decode_hex("00 5a 00 0a", d).ok());
  EXPECT_TRUE(std::holds_alternative<TxSelect>(d));
}

TEST(Methods, ConnectionStartWithServerProperties) {
  // What a broker sends first, checked against the spec's layout by hand.
  std::string props = hex("07 70 72 6f 64 75 63 74 53 00 00 00 06 57 61 72 72 65 6e");  // product: "Warren"
  ConnectionStart m;
  m.server_properties = TableView(props);
  std::string out;
  ASSERT_TRUE(m.encode(out));
  EXPECT_EQ(to_hex(out),
            "00 0a 00 0a 00 09 00 00 00 13 " + to_hex(props) +
                " 00 00 00 05 50 4c 41 49 4e 00 00 00 05 65 6e 5f 55 53");
}

TEST(Methods, ConnectionCloseCarriesTheFailedMethod) {
  ConnectionClose c;
  c.reply_code = uint16_t(ReplyCode::NotFound);
  c.reply_text = "NOT_FOUND - no queue 'q'";
  c.class_id = QueueDeclare::kClassId;
  c.method_id = QueueDeclare::kMethodId;
  std::string out;
  ASSERT_TRUE(c.encode(out));
  EXPECT_EQ(to_hex(out.substr(0, 7)), "00 0a 00 32 01 94 18");
  EXPECT_EQ(to_hex(out.substr(out.size() - 4)), "00 32 00 0a");
}

}  // namespace
}  // namespace warren::amqp091
