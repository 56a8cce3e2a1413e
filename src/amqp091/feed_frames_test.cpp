// Connection::feed_frames(), the engine's one entry for input: what it
// checks of frames a FrameCutter cut, and that feeding a read's frames in
// steps, with the cutter handed over mid-stream (as warrend does for a
// connection that moves to a reader thread), answers exactly as feed() of
// the same reads, for well-formed sessions and every kind of bad input,
// however the bytes are split into reads.
#include "amqp091/connection.hpp"

#include <gtest/gtest.h>

#include <random>

#include "amqp091/engine_test_util.hpp"
#include "amqp091/testing/feed_paths.hpp"

namespace warren::amqp091 {
namespace {

using test::CloseInfo;
using test::Peer;
using test::expect_connection_close;

const std::string kHeader(as_chars(kProtocolHeader));

std::string handshake(uint32_t frame_max = 131072) {
  ConnectionStartOk s = Peer::start_ok("PLAIN", std::string_view("\0guest\0guest", 12));
  ConnectionTuneOk t;
  t.channel_max = 2047;
  t.frame_max = frame_max;
  return kHeader + Peer::frame(0, s) + Peer::frame(0, t) + Peer::frame(0, ConnectionOpen{}) +
         Peer::frame(1, ChannelOpen{});
}

std::string declare(std::string_view queue) {
  QueueDeclare d;
  d.queue = queue;
  return Peer::frame(1, d);
}

std::string consume(std::string_view queue, std::string_view tag) {
  BasicConsume c;
  c.queue = queue;
  c.consumer_tag = tag;
  c.no_ack = true;
  return Peer::frame(1, c);
}

std::string props(const BasicProperties& p) { return test::property_bytes(p); }

// ---- what the engine checks of cut frames

using FeedFramesTest = test::EngineTest;

// The cutter allows the server's frame-max; the connection negotiated less.
TEST_F(FeedFramesTest, AFrameOverTheNegotiatedFrameMaxIsRefusedOnItsHeadAlone) {
  auto p = open_peer(1, 0, 4096);
  const std::string big = Peer::body_frame(1, std::string(5000, 'x'));
  p->feed(big.substr(0, kFrameHeaderSize));
  CloseInfo c = expect_connection_close(p->take_one(), ReplyCode::FrameError);
  EXPECT_EQ(c.reply_text, "FRAME_ERROR - type 3, all octets = <<>>: {frame_too_large,5000,4088}");
  // Nothing after it is read: not even the client's close-ok.
  p->feed(big.substr(kFrameHeaderSize) + Peer::frame(0, ConnectionCloseOk{}));
  EXPECT_TRUE(p->take().empty());
  EXPECT_FALSE(p->t.closed);
}

TEST_F(FeedFramesTest, ALargeBodyWholeInOneFrameBecomesItsMessageWithoutACopy) {
  auto p = open_peer(1);
  p->declare_queue(1, "q");
  FrameCutter cutter(opts.frame_max);
  FrameBatch batch;
  cutter.cut(kProtocolHeader, batch);  // a cutter starts at the protocol header
  const std::string body(broker::Message::kInlineBody + 1, 'b');
  const std::string in = Peer::publish_frames(1, "", "q", body);
  cutter.cut(as_bytes(in), batch);
  ASSERT_EQ(batch.frames.size(), 3u);
  const std::shared_ptr<const std::string> owner = batch.frames[2].owner;
  ASSERT_TRUE(owner);
  p->conn().feed_frames(batch, now);
  std::optional<broker::Delivery> d = queue("q")->get(true, now);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->message->body(), owner);
}

// A body in many frames: the cutter places them in one string, which
// becomes the message's body as it is; a frame that goes past the size
// the header announced is the 0-9-1 framing error, and nothing is kept
// (a frame after the body is whole is 505, as for any body).
std::string many_frames(std::string_view body, size_t max, std::string_view extra = {}) {
  BasicPublish pub;
  pub.routing_key = "q";
  std::string out = Peer::frame(1, pub) + Peer::header_frame(1, body.size());
  for (size_t at = 0; at < body.size(); at += max) out += Peer::body_frame(1, body.substr(at, max));
  if (!extra.empty()) out += Peer::body_frame(1, extra);
  return out;
}

std::string varied(size_t n) {
  std::string out(n, '\0');
  for (size_t i = 0; i < n; ++i) out[i] = char('A' + i % 29);
  return out;
}

TEST_F(FeedFramesTest, ABodyInManyFramesBecomesItsMessageWithoutACopy) {
  auto p = open_peer(1, 0, 4096);
  p->declare_queue(1, "q");
  FrameCutter cutter(opts.frame_max);
  FrameBatch batch;
  cutter.cut(kProtocolHeader, batch);
  const std::string body = varied(10000);
  const std::string in = many_frames(body, 4088);
  for (size_t at = 0; at < in.size(); at += 3000) {  // reads that end mid-frame
    cutter.cut(as_bytes(std::string_view(in).substr(at, 3000)), batch);
    p->conn().feed_frames(batch, now);
  }
  std::optional<broker::Delivery> d = queue("q")->get(true, now);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->message->body_view(), body);
  EXPECT_EQ(d->message->body()->capacity(), body.size()) << "the string the cutter reserved, not a copy";
}

