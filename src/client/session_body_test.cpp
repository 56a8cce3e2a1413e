// Session: large body frames are read into their message as they arrive
// (Session::start_body), not held whole first. Whatever the cut of the
// input, the messages must be the ones a frame-at-a-time read gives, and a
// streamed frame's bad end octet must still close the connection.
#include <gtest/gtest.h>

#include <random>

#include "client/session.hpp"
#include "client/testing/fake_broker.hpp"

namespace warren::client {
namespace {

using testing::FakeBroker;
using testing::Sent;
namespace a = warren::amqp091;

std::string random_body(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (char& c : s) c = char(rng());
  return s;
}

class ClientSessionBody : public ::testing::Test {
 protected:
  Session s{SessionOptions{}};
  FakeBroker b{s};
  std::vector<Delivery> got;
  std::vector<Returned> returned;
  uint16_t ch = 0;

  void SetUp() override {
    b.connect();  // frame_max 131072: a 1 MiB body is nine frames
    ChannelEvents ev;
    ev.returned = [&](Returned&& r) { returned.push_back(std::move(r)); };
    ch = testing::open_served_channel(b, false, std::move(ev));
    s.consume(ch, {.queue = "q", .tag = "c1"}, {.delivery = [&](Delivery&& d) { got.push_back(std::move(d)); }},
              [](const std::optional<Error>&, std::string&&) {});
    b.serve();
    b.run();
  }
  std::string deliver(uint64_t tag, std::string_view body, size_t chunk = 131064) {
    return FakeBroker::content(ch, a::BasicDeliver{.consumer_tag = "c1", .delivery_tag = tag}, body, {}, chunk);
  }
};

// Bodies of every size class (none, one small frame, one large frame, many
// large frames, a return among them), fed cut at seeded random points from
// one octet up to twice a frame.
TEST_F(ClientSessionBody, ArriveWholeHoweverTheInputIsCut) {
  const std::vector<std::string> bodies = {random_body(1 << 20, 1), "", random_body(100, 2),
                                           random_body(131064, 3), random_body(131065, 4), random_body(300'000, 5)};
  std::string wire;
  for (size_t i = 0; i < bodies.size(); ++i) wire += deliver(i + 1, bodies[i]);
  std::string ret_body = random_body(200'000, 6);
  wire += FakeBroker::content(ch, a::BasicReturn{.reply_code = 312, .reply_text = "NO_ROUTE", .exchange = "ex",
                                                 .routing_key = "rk"},
                              ret_body, {}, 131064);
  wire += deliver(99, "after");
  for (uint32_t seed = 1; seed <= 8; ++seed) {
    got.clear();
    returned.clear();
    std::mt19937 rng(seed);
    const size_t max_cut = seed % 2 ? 7 : 2 * 131072;  // octet-sized cuts, or up to two frames
    for (size_t at = 0; at < wire.size();) {
      size_t n = std::min(wire.size() - at, size_t(1 + rng() % max_cut));
      b.feed(std::string_view(wire).substr(at, n));
      at += n;
    }
    ASSERT_FALSE(s.wants_transport_closed()) << "seed " << seed;
    b.run();
    ASSERT_EQ(got.size(), bodies.size() + 1) << "seed " << seed;
    for (size_t i = 0; i < bodies.size(); ++i) {
      EXPECT_EQ(got[i].delivery_tag, i + 1);
      EXPECT_TRUE(got[i].message.body == bodies[i]) << "seed " << seed << " body " << i;
    }
    EXPECT_EQ(got.back().message.body, "after");
    ASSERT_EQ(returned.size(), 1u);
    EXPECT_TRUE(returned[0].message.body == ret_body);
  }
}

// A body frame's end octet is checked when it arrives, after its payload
// went into the body: a wrong one still closes the connection with 501.
TEST_F(ClientSessionBody, BadEndOctetOfAStreamedFrameClosesTheConnection) {
  std::string wire = deliver(1, random_body(200'000, 7));
  size_t first_end = wire.size() - (200'000 - 131064) - 8 - 1;  // the first body frame's end octet
  ASSERT_EQ(uint8_t(wire[first_end]), a::kFrameEnd);
  wire[first_end] = 'x';
  b.feed(std::string_view(wire).substr(0, first_end - 1000));  // the frame's head and most of its payload
  EXPECT_FALSE(s.wants_transport_closed());
  b.feed(std::string_view(wire).substr(first_end - 1000));
  ASSERT_TRUE(s.wants_transport_closed());
  EXPECT_EQ(s.drop_reason()->code, 501);
  EXPECT_NE(s.drop_reason()->text.find("invalid_frame_end_marker,120"), std::string::npos) << s.drop_reason()->text;
  std::vector<Sent> out = b.take();
  ASSERT_EQ(testing::method_names(out), (std::vector<std::string>{"0:connection.close"}));
  EXPECT_EQ(out[0].as<a::ConnectionClose>()->reply_code, 501);
  b.run();
  EXPECT_TRUE(got.empty());
}

// A body frame larger than its message's announced size takes the
// ordinary path, and is refused as before (505).
TEST_F(ClientSessionBody, FrameLargerThanTheBodyLeftIsStillRefused) {
  std::string wire = deliver(1, random_body(50'000, 8));
  std::string header_end = wire.substr(0, wire.size() - (50'000 + 8));
  std::string frame;
  a::append_frame(frame, a::kFrameBody, ch, a::as_bytes(random_body(60'000, 9)));
  b.feed(header_end + frame.substr(0, 30'000));
  EXPECT_FALSE(s.wants_transport_closed());
  b.feed(frame.substr(30'000));
  ASSERT_TRUE(s.wants_transport_closed());
  EXPECT_EQ(s.drop_reason()->code, 505);
}

// The announced size is the broker's word: a wrong one (2^60 octets) is
// not reserved up front; the frames that do come are taken.
TEST_F(ClientSessionBody, AnAbsurdAnnouncedSizeIsNotAllocated) {
  std::string wire = FakeBroker::frame(ch, a::BasicDeliver{.consumer_tag = "c1", .delivery_tag = 1});
  size_t head = a::begin_frame(wire, a::kFrameHeader, ch);
  ASSERT_TRUE(a::encode_content_header(wire, uint64_t(1) << 60, {}));
  a::end_frame(wire, head);
  a::append_frame(wire, a::kFrameBody, ch, a::as_bytes(random_body(20'000, 10)));
  b.feed(std::string_view(wire).substr(0, wire.size() - 5000));
  b.feed(std::string_view(wire).substr(wire.size() - 5000));
  EXPECT_FALSE(s.wants_transport_closed());
  b.run();
  EXPECT_TRUE(got.empty());  // 20,000 of 2^60 octets: not done
}

}  // namespace
}  // namespace warren::client
