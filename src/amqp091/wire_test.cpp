#include "amqp091/wire.hpp"

#include <gtest/gtest.h>

#include "amqp091/methods_test_util.hpp"

namespace warren::amqp091 {
namespace {

TEST(Wire, IntegersAreBigEndian) {
  std::string out;
  Writer w(out);
  w.octet(0xAB);
  w.u16(0x0102);
  w.u32(0x03040506);
  w.u64(0x0708090A0B0C0D0Eull);
  w.timestamp(1700000000);
  EXPECT_TRUE(w.finish());
  EXPECT_EQ(to_hex(out), "ab 01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e 00 00 00 00 65 53 f1 00");

  Reader r(as_bytes(out));
  uint8_t a;
  uint16_t b;
  uint32_t c;
  uint64_t d, t;
  ASSERT_TRUE(r.octet(a) && r.u16(b) && r.u32(c) && r.u64(d) && r.timestamp(t));
  EXPECT_EQ(a, 0xAB);
  EXPECT_EQ(b, 0x0102);
  EXPECT_EQ(c, 0x03040506u);
  EXPECT_EQ(d, 0x0708090A0B0C0D0Eull);
  EXPECT_EQ(t, 1700000000u);
  EXPECT_TRUE(r.empty());
}

TEST(Wire, Strings) {
  std::string out;
  Writer w(out);
  w.shortstr("amq.direct");
  w.longstr(std::string_view("a\0b", 3));
  w.shortstr("");
  w.shortstr(std::string(255, 'x'));
  ASSERT_TRUE(w.finish());
  EXPECT_EQ(to_hex(std::string_view(out).substr(0, 19)),
            "0a 61 6d 71 2e 64 69 72 65 63 74 00 00 00 03 61 00 62 00");

  Reader r(as_bytes(out));
  std::string_view s1, s2, s3, s4;
  ASSERT_TRUE(r.shortstr(s1) && r.longstr(s2) && r.shortstr(s3) && r.shortstr(s4));
  EXPECT_EQ(s1, "amq.direct");
  EXPECT_EQ(s2, std::string_view("a\0b", 3));
  EXPECT_EQ(s3, "");
  EXPECT_EQ(s4, std::string(255, 'x'));
  EXPECT_TRUE(r.empty());
  // The views point into the input: no copy.
  EXPECT_EQ(s1.data(), out.data() + 1);
}

TEST(Wire, ReaderNeverReadsPastTheEnd) {
  std::string bytes = hex("05 61 62");  // a shortstr of 5 with only 2 octets
  ExactCopy in(as_bytes(bytes));
  Reader r(in.span());
  std::string_view s;
  EXPECT_FALSE(r.shortstr(s));
  EXPECT_EQ(r.remaining(), 3u);  // a failed read consumes nothing

  ExactCopy longer(as_bytes(hex("ff ff ff ff 00")));
  Reader r2(longer.span());
  EXPECT_FALSE(r2.longstr(s));  // 4 GiB claimed, 1 octet present
  uint64_t v;
  EXPECT_FALSE(r2.u64(v));
  uint32_t u;
  EXPECT_TRUE(r2.u32(u));
  uint16_t x;
  EXPECT_FALSE(r2.u16(x));
  uint8_t o;
  EXPECT_TRUE(r2.octet(o));
  EXPECT_FALSE(r2.octet(o));
  bool bit;
  EXPECT_FALSE(r2.bit(bit));
  EXPECT_FALSE(r2.skip(1));
  EXPECT_TRUE(r2.empty());

  Reader empty;
  EXPECT_FALSE(empty.octet(o));
}

TEST(Wire, ConsecutiveBitsShareAnOctet) {
  std::string out;
  Writer w(out);
  for (bool b : {true, false, true, true, false, false, false, true, /* ninth: new octet */ true}) w.bit(b);
  EXPECT_TRUE(w.finish());
  EXPECT_EQ(to_hex(out), "8d 01");  // least significant bit first

  Reader r(as_bytes(out));
  bool got[9];
  for (bool& g : got) ASSERT_TRUE(r.bit(g));
  EXPECT_TRUE(r.empty());
  EXPECT_TRUE(got[0] && !got[1] && got[2] && got[3] && !got[4] && got[7] && got[8]);
}

// No method of the spec has bits separated by another field, so the rule
// is checked on the primitives every generated codec uses.
TEST(Wire, BitsSeparatedByAnotherFieldTakeSeparateOctets) {
  std::string out;
  Writer w(out);
  w.bit(true);
  w.bit(true);
  w.u16(5);
  w.bit(true);
  w.shortstr("a");
  w.bit(false);
  w.bit(true);
  EXPECT_TRUE(w.finish());
  EXPECT_EQ(to_hex(out), "03 00 05 01 01 61 02");

  Reader r(as_bytes(out));
  bool a, b, c, d, e;
  uint16_t n;
  std::string_view s;
  ASSERT_TRUE(r.bit(a) && r.bit(b) && r.u16(n) && r.bit(c) && r.shortstr(s) && r.bit(d) && r.bit(e));
  EXPECT_TRUE(a && b && c && !d && e);
  EXPECT_EQ(n, 5);
  EXPECT_TRUE(r.empty());
}

TEST(Wire, OversizedShortstrIsACallerBug) {
  // Asserts in debug builds; otherwise the writer undoes everything it wrote.
  EXPECT_DEBUG_DEATH(
      {
        std::string out = "keep";
        Writer w(out);
        w.u16(1);
        w.shortstr(std::string(256, 'x'));
        EXPECT_FALSE(w.finish());
        EXPECT_EQ(out, "keep");
      },
      "shortstr longer than 255");
}

TEST(Wire, LengthsPatchedAfterTheFact) {
  std::string out;
  Writer w(out);
  size_t at = w.begin_length();
  w.shortstr("abc");
  w.end_length(at);
  EXPECT_TRUE(w.finish());
  EXPECT_EQ(to_hex(out), "00 00 00 04 03 61 62 63");
}

TEST(Wire, ReplyText) {
  EXPECT_EQ(reply_text(ReplyCode::NotFound, "no queue 'q' in vhost '/'"), "NOT_FOUND - no queue 'q' in vhost '/'");
  EXPECT_EQ(reply_text(ReplyCode::ReplySuccess, ""), "REPLY_SUCCESS");
  // Cut to a shortstr, never inside a UTF-8 character.
  std::string detail = std::string(226, 'a') + "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9";
  std::string t = reply_text(ReplyCode::PreconditionFailed, detail);
  EXPECT_EQ(t.size(), 254u);  // the 255th octet would split the fourth "é"
  EXPECT_EQ(t.substr(0, 22), "PRECONDITION_FAILED - ");
  EXPECT_EQ(uint8_t(t.back()), 0xa9);  // ends with a whole "é"
}

TEST(Wire, ReplyCodesFromTheSpec) {
  const std::pair<uint16_t, std::string_view> expected[] = {
      {200, "REPLY_SUCCESS"},     {311, "CONTENT_TOO_LARGE"}, {312, "NO_ROUTE"},         {313, "NO_CONSUMERS"},
      {320, "CONNECTION_FORCED"}, {402, "INVALID_PATH"},      {403, "ACCESS_REFUSED"},   {404, "NOT_FOUND"},
      {405, "RESOURCE_LOCKED"},   {406, "PRECONDITION_FAILED"}, {501, "FRAME_ERROR"},    {502, "SYNTAX_ERROR"},
      {503, "COMMAND_INVALID"},   {504, "CHANNEL_ERROR"},     {505, "UNEXPECTED_FRAME"}, {506, "RESOURCE_ERROR"},
      {530, "NOT_ALLOWED"},       {540, "NOT_IMPLEMENTED"},   {541, "INTERNAL_ERROR"},
  };
  ASSERT_EQ(std::size(kReplyCodes), std::size(expected));
  for (size_t i = 0; i < std::size(expected); ++i) {
    EXPECT_EQ(uint16_t(kReplyCodes[i]), expected[i].first);
    EXPECT_EQ(reply_name(kReplyCodes[i]), expected[i].second);
  }
  EXPECT_FALSE(is_hard_error(ReplyCode::NotFound));
  EXPECT_FALSE(is_hard_error(ReplyCode::ReplySuccess));
  EXPECT_TRUE(is_hard_error(ReplyCode::FrameError));
  EXPECT_TRUE(is_hard_error(ReplyCode::ConnectionForced));
  EXPECT_EQ(reply_name(ReplyCode(999)), "");
}

}  // namespace
}  // namespace warren::amqp091