TEST_F(FeedFramesTest, ALargeBodyGoesToAConsumerInFramesThatReferenceIt) {
  auto p = open_peer(1, 0, 4096);
  p->declare_queue(1, "q");
  p->feed(consume("q", "c1"));
  p->take();
  const std::string body = varied(10000);
  p->feed(many_frames(body, 4088));
  using Slice = std::pair<size_t, size_t>;
  EXPECT_EQ(p->t.slices, (std::vector<Slice>{{0, 4088}, {4088, 4088}, {8176, 1824}}));
  std::string got;
  for (const auto& f : p->take())
    if (f.type == kFrameBody) got += f.payload();
  EXPECT_EQ(got, body);
}

TEST_F(FeedFramesTest, ABodyFrameBeyondTheAnnouncedSizeIsAFrameError) {
  auto p = open_peer(1, 0, 4096);
  p->declare_queue(1, "q");
  BasicPublish pub;
  pub.routing_key = "q";
  const std::string body = varied(6100);  // announced: 6000
  p->feed(Peer::frame(1, pub) + Peer::header_frame(1, 6000) + Peer::body_frame(1, body.substr(0, 4000)) +
          Peer::body_frame(1, body.substr(4000)));
  CloseInfo c = expect_connection_close(p->take_one(), ReplyCode::FrameError);
  EXPECT_EQ(c.reply_text, "FRAME_ERROR - content body exceeds the declared size 6000");
  EXPECT_EQ(queue("q")->ready_count(), 0u);
}

// ---- the two paths agree

void expect_same(const std::string& session, const ServerOptions& opts = {}) {
  std::mt19937 rng(42);
  // Whole, then split at every octet of the first 200, then random reads.
  std::vector<std::vector<std::string_view>> splits;
  splits.push_back({session});
  for (size_t at = 1; at < std::min<size_t>(session.size(), 200); ++at)
    splits.push_back({std::string_view(session).substr(0, at), std::string_view(session).substr(at)});
  for (int round = 0; round < 50; ++round) {
    std::vector<std::string_view> chunks;
    for (size_t at = 0; at < session.size();) {
      size_t n = std::min<size_t>(session.size() - at, 1 + rng() % 97);
      chunks.push_back(std::string_view(session).substr(at, n));
      at += n;
    }
    splits.push_back(std::move(chunks));
  }
  for (const auto& chunks : splits) {
    testing::PathOutputs out = testing::run_both_paths(chunks, opts);
    std::string diff = testing::compare_outputs(out);
    ASSERT_EQ(diff, "") << chunks.size() << " reads, the first " << chunks[0].size() << " octets";
    // Fed in steps of a few frames, as the server shares a loop turn.
    for (size_t slice : {1, 2, 5})
      ASSERT_EQ(testing::compare_outputs(testing::run_both_paths(chunks, opts, 0, slice)), "")
          << chunks.size() << " reads, steps of " << slice << " frames";
    // And a cutter handed over mid-stream, at each read.
    for (size_t at = 1; at < chunks.size() && chunks.size() < 200; ++at) {
      diff = testing::compare_outputs(testing::run_both_paths(chunks, opts, at, 2));
      ASSERT_EQ(diff, "") << chunks.size() << " reads, handed over at read " << at;
    }
  }
}

