#include "amqp091/properties.hpp"

#include <gtest/gtest.h>

#include "amqp091/methods_test_util.hpp"

namespace warren::amqp091 {
namespace {

BasicProperties all_properties() {
  BasicProperties p;
  p.content_type = "a/b";
  p.content_encoding = "gz";
  p.headers = FieldTable{{"h", int32_t(1)}};
  p.delivery_mode = 2;
  p.priority = 9;
  p.correlation_id = "c";
  p.reply_to = "r";
  p.expiration = "60000";
  p.message_id = "m";
  p.timestamp = 1700000000;
  p.type = "t";
  p.user_id = "u";
  p.app_id = "app";
  p.cluster_id = "cl";
  return p;
}

const char* kAllPropertiesHex =
    "ff fc"                          // every flag but bits 1 and 0
    " 03 61 2f 62"                   // content-type "a/b"
    " 02 67 7a"                      // content-encoding "gz"
    " 00 00 00 07 01 68 49 00 00 00 01"  // headers {"h": I 1}
    " 02"                            // delivery-mode
    " 09"                            // priority
    " 01 63"                         // correlation-id
    " 01 72"                         // reply-to
    " 05 36 30 30 30 30"             // expiration "60000"
    " 01 6d"                         // message-id
    " 00 00 00 00 65 53 f1 00"       // timestamp
    " 01 74"                         // type
    " 01 75"                         // user-id
    " 03 61 70 70"                   // app-id
    " 02 63 6c";                     // cluster-id

TEST(Properties, FlagsAndNamesFollowTheSpec) {
  ASSERT_EQ(std::size(kBasicPropertyNames), kPropertyCount);
  for (size_t i = 0; i < kPropertyCount; ++i) {
    EXPECT_EQ(property_name(Property(i)), kBasicPropertyNames[i]);
    EXPECT_EQ(property_flag(Property(i)), 0x8000 >> i);
  }
  EXPECT_EQ(property_flag(Property::ClusterId), 0x0004);
}

TEST(Properties, AllPropertiesByteForByte) {
  std::string out;
  ASSERT_TRUE(encode_content_header(out, 0x1122334455, all_properties()));
  EXPECT_EQ(to_hex(out), "00 3c 00 00 00 00 00 11 22 33 44 55 " + to_hex(hex(kAllPropertiesHex)));

  ContentHeader h;
  ASSERT_TRUE(decode_content_header(as_bytes(out), h).ok());
  EXPECT_EQ(h.class_id, 60);
  EXPECT_EQ(h.weight, 0);
  EXPECT_EQ(h.body_size, 0x1122334455u);
  EXPECT_EQ(h.properties.flags(), 0xfffc);
  BasicProperties back;
  ASSERT_TRUE(h.properties.decode(back).ok());
  EXPECT_EQ(back, all_properties());

  // The cheap readers, past a headers table.
  EXPECT_EQ(h.properties.delivery_mode(), 2);
  EXPECT_EQ(h.properties.priority(), 9);
  EXPECT_EQ(h.properties.expiration(), "60000");
  EXPECT_EQ(h.properties.timestamp(), 1700000000u);
  EXPECT_EQ(h.properties.shortstr(Property::AppId), "app");
  EXPECT_EQ(to_hex(h.properties.headers()->bytes()), "01 68 49 00 00 00 01");
  EXPECT_EQ(h.properties.octet(Property::ContentType), std::nullopt);  // not an octet property
}

TEST(Properties, NoProperties) {
  std::string out;
  ASSERT_TRUE(encode_content_header(out, 5, BasicProperties{}));
  EXPECT_EQ(to_hex(out), "00 3c 00 00 00 00 00 00 00 00 00 05 00 00");
  ContentHeader h;
  ASSERT_TRUE(decode_content_header(as_bytes(out), h).ok());
  EXPECT_EQ(h.properties.flags(), 0);
  EXPECT_EQ(h.properties.delivery_mode(), std::nullopt);
  EXPECT_EQ(h.properties.priority(), std::nullopt);
  EXPECT_EQ(h.properties.expiration(), std::nullopt);
  EXPECT_EQ(h.properties.headers(), std::nullopt);
  BasicProperties back{.priority = 3};
  ASSERT_TRUE(h.properties.decode(back).ok());
  EXPECT_EQ(back, BasicProperties{});
  EXPECT_EQ(PropertiesView().flags(), 0);
  EXPECT_EQ(h.properties, PropertiesView());
}

TEST(Properties, EachPropertyAlone) {
  const BasicProperties all = all_properties();
  for (size_t i = 0; i < kPropertyCount; ++i) {
    SCOPED_TRACE(std::string(property_name(Property(i))));
    BasicProperties one;
    switch (Property(i)) {
      case Property::ContentType: one.content_type = all.content_type; break;
      case Property::ContentEncoding: one.content_encoding = all.content_encoding; break;
      case Property::Headers: one.headers = all.headers; break;
      case Property::DeliveryMode: one.delivery_mode = all.delivery_mode; break;
      case Property::Priority: one.priority = all.priority; break;
      case Property::CorrelationId: one.correlation_id = all.correlation_id; break;
      case Property::ReplyTo: one.reply_to = all.reply_to; break;
      case Property::Expiration: one.expiration = all.expiration; break;
      case Property::MessageId: one.message_id = all.message_id; break;
      case Property::Timestamp: one.timestamp = all.timestamp; break;
      case Property::Type: one.type = all.type; break;
      case Property::UserId: one.user_id = all.user_id; break;
      case Property::AppId: one.app_id = all.app_id; break;
      case Property::ClusterId: one.cluster_id = all.cluster_id; break;
    }
    std::string out;
    ASSERT_TRUE(encode_properties(out, one));
    EXPECT_EQ(uint8_t(out[0]) << 8 | uint8_t(out[1]), property_flag(Property(i)));
    PropertiesView v;
    ASSERT_TRUE(PropertiesView::parse(as_bytes(out), v).ok());
    for (size_t j = 0; j < kPropertyCount; ++j) EXPECT_EQ(v.has(Property(j)), i == j);
    BasicProperties back;
    ASSERT_TRUE(v.decode(back).ok());
    EXPECT_EQ(back, one);
  }
}

TEST(Properties, ContinuationFlags) {
  PropertiesView v;
  // A second, empty flags word is allowed.
  std::string more = hex("10 01 00 00 02");
  ASSERT_TRUE(PropertiesView::parse(as_bytes(more), v).ok());
  EXPECT_EQ(v.delivery_mode(), 2);
  // So is a chain of them.
  std::string chain = hex("10 01 00 01 00 00 01");
  ASSERT_TRUE(PropertiesView::parse(as_bytes(chain), v).ok());
  EXPECT_EQ(v.delivery_mode(), 1);
  // But basic has no fifteenth property.
  std::string beyond = hex("00 01 80 00");
  DecodeStatus st = PropertiesView::parse(as_bytes(beyond), v);
  EXPECT_EQ(st.code, ReplyCode::SyntaxError);
  EXPECT_EQ(st.text, "content header: unknown property flag");
  std::string bit1 = hex("00 02");
  EXPECT_EQ(PropertiesView::parse(as_bytes(bit1), v).text, "content header: unknown property flag");
  std::string cut = hex("00 01");
  EXPECT_EQ(PropertiesView::parse(as_bytes(cut), v).text, "content header: truncated property flags");
}

TEST(Properties, EveryTruncationFailsCleanly) {
  std::string out;
  ASSERT_TRUE(encode_content_header(out, 1, all_properties()));
  for (size_t n = 0; n < out.size(); ++n) {
    ExactCopy cut(as_bytes(out).first(n));
    ContentHeader h;
    DecodeStatus st = decode_content_header(cut.span(), h);
    EXPECT_EQ(st.code, n < 12 ? ReplyCode::FrameError : ReplyCode::SyntaxError) << n;
  }
  out.push_back('\0');
  ContentHeader h;
  DecodeStatus st = decode_content_header(as_bytes(out), h);
  EXPECT_EQ(st.code, ReplyCode::SyntaxError);
  EXPECT_EQ(st.text, "content header: octets after the last property");
}

TEST(Properties, TruncationNamesTheProperty) {
  // delivery-mode and priority flagged, only delivery-mode present
  std::string in = hex("00 3c 00 00 00 00 00 00 00 00 00 00 18 00 02");
  ContentHeader h;
  EXPECT_EQ(decode_content_header(as_bytes(in), h).text, "content header: truncated at property priority");
}

TEST(Properties, OtherClassesCarryNoContent) {
  std::string in = hex("00 32 00 00 00 00 00 00 00 00 00 00 00 00");
  ContentHeader h;
  EXPECT_EQ(decode_content_header(as_bytes(in), h).code, ReplyCode::UnexpectedFrame);
}

TEST(Properties, ViewForwardsVerbatim) {
  // Flags with an empty continuation word and a bool headers value of 0x05:
  // a decode and re-encode would change both; the view keeps them.
  std::string payload = hex("00 3c 00 00 00 00 00 00 00 00 00 0a 30 01 00 00 00 00 00 04 01 62 74 05 02");
  ContentHeader h;
  ASSERT_TRUE(decode_content_header(as_bytes(payload), h).ok());
  EXPECT_EQ(h.properties.bytes().data(), as_bytes(payload).data() + 12);
  EXPECT_EQ(h.properties.delivery_mode(), 2);
  std::string forwarded;
  encode_content_header(forwarded, h);
  EXPECT_EQ(to_hex(forwarded), to_hex(payload));

  BasicProperties p;
  ASSERT_TRUE(h.properties.decode(p).ok());
  std::string reencoded;
  ASSERT_TRUE(encode_content_header(reencoded, h.body_size, p));
  EXPECT_EQ(to_hex(reencoded), "00 3c 00 00 00 00 00 00 00 00 00 0a 30 00 00 00 00 04 01 62 74 01 02");
}

TEST(Properties, BadHeadersTableFailsOnlyWhenDecoded) {
  // The structure is fine (the table's length fits); its contents are not.
  std::string payload = hex("00 3c 00 00 00 00 00 00 00 00 00 00 20 00 00 00 00 03 01 61 5a");
  ContentHeader h;
  ASSERT_TRUE(decode_content_header(as_bytes(payload), h).ok());
  BasicProperties p;
  EXPECT_EQ(h.properties.decode(p).text, "field table: unknown field type");
}

TEST(Properties, OversizedStringIsACallerBug) {
  EXPECT_DEBUG_DEATH(
      {
        BasicProperties p;
        p.message_id = std::string(256, 'm');
        std::string out = "keep";
        EXPECT_FALSE(encode_content_header(out, 0, p));
        EXPECT_EQ(out, "keep");
      },
      "shortstr longer than 255");
}

}  // namespace
}  // namespace warren::amqp091
