// The Preparser (frames cut ahead on the reader thread) and feed_batch():
// what is cut, and that an engine fed through it answers exactly as one fed
// the same bytes through feed(), for well-formed sessions and for every
// kind of bad input, however the bytes are split into reads.
#include "amqp091/preparse.hpp"

#include <gtest/gtest.h>

#include <random>

#include "amqp091/engine_test_util.hpp"
#include "amqp091/testing/feed_paths.hpp"

namespace warren::amqp091 {
namespace {

using test::Peer;

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

// ---- the cutter alone

TEST(Preparser, FramesAndPublishes) {
  Preparser p(131072);
  std::string in = Peer::frame(1, ChannelFlowOk{}) + Peer::publish_frames(1, "", "q", "hello") +
                   Peer::publish_frames(1, "", "q", "");
  FrameBatch b;
  EXPECT_EQ(p.cut(as_bytes(in), b), in.size());
  EXPECT_TRUE(b.raw_tail.empty());
  EXPECT_TRUE(b.pending_header.empty());
  ASSERT_EQ(b.frames.size(), 1u + 3u + 2u);
  ASSERT_EQ(b.publishes.size(), 2u);
  EXPECT_EQ(b.publishes[0].frame, 1u);
  EXPECT_EQ(b.publishes[0].frame_count, 3u);
  EXPECT_EQ(b.publishes[0].method.routing_key, "q");
  EXPECT_EQ(as_chars(b.publishes[0].body), "hello");
  EXPECT_FALSE(b.publishes[0].large_body);  // small: copied into its message later
  EXPECT_EQ(b.publishes[1].frame, 4u);
  EXPECT_EQ(b.publishes[1].frame_count, 2u);
  EXPECT_TRUE(b.publishes[1].body.empty());
  const std::string big(broker::Message::kInlineBody + 1, 'b');
  in = Peer::publish_frames(1, "", "q", big);
  p.cut(as_bytes(in), b);
  ASSERT_EQ(b.publishes.size(), 1u);
  ASSERT_TRUE(b.publishes[0].large_body);
  EXPECT_EQ(*b.publishes[0].large_body, big);
}

TEST(Preparser, CarriesAnIncompleteFrameAndShowsItsHeader) {
  Preparser p(131072);
  FrameBatch b;
  const std::string one = Peer::frame(1, ChannelFlowOk{});
  const std::string in = one + one;
  EXPECT_EQ(p.cut(as_bytes(in).first(one.size() + 3), b), one.size());  // the second's header is not in yet
  EXPECT_EQ(b.frames.size(), 1u);
  EXPECT_TRUE(b.pending_header.empty());
  EXPECT_EQ(p.cut(as_bytes(in).subspan(one.size(), kFrameHeaderSize + 1), b), 0u);
  EXPECT_TRUE(b.frames.empty());
  EXPECT_EQ(b.pending_header.size(), kFrameHeaderSize);
  EXPECT_EQ(p.cut(as_bytes(in).subspan(one.size()), b), one.size());
  EXPECT_EQ(b.frames.size(), 1u);
}

TEST(Preparser, AFramingErrorPassesTheRestRaw) {
  Preparser p(4096);
  std::string good = Peer::frame(1, ChannelOpen{});
  std::string bad = good;
  bad.back() = 'X';  // not the frame-end octet
  std::string in = good + bad + good;
  FrameBatch b;
  EXPECT_EQ(p.cut(as_bytes(in), b), in.size());
  EXPECT_EQ(b.frames.size(), 1u);
  EXPECT_EQ(as_chars(b.raw_tail), bad + good);
  EXPECT_EQ(p.cut(as_bytes(good), b), good.size());  // and from then on
  EXPECT_TRUE(b.frames.empty());
  EXPECT_EQ(as_chars(b.raw_tail), good);
}

TEST(Preparser, LeavesPublishesItCannotTakeWhole) {
  auto cut_publishes = [](const std::string& frames) {
    Preparser p(131072);
    FrameBatch b;
    p.cut(as_bytes(frames), b);
    return b.publishes.size();
  };
  EXPECT_EQ(cut_publishes(Peer::publish_frames(1, "", "q", "x")), 1u);
  BasicProperties reply;
  reply.reply_to = "amq.rabbitmq.reply-to";
  EXPECT_EQ(cut_publishes(Peer::publish_frames(1, "", "q", "x", props(reply))), 0u);
  BasicProperties user;
  user.user_id = "guest";
  EXPECT_EQ(cut_publishes(Peer::publish_frames(1, "", "q", "x", props(user))), 0u);
  BasicProperties exp;
  exp.expiration = "100";
  EXPECT_EQ(cut_publishes(Peer::publish_frames(1, "", "q", "x", props(exp))), 0u);
  BasicProperties persistent;
  persistent.delivery_mode = 2;
  persistent.priority = 3;
  EXPECT_EQ(cut_publishes(Peer::publish_frames(1, "", "q", "x", props(persistent))), 1u);
  BasicPublish immediate;
  immediate.immediate = true;
  EXPECT_EQ(cut_publishes(Peer::frame(1, immediate) + Peer::header_frame(1, 1) + Peer::body_frame(1, "x")), 0u);
  // A body in two frames, a body on another channel, a header missing.
  BasicPublish pub;
  EXPECT_EQ(cut_publishes(Peer::frame(1, pub) + Peer::header_frame(1, 2) + Peer::body_frame(1, "a") +
                          Peer::body_frame(1, "b")),
            0u);
  EXPECT_EQ(cut_publishes(Peer::frame(1, pub) + Peer::header_frame(1, 1) + Peer::body_frame(2, "a")), 0u);
  EXPECT_EQ(cut_publishes(Peer::frame(1, pub) + Peer::body_frame(1, "a")), 0u);
  // The frames are all there either way.
  Preparser p(131072);
  FrameBatch b;
  std::string in = Peer::frame(1, pub) + Peer::header_frame(1, 2) + Peer::body_frame(1, "a");
  p.cut(as_bytes(in), b);
  EXPECT_EQ(b.frames.size(), 3u);
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
    // And a connection that moves to the batched path mid-stream, at each read.
    for (size_t at = 1; at < chunks.size() && chunks.size() < 200; ++at) {
      diff = testing::compare_outputs(testing::run_both_paths(chunks, opts, at));
      ASSERT_EQ(diff, "") << chunks.size() << " reads, moved at read " << at;
    }
  }
}

TEST(FeedBatch, AnswersAsFeedDoesForASession) {
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

TEST(FeedBatch, AnswersAsFeedDoesForWhatTheFastWayLeaves) {
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

TEST(FeedBatch, AnswersAsFeedDoesForBadInput) {
  BasicPublish pub;
  std::string base = handshake(4096) + declare("q") + consume("q", "c1");
  // A publish on a channel never opened; content with no publish; a frame
  // over the negotiated frame-max (the cutter allows 131072); a bad end
  // octet after a good publish; a body longer than declared; a message over
  // max_message_size.
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
  ServerOptions small;
  small.max_message_size = 10;
  expect_same(base + Peer::publish_frames(1, "", "q", std::string(11, 'x')) + Peer::publish_frames(1, "", "q", "fits"),
              small);
  expect_same(std::string("AMQP\x00\x00\x09\x02", 8) + "junk");
  expect_same("HTTP/1.1 GET /");
}

}  // namespace
}  // namespace warren::amqp091
