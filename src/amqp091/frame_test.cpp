#include "amqp091/frame.hpp"

#include <gtest/gtest.h>

#include "amqp091/methods_test_util.hpp"

namespace warren::amqp091 {
namespace {

std::span<const uint8_t> bytes(const std::string& s) { return as_bytes(s); }

TEST(Frame, HeartbeatBytes) {
  std::string out;
  append_heartbeat(out);
  EXPECT_EQ(to_hex(out), "08 00 00 00 00 00 00 ce");

  FrameReader r(bytes(out));
  Frame f;
  ASSERT_TRUE(r.next(f));
  EXPECT_EQ(f.type, kFrameHeartbeat);
  EXPECT_EQ(f.channel, 0);
  EXPECT_TRUE(f.payload.empty());
  EXPECT_EQ(r.consumed(), 8u);
  EXPECT_FALSE(r.next(f));
  EXPECT_FALSE(r.failed());
}

TEST(Frame, BasicPublishOnChannelOne) {
  BasicPublish m;
  m.routing_key = "q";
  m.mandatory = true;
  std::string out;
  ASSERT_TRUE(append_method_frame(out, 1, m));
  // type 1, channel 1, size 10 | class 60, method 40 | ticket 0 | exchange "" |
  // routing-key "q" | bits: mandatory (bit 0), not immediate | frame end
  EXPECT_EQ(to_hex(out), "01 00 01 00 00 00 0a 00 3c 00 28 00 00 00 01 71 01 ce");

  m.mandatory = false;
  m.immediate = true;  // the second bit of the same octet
  out.clear();
  ASSERT_TRUE(append_method_frame(out, 1, Method(m)));
  EXPECT_EQ(to_hex(out), "01 00 01 00 00 00 0a 00 3c 00 28 00 00 00 01 71 02 ce");

  FrameReader r(bytes(out));
  Frame f;
  ASSERT_TRUE(r.next(f));
  EXPECT_EQ(f.type, kFrameMethod);
  EXPECT_EQ(f.channel, 1);
  Method d;
  ASSERT_TRUE(decode_method(f.payload, d).ok());
  EXPECT_EQ(std::get<BasicPublish>(d), m);
}

TEST(Frame, ConnectionTune) {
  ConnectionTune m;
  m.channel_max = 2047;
  m.frame_max = 131072;
  m.heartbeat = 60;
  std::string out;
  ASSERT_TRUE(append_method_frame(out, 0, m));
  // class 10, method 30 | channel-max 0x07ff | frame-max 0x00020000 | heartbeat 0x003c
  EXPECT_EQ(to_hex(out), "01 00 00 00 00 00 0c 00 0a 00 1e 07 ff 00 02 00 00 00 3c ce");

  std::string given = hex("01 00 00 00 00 00 0c 00 0a 00 1e 07 ff 00 02 00 00 00 3c ce");
  FrameReader r(bytes(given));
  Frame f;
  ASSERT_TRUE(r.next(f));
  Method d;
  ASSERT_TRUE(decode_method(f.payload, d).ok());
  const auto& tune = std::get<ConnectionTune>(d);
  EXPECT_EQ(tune.channel_max, 2047);
  EXPECT_EQ(tune.frame_max, 131072u);
  EXPECT_EQ(tune.heartbeat, 60);
}

TEST(Frame, SeveralFramesAndAPartialTail) {
  std::string in;
  append_heartbeat(in);
  append_frame(in, kFrameBody, 7, as_bytes(std::string_view("hello")));
  std::string third;
  append_frame(third, kFrameBody, 7, as_bytes(std::string_view("world")));
  // Every split of the third frame: the reader returns the first two and
  // leaves the rest for later.
  for (size_t cut = 0; cut < third.size(); ++cut) {
    std::string buf = in + third.substr(0, cut);
    ExactCopy exact(bytes(buf));
    FrameReader r(exact.span());
    Frame f;
    ASSERT_TRUE(r.next(f));
    ASSERT_TRUE(r.next(f));
    EXPECT_EQ(f.type, kFrameBody);
    EXPECT_EQ(f.channel, 7);
    EXPECT_EQ(as_chars(f.payload), "hello");
    EXPECT_FALSE(r.next(f));
    EXPECT_FALSE(r.failed());
    EXPECT_EQ(r.consumed(), in.size());
    EXPECT_EQ(r.pending_frame_size(), cut >= kFrameHeaderSize ? third.size() : 0u) << cut;
  }
  std::string all = in + third;
  FrameReader r(bytes(all));
  Frame f;
  int n = 0;
  while (r.next(f)) ++n;
  EXPECT_EQ(n, 3);
  EXPECT_EQ(as_chars(f.payload), "world");
  EXPECT_EQ(r.consumed(), all.size());
}

TEST(Frame, PayloadLargerThanFrameMax) {
  // frame_max counts the whole frame: 4096 leaves 4088 octets of payload.
  std::string ok;
  append_frame(ok, kFrameBody, 1, as_bytes(std::string(4088, 'x')));
  FrameReader r1(bytes(ok), 4096);
  Frame f;
  EXPECT_TRUE(r1.next(f));

  // Too large is known from the header alone: no need to wait for the payload.
  std::string big = hex("03 00 01 00 00 0f f9");
  FrameReader r2(bytes(big), 4096);
  EXPECT_FALSE(r2.next(f));
  ASSERT_TRUE(r2.failed());
  EXPECT_EQ(r2.error().code, ReplyCode::FrameError);
  EXPECT_EQ(r2.error().text, "type 3, all octets = <<>>: {frame_too_large,4089,4088}");
  EXPECT_EQ(reply_text(r2.error().code, r2.error().text),
            "FRAME_ERROR - type 3, all octets = <<>>: {frame_too_large,4089,4088}");
  EXPECT_FALSE(r2.next(f));  // stays failed
  EXPECT_EQ(r2.consumed(), 0u);

  std::string huge = hex("01 00 00 ff ff ff ff");
  FrameReader r3(bytes(huge), 131072);
  EXPECT_FALSE(r3.next(f));
  EXPECT_EQ(r3.error().text, "type 1, all octets = <<>>: {frame_too_large,4294967295,131064}");

  // frame_max 0: no limit (the frame just has not arrived yet).
  FrameReader r4(bytes(huge), 0);
  EXPECT_FALSE(r4.next(f));
  EXPECT_FALSE(r4.failed());
  EXPECT_EQ(r4.pending_frame_size(), 0xFFFFFFFFull + 8);
}

TEST(Frame, BadFrameEnd) {
  std::string in = hex("03 00 01 00 00 00 03 61 62 63 00");
  FrameReader r(bytes(in));
  Frame f;
  EXPECT_FALSE(r.next(f));
  EXPECT_EQ(r.error().code, ReplyCode::FrameError);
  EXPECT_EQ(r.error().text, "type 3, all octets = <<97,98,99>>: {invalid_frame_end_marker,0}");

  std::string longer;
  append_frame(longer, kFrameMethod, 2, as_bytes(std::string(20, '\x01')));
  longer.back() = 'S';
  FrameReader r2(bytes(longer));
  EXPECT_FALSE(r2.next(f));
  EXPECT_EQ(r2.error().text,
            "type 1, first 16 octets = <<1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1>>: {invalid_frame_end_marker,83}");

  // The frames before the bad one are still handed out.
  std::string after_good;
  append_heartbeat(after_good);
  after_good += in;
  FrameReader r3(bytes(after_good));
  EXPECT_TRUE(r3.next(f));
  EXPECT_FALSE(r3.next(f));
  EXPECT_TRUE(r3.failed());
  EXPECT_EQ(r3.consumed(), 8u);
}

TEST(Frame, UnknownFrameType) {
  for (uint8_t type : {0, 4, 9, 65, 255}) {
    std::string in = hex("00 00 00 00 00 00 00 ce");
    in[0] = char(type);
    FrameReader r(bytes(in));
    Frame f;
    EXPECT_FALSE(r.next(f));
    EXPECT_EQ(r.error().code, ReplyCode::FrameError);
    std::string expected = "type ";
    expected += std::to_string(type);
    expected += ", all octets = <<>>: unknown_frame";
    EXPECT_EQ(r.error().text, expected);
  }
}

TEST(Frame, ProtocolHeader) {
  std::string good = hex("41 4d 51 50 00 00 09 01");
  EXPECT_EQ(to_hex(kProtocolHeader), to_hex(good));
  EXPECT_EQ(check_protocol_header(bytes(good)), HeaderCheck::Match);
  for (size_t n = 0; n < good.size(); ++n)
    EXPECT_EQ(check_protocol_header(bytes(good).first(n)), HeaderCheck::Incomplete);
  EXPECT_EQ(check_protocol_header(bytes(hex("41 4d 51 50 00 00 09 01 20 61"))), HeaderCheck::Match);
  EXPECT_EQ(check_protocol_header(bytes(hex("41 4d 51 50 00 01 01 00"))), HeaderCheck::Mismatch);  // AMQP 1.0
  EXPECT_EQ(check_protocol_header(bytes("GET / HTTP/1.1")), HeaderCheck::Mismatch);
  EXPECT_EQ(check_protocol_header(bytes("AMX")), HeaderCheck::Mismatch);  // decided before 8 octets
}

TEST(Frame, WriteIntoACallerBuffer) {
  uint8_t buf[16];
  std::string_view payload = "abc";
  size_t n = write_frame(buf, kFrameBody, 0x0102, as_bytes(payload));
  ASSERT_EQ(n, 11u);
  EXPECT_EQ(to_hex(std::span<const uint8_t>(buf, n)), "03 01 02 00 00 00 03 61 62 63 ce");
  EXPECT_EQ(write_frame(std::span<uint8_t>(buf, 10), kFrameBody, 1, as_bytes(payload)), 0u);
  EXPECT_EQ(write_frame(std::span<uint8_t>(buf, 8), kFrameHeartbeat, 0, {}), 8u);
  EXPECT_EQ(to_hex(frame_header(kFrameHeader, 0xfffe, 0x01020304)), "02 ff fe 01 02 03 04");
}

TEST(Frame, MethodThatDoesNotEncodeLeavesNoFrame) {
  EXPECT_FALSE([] {
    std::string out = "keep";
    bool ok = append_method_frame(out, 1, Method{});
    return ok || out != "keep";
  }());
  EXPECT_DEBUG_DEATH(
      {
        std::string out = "keep";
        BasicPublish m;
        std::string long_key(256, 'k');
        m.routing_key = long_key;
        EXPECT_FALSE(append_method_frame(out, 1, m));
        EXPECT_EQ(out, "keep");
      },
      "shortstr longer than 255");
}

TEST(Frame, BodySplitByFrameMax) {
  std::string body(10000, 'b');
  std::string out;
  append_body_frames(out, 3, as_bytes(body), 4096);  // 4088 + 4088 + 1824
  FrameReader r(bytes(out), 4096);
  Frame f;
  std::vector<size_t> sizes;
  std::string joined;
  while (r.next(f)) {
    EXPECT_EQ(f.type, kFrameBody);
    EXPECT_EQ(f.channel, 3);
    sizes.push_back(f.payload.size());
    joined += as_chars(f.payload);
  }
  EXPECT_FALSE(r.failed());
  EXPECT_EQ(sizes, (std::vector<size_t>{4088, 4088, 1824}));
  EXPECT_EQ(joined, body);

  std::string none;
  append_body_frames(none, 3, {}, 4096);
  EXPECT_TRUE(none.empty());
}

}  // namespace
}  // namespace warren::amqp091
