#include "amqp091/frame_cutter.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>

#include "amqp091/methods_test_util.hpp"
#include "amqp091/generated/methods.hpp"
#include "amqp091/properties.hpp"

namespace warren::amqp091 {
namespace {

struct CutFrame {
  uint8_t type;
  uint16_t channel;
  std::string payload;
  bool owned;
  bool operator==(const CutFrame&) const = default;
};

// What cutting `in` in reads that end at `splits` gave, all batches together.
struct Cut {
  std::vector<CutFrame> frames;
  std::optional<HeaderCheck> header;
  std::optional<FrameHead> next;  // the last batch's
  std::string error;
  size_t octets = 0;
};

Cut cut(std::string_view in, std::vector<size_t> splits = {}, uint32_t frame_max = 131072) {
  FrameCutter cutter(frame_max);
  FrameBatch batch;
  Cut out;
  splits.push_back(in.size());
  size_t at = 0;
  for (size_t end : splits) {
    cutter.cut(as_bytes(in.substr(at, end - at)), batch);
    at = end;
    for (const Frame& f : batch.frames) {
      if (f.owner) {
        EXPECT_GE(f.payload.data(), as_bytes(*f.owner).data()) << "the payload is in its owner";
        EXPECT_EQ(f.payload.data(), as_bytes(*f.owner).data() + f.placed_at) << "at its place";
        EXPECT_LE(f.placed_at + f.payload.size(), f.owner->size());
      }
      out.frames.push_back({f.type, f.channel, std::string(as_chars(f.payload)), f.owner != nullptr});
    }
    if (batch.protocol_header) out.header = batch.protocol_header;
    out.next = batch.next;
    out.error += batch.error;
    out.octets += batch.octets;
  }
  return out;
}

std::string frame(uint8_t type, uint16_t channel, std::string_view payload) {
  std::string out;
  append_frame(out, type, channel, as_bytes(payload));
  return out;
}

std::string header(uint16_t channel, uint64_t body_size) {
  std::string payload;
  encode_content_header(payload, body_size, BasicProperties{});
  return frame(kFrameHeader, channel, payload);
}

const std::string kHeader(as_chars(kProtocolHeader));

TEST(FrameCutter, TheProtocolHeaderThenFramesHoweverTheReadsSplitThem) {
  const std::string body(300, 'b');
  const std::string in = kHeader + frame(kFrameMethod, 0, "start-ok") + frame(kFrameHeartbeat, 0, "") +
                         header(1, body.size()) + frame(kFrameBody, 1, body) + frame(kFrameMethod, 2, "x");
  const Cut whole = cut(in);
  EXPECT_EQ(whole.header, HeaderCheck::Match);
  ASSERT_EQ(whole.frames.size(), 5u);
  EXPECT_EQ(whole.frames[0], (CutFrame{kFrameMethod, 0, "start-ok", false}));
  EXPECT_EQ(whole.frames[3], (CutFrame{kFrameBody, 1, body, true}));
  EXPECT_EQ(whole.frames[4], (CutFrame{kFrameMethod, 2, "x", false}));
  EXPECT_FALSE(whole.next);
  EXPECT_EQ(whole.error, "");
  EXPECT_EQ(whole.octets, in.size());
  for (size_t a = 1; a < in.size(); ++a) {
    for (size_t b : {a + 1, a + 7, a + 100}) {
      const Cut split = cut(in, {a, std::min(b, in.size())});
      ASSERT_EQ(split.header, HeaderCheck::Match) << a;
      ASSERT_EQ(split.frames.size(), whole.frames.size()) << a << " " << b;
      for (size_t i = 0; i < whole.frames.size(); ++i) {
        EXPECT_EQ(split.frames[i].type, whole.frames[i].type) << a << " " << b;
        EXPECT_EQ(split.frames[i].payload, whole.frames[i].payload) << a << " " << b;
      }
    }
  }
}

TEST(FrameCutter, DecodesEachMethodAndContentHeader) {
  BasicPublish p;
  p.routing_key = "q";
  std::string in = kHeader;
  append_method_frame(in, 1, p);
  in += header(1, 5) + frame(kFrameBody, 1, "hello");
  in += frame(kFrameMethod, 1, std::string("\x00\x63\x00\x0a", 4));  // class 99: does not decode
  FrameCutter cutter(131072);
  FrameBatch batch;
  cutter.cut(as_bytes(in), batch);
  ASSERT_EQ(batch.frames.size(), 4u);
  ASSERT_TRUE(batch.method(0).status.ok());
  EXPECT_EQ(std::get<BasicPublish>(batch.method(0).value).routing_key, "q");
  ASSERT_TRUE(batch.header(1).status.ok());
  EXPECT_EQ(batch.header(1).value.body_size, 5u);
  EXPECT_EQ(batch.method(3).status.code, ReplyCode::NotImplemented);  // the engine refuses it when it comes to it
}

TEST(FrameCutter, AWrongProtocolHeaderIsKnownAtItsFirstWrongOctet) {
  EXPECT_FALSE(cut("AMQ").header);
  EXPECT_EQ(cut("AMQX").header, HeaderCheck::Mismatch);
  const Cut http = cut("HTTP/1.1 GET /" + frame(kFrameMethod, 0, "x"), {1});
  EXPECT_EQ(http.header, HeaderCheck::Mismatch);
  EXPECT_TRUE(http.frames.empty());  // nothing after it is cut
  EXPECT_EQ(cut(std::string("AMQP\x00\x00\x09\x02", 8)).header, HeaderCheck::Mismatch);
}

TEST(FrameCutter, AnIncompleteFrameShowsItsHeadAndComesWholeLater) {
  const std::string f = frame(kFrameMethod, 3, "twelve bytes");
  FrameCutter cutter(4096);
  FrameBatch batch;
  cutter.cut(as_bytes(kHeader + f.substr(0, 5)), batch);
  EXPECT_TRUE(batch.frames.empty());
  EXPECT_FALSE(batch.next);  // not even its head yet
  EXPECT_EQ(batch.octets, kHeader.size() + 5);
  cutter.cut(as_bytes(f.substr(5, 4)), batch);
  ASSERT_TRUE(batch.next);
  EXPECT_EQ(batch.next->type, kFrameMethod);
  EXPECT_EQ(batch.next->channel, 3);
  EXPECT_EQ(batch.next->size, 12u);
  cutter.cut(as_bytes(f.substr(9) + f), batch);
  ASSERT_EQ(batch.frames.size(), 2u);
  EXPECT_TRUE(batch.frames[0].owner);  // it came in three reads: a string of its own
  EXPECT_EQ(as_chars(batch.frames[0].payload), "twelve bytes");
  EXPECT_FALSE(batch.frames[1].owner);
  EXPECT_FALSE(batch.next);
}

TEST(FrameCutter, LargeBodiesArePlacedInAStringOfTheirOwn) {
  const std::string large(FrameCutter::kOwnBodyAbove + 1, 'L');
  const std::string small(FrameCutter::kOwnBodyAbove, 's');
  auto owned = [&](const std::string& in) {
    std::vector<bool> out;
    for (const CutFrame& f : cut(kHeader + in).frames) out.push_back(f.owned);
    return out;
  };
  using V = std::vector<bool>;
  EXPECT_EQ(owned(header(1, large.size()) + frame(kFrameBody, 1, large)), (V{false, true}));
  EXPECT_EQ(owned(header(1, small.size()) + frame(kFrameBody, 1, small)), (V{false, false}));
  // A body in two frames; a body after another channel's frame; a body on
  // another channel; a body frame larger than the rest of its body.
  EXPECT_EQ(owned(header(1, 2 * large.size()) + frame(kFrameBody, 1, large) + frame(kFrameBody, 1, large)),
            (V{false, true, true}));
  EXPECT_EQ(owned(header(1, large.size()) + frame(kFrameHeartbeat, 0, "") + frame(kFrameBody, 1, large)),
            (V{false, false, true}));
  EXPECT_EQ(owned(header(1, large.size()) + frame(kFrameBody, 2, large)), (V{false, false}));
  EXPECT_EQ(owned(header(1, large.size()) + frame(kFrameBody, 1, large + "x")), (V{false, false}));
  EXPECT_EQ(owned(header(1, 2 * large.size()) + frame(kFrameBody, 1, large) + frame(kFrameBody, 1, large + "x")),
            (V{false, true, false}));
}

// A body's frames, however reads split them, land side by side in one
// string: the body itself.
struct PlacedBody {
  std::shared_ptr<const std::string> owner;
  std::string octets;  // the body frames' payloads, in order
  size_t frames = 0;
  bool contiguous = true;  // each frame right after the one before, in the same owner
};

PlacedBody placed_body(const std::vector<Frame>& frames, PlacedBody so_far = {}) {
  for (const Frame& f : frames) {
    if (f.type != kFrameBody) continue;
    if (!f.placed || (so_far.owner && f.owner != so_far.owner) || f.placed_at != so_far.octets.size())
      so_far.contiguous = false;
    so_far.owner = f.owner;
    so_far.octets += as_chars(f.payload);
    ++so_far.frames;
  }
  return so_far;
}

std::string pattern(size_t n) {
  std::string out(n, '\0');
  for (size_t i = 0; i < n; ++i) out[i] = char('a' + i % 23);
  return out;
}

std::string body_frames(uint16_t channel, std::string_view body, size_t max) {
  std::string out;
  for (size_t at = 0; at < body.size(); at += max) out += frame(kFrameBody, channel, body.substr(at, max));
  return out;
}

TEST(FrameCutter, ABodyInManyFramesIsPlacedWhereverTheReadsEnd) {
  const std::string body = pattern(2600);
  const std::string in = kHeader + frame(kFrameMethod, 1, "publish") + header(1, body.size()) +
                         body_frames(1, body, 1000) + frame(kFrameMethod, 1, "next");
  for (size_t a = 1; a < in.size(); ++a) {
    for (size_t b : {a + 1, a + 8, a + 1001}) {
      FrameCutter cutter(1008);
      FrameBatch batch;
      PlacedBody got;
      size_t frames = 0;
      size_t at = 0;
      for (size_t end : {a, std::min(b, in.size()), in.size()}) {
        cutter.cut(as_bytes(std::string_view(in).substr(at, end - at)), batch);
        at = end;
        got = placed_body(batch.frames, std::move(got));
        frames += batch.frames.size();
        ASSERT_EQ(batch.error, "");
      }
      ASSERT_EQ(frames, 6u) << a << " " << b;
      EXPECT_EQ(got.frames, 3u);
      EXPECT_TRUE(got.contiguous) << a << " " << b;
      EXPECT_EQ(got.octets, body);
      ASSERT_TRUE(got.owner);
      EXPECT_EQ(*got.owner, body) << "the string is the body, no more";
      batch.clear();
      EXPECT_EQ(got.owner.use_count(), 1) << "the cutter let go of it";
    }
  }
}

// The I/O layer's side (plan_read): the payload of a body frame whose head
// has come is read straight into the body, then at most the end octet and
// the next head into the read buffer, whatever the socket has at a time.
TEST(FrameCutter, PlannedReadsPutPayloadsStraightIntoTheBody) {
  const std::string body = pattern(FrameCutter::kSteerAbove + 123);
  const size_t max = FrameCutter::kSteerAbove / 4;
  const std::string publish = frame(kFrameMethod, 1, "publish") + header(1, body.size()) + body_frames(1, body, max);
  const std::string in = kHeader + publish + publish + frame(kFrameMethod, 1, "next");
  for (size_t available : {1, 5, 7, 8, 9, 100, 4096, 65536}) {
    FrameCutter cutter(uint32_t(max + kFrameOverhead));
    FrameBatch batch;
    PlacedBody got;
    size_t at = 0, direct_total = 0, frames = 0;
    while (at < in.size()) {
      const FrameCutter::ReadPlan plan = cutter.plan_read();
      const size_t direct = std::min({plan.direct.size(), available, in.size() - at});
      if (direct > 0) std::memcpy(plan.direct.data(), in.data() + at, direct);
      const size_t rest = std::min({plan.then, available - direct, in.size() - at - direct});
      batch.clear();
      cutter.cut_more(as_bytes(std::string_view(in).substr(at + direct, rest)), batch, direct);
      ASSERT_EQ(batch.error, "");
      ASSERT_EQ(batch.octets, direct + rest);
      at += direct + rest;
      direct_total += direct;
      got = placed_body(batch.frames, std::move(got));
      frames += batch.frames.size();
    }
    EXPECT_EQ(frames, 2 * (2u + 5u) + 1u) << available;
    EXPECT_EQ(got.octets, body + body) << available;
    // Only what came in the read with the first content header was copied,
    // and, after the first body, at most a small read's worth
    // (FrameCutter::kAfterLarge) with the second.
    if (available <= 4096) {
      EXPECT_GE(direct_total, 2 * body.size() - available - FrameCutter::kAfterLarge) << available;
    }
  }
}

// A smaller body: reads are not cut to its frames, but the rest of a frame
// that a read left incomplete still goes straight into place.
TEST(FrameCutter, ASmallerBodyIsReadInWholeReadsAndItsLastPayloadInPlace) {
  const std::string body = pattern(FrameCutter::kSteerAbove / 4);
  const std::string in = kHeader + frame(kFrameMethod, 1, "publish") + header(1, body.size()) +
                         frame(kFrameBody, 1, body) + frame(kFrameMethod, 1, "next");
  FrameCutter cutter(131072);
  FrameBatch batch;
  ASSERT_EQ(cutter.plan_read().then, std::numeric_limits<size_t>::max());
  const size_t first = kHeader.size() + 100;
  cutter.cut(as_bytes(std::string_view(in).substr(0, first)), batch);
  FrameCutter::ReadPlan plan = cutter.plan_read();
  ASSERT_FALSE(plan.direct.empty());
  EXPECT_EQ(plan.then, std::numeric_limits<size_t>::max());
  const std::string_view rest = std::string_view(in).substr(first);
  std::memcpy(plan.direct.data(), rest.data(), plan.direct.size());
  batch.clear();
  cutter.cut_more(as_bytes(rest.substr(plan.direct.size())), batch, plan.direct.size());
  const PlacedBody got = placed_body(batch.frames);
  EXPECT_EQ(got.octets, body);
  EXPECT_TRUE(got.contiguous);
  EXPECT_EQ(batch.frames.size(), 2u);  // the body, then "next"
  EXPECT_EQ(cutter.plan_read().then, std::numeric_limits<size_t>::max()) << "nothing steered after it";
}

TEST(FrameCutter, ABadEndOctetAfterAPlacedPayloadStopsTheCut) {
  const std::string body = pattern(2000);
  std::string in = kHeader + header(1, body.size()) + body_frames(1, body, 1000);
  in.back() = 'X';
  for (size_t split : {kHeader.size() + 30, in.size() - 500, in.size() - 1}) {
    const Cut c = cut(in, {split}, 1008);
    EXPECT_EQ(c.frames.size(), 2u) << split;
    EXPECT_NE(c.error.find("invalid_frame_end_marker,88"), std::string::npos) << split;
  }
}

TEST(FrameCutter, AFramingErrorStopsTheCutAtItsFrame) {
  const std::string good = frame(kFrameMethod, 1, "abc");
  std::string bad_end = frame(kFrameMethod, 2, "def");
  bad_end.back() = 'X';
  Cut c = cut(kHeader + good + bad_end + good);
  ASSERT_EQ(c.frames.size(), 1u);
  ASSERT_TRUE(c.next);
  EXPECT_EQ(c.next->channel, 2);
  EXPECT_EQ(c.error, "type 1, all octets = <<100,101,102>>: {invalid_frame_end_marker,88}");  // FrameReader's words
  // The same when the bad frame comes in pieces; and nothing is cut after it.
  const size_t at = kHeader.size() + good.size();
  c = cut(kHeader + good + bad_end + good, {at + 3, at + 9, at + bad_end.size()});
  EXPECT_EQ(c.frames.size(), 1u);
  EXPECT_EQ(c.error, "type 1, all octets = <<100,101,102>>: {invalid_frame_end_marker,88}");
  EXPECT_FALSE(c.next);  // the last read's batch: nothing
  c = cut(kHeader + frame(9, 0, ""));
  EXPECT_EQ(c.error, "type 9, all octets = <<>>: unknown_frame");
}

TEST(FrameCutter, AFrameOverItsLimitFailsOnItsHead) {
  const std::string head = hex("03 00 01 00 00 0f f9");  // 4089 octets of body: over 4096
  for (size_t split = 0; split < head.size(); ++split) {
    const Cut c = cut(kHeader + head, {kHeader.size() + split}, 4096);
    EXPECT_EQ(c.error, "type 3, all octets = <<>>: {frame_too_large,4089,4088}") << split;
    EXPECT_EQ(c.error, frame_too_large(3, 4089, 4096));
  }
  EXPECT_EQ(cut(kHeader + head, {}, 0).error, "");  // no limit: it is only incomplete
}

}  // namespace
}  // namespace warren::amqp091
