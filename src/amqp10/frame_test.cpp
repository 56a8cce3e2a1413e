// Frames: real captures, every header error, truncation, and every
// performative through append_frame and parse_frame.
#include <gtest/gtest.h>

#include <string>

#include "amqp10/codec_test_util.hpp"
#include "amqp10/frame.hpp"

namespace warren::amqp10 {
namespace {

// What Qpid Proton (python3-qpid-proton, BlockingConnection to a recording
// socket) sent after the SASL exchange: its open frame, and before it the
// sasl-init (ANONYMOUS). Proton writes every field up to the last one it
// knows, as nulls.
constexpr std::string_view kProtonOpen =
    "0000004902000000005310c03c0aa12432343365653932302d326164342d343433392d613133382d36316366616432346135623"
    "1a1093132372e302e302e3140607fff404040404040";
constexpr std::string_view kProtonSaslInit =
    "0000002402010000005341c01702a309414e4f4e594d4f5553a009616e6f6e796d6f7573";

ParseResult parse(const std::string& bytes, Frame& f, uint32_t max = 65536) {
  return parse_frame(as_bytes(bytes), max, f);
}

TEST(Amqp10Frame, ProtonOpen) {
  const std::string bytes = unhex(kProtonOpen);
  Frame f;
  ParseResult r = parse(bytes, f);
  ASSERT_EQ(r.status, ParseStatus::Ok) << r.description;
  EXPECT_EQ(r.consumed, bytes.size());
  EXPECT_EQ(f.type, FrameType::Amqp);
  EXPECT_EQ(f.channel, 0);
  ASSERT_TRUE(std::holds_alternative<Open>(f.body));
  const Open& open = std::get<Open>(f.body);
  EXPECT_EQ(open.container_id, "243ee920-2ad4-4439-a138-61cfad24a5b1");
  EXPECT_EQ(open.hostname, "127.0.0.1");
  EXPECT_EQ(open.max_frame_size, 4294967295u);  // null: the default
  EXPECT_EQ(open.channel_max, 0x7fff);
  EXPECT_FALSE(open.idle_time_out.has_value());
  EXPECT_TRUE(open.offered_capabilities.empty());
  EXPECT_TRUE(f.payload.empty());
  EXPECT_EQ(performative_name(f.body), "open");
}

TEST(Amqp10Frame, ProtonSaslInit) {
  const std::string bytes = unhex(kProtonSaslInit);
  Frame f;
  ParseResult r = parse(bytes, f);
  ASSERT_EQ(r.status, ParseStatus::Ok) << r.description;
  EXPECT_EQ(f.type, FrameType::Sasl);
  const auto& init = std::get<SaslInit>(f.body);
  EXPECT_EQ(init.mechanism, "ANONYMOUS");
  EXPECT_EQ(init.initial_response, "anonymous");
  EXPECT_FALSE(init.hostname.has_value());
}

TEST(Amqp10Frame, Heartbeat) {
  Frame f;
  f.body = Close{};
  ParseResult r = parse(unhex("0000000802000003"), f);
  ASSERT_EQ(r.status, ParseStatus::Ok);
  EXPECT_EQ(r.consumed, 8u);
  EXPECT_TRUE(std::holds_alternative<std::monostate>(f.body));
  EXPECT_EQ(f.channel, 3);
  std::string out;
  append_frame(out, FrameType::Amqp, 0, std::monostate{});
  EXPECT_EQ(hex_of(out), "0000000802000000");
}

TEST(Amqp10Frame, ExtendedHeaderIsSkipped) {
  // doff 3: four bytes of extended header before the body.
  Frame f;
  ParseResult r = parse(unhex("00000010030000" "00" "deadbeef" "005318" "45"), f);
  ASSERT_EQ(r.status, ParseStatus::Ok) << r.description;
  EXPECT_TRUE(std::holds_alternative<Close>(f.body));
}

TEST(Amqp10Frame, HeaderErrors) {
  struct Case {
    const char* hex;
    std::string_view condition;
  };
  const Case cases[] = {
      {"0000000702000000", connection_error::kFramingError},                // size < 8
      {"0000000801000000", connection_error::kFramingError},                // doff < 2
      {"0000000803000000", connection_error::kFramingError},                // doff * 4 > size
      {"0000100002000000", connection_error::kFramingError},                // size > max (4096 > 512)
      {"0000000b02020000" "005318", connection_error::kFramingError},       // frame type 2
      {"0000000802010000", connection_error::kFramingError},                // empty SASL frame
      {"0000000b02000000" "005340", connection_error::kFramingError},       // sasl-mechanisms in an AMQP frame
      {"0000000c02010000" "00531045", connection_error::kFramingError},     // open in a SASL frame
      {"0000000c02000000" "00539945", amqp_error::kDecodeError},            // unknown descriptor
      {"0000000c02000000" "00531045", amqp_error::kDecodeError},            // open without container-id
      {"0000000b02000000" "a10178", amqp_error::kDecodeError},              // not a described type
      {"0000000d02000000" "005318c005", amqp_error::kDecodeError},          // list overruns the frame
      {"0000000c02000000" "00a10178", amqp_error::kDecodeError},            // string descriptor
      {"0000001002000000" "00a30561626364654", amqp_error::kDecodeError},   // unknown symbol descriptor
  };
  for (const auto& c : cases) {
    Frame f;
    std::string bytes = unhex(c.hex);
    ParseResult r = parse(bytes, f, 512);
    EXPECT_EQ(r.status, ParseStatus::Error) << c.hex;
    EXPECT_EQ(r.condition, c.condition) << c.hex << ": " << r.description;
    EXPECT_FALSE(r.description.empty()) << c.hex;
  }
}

// Every performative survives append_frame/parse_frame, on any channel,
// with its descriptor given either way.
template <class T>
void check_frame(const T& p, FrameType type) {
  std::string out;
  append_frame(out, type, 7, p, as_bytes("payload"));
  Frame f;
  ParseResult r = parse(out, f);
  ASSERT_EQ(r.status, ParseStatus::Ok) << r.description;
  EXPECT_EQ(r.consumed, out.size());
  EXPECT_EQ(f.type, type);
  EXPECT_EQ(f.channel, 7);
  ASSERT_TRUE(std::holds_alternative<T>(f.body)) << performative_name(f.body);
  EXPECT_TRUE(std::get<T>(f.body) == p);
  EXPECT_EQ(as_chars(f.payload), "payload");
  // Every prefix is incomplete, not an error.
  for (size_t n = 0; n < out.size(); ++n) {
    std::string cut = out.substr(0, n);
    Frame g;
    EXPECT_EQ(parse(cut, g).status, ParseStatus::NeedMore) << n;
  }
  // The symbolic descriptor.
  std::string body;
  Encoder e(body);
  e.write_value(Value::described(T::kSymbol, p.to_value().inner()));
  std::string sym = unhex("0000000002000007");
  sym[5] = char(type);
  sym += body;
  sym[3] = char(sym.size());
  ASSERT_LT(sym.size(), 256u);
  Frame g;
  ASSERT_EQ(parse(sym, g).status, ParseStatus::Ok);
  EXPECT_TRUE(std::get<T>(g.body) == p);
}

TEST(Amqp10Frame, EveryPerformative) {
  Open open;
  open.container_id = "warren";
  open.max_frame_size = 65536;
  open.offered_capabilities = {"ANONYMOUS-RELAY"};
  check_frame(open, FrameType::Amqp);
  check_frame(Begin{.remote_channel = 1, .next_outgoing_id = 1, .incoming_window = 2048, .outgoing_window = 2048},
              FrameType::Amqp);
  Attach attach;
  attach.name = "link";
  attach.role = role::kReceiver;
  Source source;
  source.address = Value::string("queue");
  attach.source = source.to_value();
  check_frame(attach, FrameType::Amqp);
  Flow flow;
  flow.incoming_window = 100;
  flow.handle = 0;
  flow.link_credit = 50;
  check_frame(flow, FrameType::Amqp);
  Transfer transfer;
  transfer.delivery_id = 5;
  transfer.delivery_tag = std::string("\0\1", 2);
  check_frame(transfer, FrameType::Amqp);
  Disposition disposition;
  disposition.role = role::kReceiver;
  disposition.first = 3;
  disposition.settled = true;
  disposition.state = Accepted{}.to_value();
  check_frame(disposition, FrameType::Amqp);
  check_frame(Detach{.handle = 1, .closed = true, .error = Error{.condition = std::string(link_error::kStolen)}},
              FrameType::Amqp);
  check_frame(End{}, FrameType::Amqp);
  check_frame(Close{.error = Error{.condition = "amqp:internal-error", .description = "x"}}, FrameType::Amqp);
  check_frame(SaslMechanisms{.sasl_server_mechanisms = {"PLAIN", "ANONYMOUS"}}, FrameType::Sasl);
  check_frame(SaslInit{.mechanism = "PLAIN", .initial_response = std::string("\0u\0p", 4)}, FrameType::Sasl);
  check_frame(SaslChallenge{.challenge = "c"}, FrameType::Sasl);
  check_frame(SaslResponse{.response = "r"}, FrameType::Sasl);
  check_frame(SaslOutcome{.code = sasl_code::kAuth}, FrameType::Sasl);
}

TEST(Amqp10Frame, AppendTransferMatchesAppendFrame) {
  Transfer t;
  t.handle = 2;
  t.delivery_id = 70000;
  t.delivery_tag = "tag";
  t.message_format = 0;
  t.more = true;
  std::string big(100000, 'x');
  std::string a, b;
  append_transfer(a, 9, t, as_bytes(big));
  append_frame(b, FrameType::Amqp, 9, t, as_bytes(big));
  EXPECT_EQ(a, b);
  Frame f;
  ASSERT_EQ(parse(a, f, 200000).status, ParseStatus::Ok);
  EXPECT_EQ(f.payload.size(), big.size());
  EXPECT_TRUE(std::get<Transfer>(f.body) == t);
}

TEST(Amqp10Frame, ConsecutiveFrames) {
  std::string in = std::string(kAmqpHeader).substr(0, 0);
  append_frame(in, FrameType::Amqp, 0, Open{.container_id = "c"});
  append_frame(in, FrameType::Amqp, 0, std::monostate{});
  append_frame(in, FrameType::Amqp, 1, End{});
  std::span<const uint8_t> rest = as_bytes(in);
  std::vector<std::string_view> names;
  Frame f;
  for (;;) {
    ParseResult r = parse_frame(rest, 512, f);
    if (r.status != ParseStatus::Ok) {
      EXPECT_EQ(r.status, ParseStatus::NeedMore);
      break;
    }
    names.push_back(performative_name(f.body));
    rest = rest.subspan(r.consumed);
  }
  EXPECT_EQ(names, (std::vector<std::string_view>{"open", "heartbeat", "end"}));
  EXPECT_TRUE(rest.empty());
}

TEST(Amqp10Frame, ProtocolHeaders) {
  EXPECT_EQ(hex_of(kAmqpHeader), "414d515000010000");
  EXPECT_EQ(hex_of(kSaslHeader), "414d515003010000");
}

TEST(Amqp10Frame, MultipleFieldAsSingleValueOrArray) {
  // offered-capabilities (field 7 of open) as one symbol, then as an array.
  Frame f;
  std::string single = unhex("0000001d02000000" "005310c010" "08" "a10163" "404040404040" "a30178");
  single[3] = char(single.size());
  single[12] = char(single.size() - 13);
  ASSERT_EQ(parse(single, f).status, ParseStatus::Ok) << parse(single, f).description;
  EXPECT_EQ(std::get<Open>(f.body).offered_capabilities, (std::vector<std::string>{"x"}));
  std::string array = unhex("0000000002000000" "005310c000" "08" "a10163" "404040404040" "e00602a30178017a");
  array[3] = char(array.size());
  array[12] = char(array.size() - 13);
  ASSERT_EQ(parse(array, f).status, ParseStatus::Ok) << parse(array, f).description;
  EXPECT_EQ(std::get<Open>(f.body).offered_capabilities, (std::vector<std::string>{"x", "z"}));
  // An array of something else is an error.
  std::string wrong = unhex("0000000002000000" "005310c000" "08" "a10163" "404040404040" "e0030252" "01");
  wrong[3] = char(wrong.size());
  wrong[12] = char(wrong.size() - 13);
  EXPECT_EQ(parse(wrong, f).status, ParseStatus::Error);
}

}  // namespace
}  // namespace warren::amqp10