TEST(FeedFrames, InStepsAnswersAsFeedDoesForASession) {
  BasicProperties p;
  p.delivery_mode = 2;
  p.content_type = "text/plain";
  ConfirmSelect confirm;
  std::string s = handshake() + declare("q") + consume("q", "c1") + Peer::frame(1, confirm) +
                  Peer::publish_frames(1, "", "q", "one") + Peer::publish_frames(1, "", "q", "", props(p)) +
                  Peer::publish_frames(1, "", "q", std::string(5000, 'b')) +
                  Peer::publish_frames(1, "", "nowhere", "ret", std::string_view("\0\0", 2), true) +
                  Peer::publish_frames(1, "amq.direct", "q", "via amq.direct") +
                  Peer::frame(0, ConnectionClose{});
  expect_same(s);
}

// Placed bodies, delivered by slices in frames of the negotiated size.
TEST(FeedFrames, InStepsAnswersAsFeedDoesForBodiesInManyFrames) {
  std::string s = handshake(4096) + declare("q") + consume("q", "c1") + many_frames(varied(9000), 4088) +
                  many_frames(varied(300), 100) + many_frames(varied(5000), 4088) + Peer::frame(0, ConnectionClose{});
  expect_same(s);
}

TEST(FeedFrames, InStepsAnswersAsFeedDoesForPublishesOfEveryKind) {
  BasicProperties exp;
  exp.expiration = "60000";
  BasicProperties reply;
  reply.reply_to = "amq.rabbitmq.reply-to";
  BasicConsume direct;
  direct.queue = "amq.rabbitmq.reply-to";
  direct.no_ack = true;
  BasicPublish pub;
  std::string s = handshake() + declare("q") + consume("q", "c1") + Peer::frame(1, direct) +
                  Peer::publish_frames(1, "", "q", "ttl", props(exp)) +
                  Peer::publish_frames(1, "", "q", "rpc", props(reply)) +
                  Peer::frame(1, pub) + Peer::header_frame(1, 4) + Peer::body_frame(1, "tw") + Peer::body_frame(1, "o!") +
                  Peer::frame(1, TxSelect{}) + Peer::publish_frames(1, "", "q", "in tx") + Peer::frame(1, TxCommit{}) +
                  Peer::publish_frames(1, "no-such-exchange", "q", "404") +  // closes channel 1
                  Peer::publish_frames(1, "", "q", "dropped while closing") + Peer::frame(1, ChannelCloseOk{}) +
                  Peer::frame(2, ChannelOpen{}) + Peer::publish_frames(2, "", "q", "on 2");
  expect_same(s);
}

TEST(FeedFrames, InStepsAnswersAsFeedDoesForBadInput) {
  BasicPublish pub;
  std::string base = handshake(4096) + declare("q") + consume("q", "c1");
  // A publish on a channel never opened; content with no publish; a frame
  // over the negotiated frame-max (the cutter allows 131072); a bad end
  // octet after a good publish; a body longer than declared; a message over
  // max_message_size; wrong protocol headers.
  expect_same(base + Peer::publish_frames(9, "", "q", "x"));
  expect_same(base + Peer::header_frame(1, 1) + Peer::body_frame(1, "x"));
  expect_same(base + Peer::publish_frames(1, "", "q", std::string(5000, 'x')));
  // feed() parses nothing after such a frame: not even the close that follows.
  expect_same(base + Peer::publish_frames(1, "", "q", std::string(5000, 'x')) + Peer::frame(0, ConnectionClose{}));
  expect_same(base + Peer::publish_frames(1, "", "q", std::string(5000, 'x')) + Peer::frame(0, ConnectionCloseOk{}));
  std::string bad_end = Peer::frame(1, pub);
  bad_end.back() = 0;
  expect_same(base + Peer::publish_frames(1, "", "q", "ok") + bad_end + Peer::publish_frames(1, "", "q", "never"));
  expect_same(base + Peer::frame(1, pub) + Peer::header_frame(1, 1) + Peer::body_frame(1, "xx"));
  expect_same(base + many_frames(varied(3000), 1000, "beyond"));
  expect_same(base + many_frames(varied(3000), 4000) + Peer::frame(0, ConnectionClose{}));  // the frame is over 4096
  ServerOptions small;
  small.max_message_size = 10;
  expect_same(base + Peer::publish_frames(1, "", "q", std::string(11, 'x')) + Peer::publish_frames(1, "", "q", "fits"),
              small);
  expect_same(std::string("AMQP\x00\x00\x09\x02", 8) + "junk");
  expect_same("HTTP/1.1 GET /");
}

}  // namespace
}  // namespace warren::amqp091
