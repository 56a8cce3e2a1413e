// Fuzzes the AMQP 0-9-1 codec with what a peer could send: frames are split
// by FrameReader (whole, and again in two reads) and by a connection's
// FrameCutter (in reads of every size the split seeds), method frames
// decoded, content headers decoded with their properties, and every table
// met decoded in full. The cutter must cut what FrameReader reads, however
// the reads go. Whatever decodes must re-encode to something that decodes
// to the same thing.
//
// Input: <frame_max selector> <split point> <stream>
//   frame_max: kFrameMaxes[selector % 4]
//   split:     the stream is also read in two parts, cut at split/255 of it;
//              and by the cutter in reads of 1 + split % 64 octets
//   stream:    optionally the protocol header, then frames
#include <algorithm>
#include <cstring>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "amqp091/field_table.hpp"
#include "amqp091/frame.hpp"
#include "amqp091/frame_cutter.hpp"
#include "amqp091/generated/methods.hpp"
#include "amqp091/properties.hpp"

using namespace warren::amqp091;

namespace {

constexpr uint32_t kFrameMaxes[] = {131072, kFrameMinSize, 0, 512};

[[noreturn]] void violated(const char* what) {
  std::fprintf(stderr, "invariant violated: %s\n", what);
  std::abort();
}

bool known_code(ReplyCode c) {
  return c == ReplyCode::FrameError || c == ReplyCode::SyntaxError || c == ReplyCode::NotImplemented ||
         c == ReplyCode::UnexpectedFrame;
}

void check_failure(const DecodeStatus& st) {
  if (!known_code(st.code)) violated("decode failed with an unexpected reply code");
  if (st.text.empty()) violated("decode failed without a text");
}

// A table decodes, re-encodes, and decodes to what encodes the same again.
// (Bytes are compared, not values: NaN != NaN.)
void check_table(TableView view) {
  FieldTable t;
  DecodeStatus st = view.decode(t);
  if (!st.ok()) return check_failure(st);
  std::string once;
  if (!encode_table_entries(once, t)) violated("a decoded table does not encode");
  FieldTable again;
  if (!TableView(once).decode(again).ok()) violated("a re-encoded table does not decode");
  std::string twice;
  encode_table_entries(twice, again);
  if (once != twice) violated("table re-encoding is not stable");
}

void check_method(std::span<const uint8_t> payload) {
  Method m;
  DecodeStatus st = decode_method(payload, m);
  if (!st.ok()) return check_failure(st);
  const MethodInfo* info = method_info(m);
  if (!info) violated("decoded to monostate");
  if (method_name(info->class_id, info->method_id) != info->name) violated("method_info and method_name disagree");

  std::string once;
  if (!encode_method(once, m)) violated("a decoded method does not encode");
  Method back;
  if (!decode_method(as_bytes(once), back).ok()) violated("a re-encoded method does not decode");
  if (back != m) violated("method changed through a re-encode");
  std::string twice;
  encode_method(twice, back);
  if (once != twice) violated("method re-encoding is not stable");

  std::visit(
      [](const auto& x) {
        if constexpr (!std::is_same_v<std::decay_t<decltype(x)>, std::monostate>) {
          x.for_each_field([](std::string_view, const auto& v) {
            if constexpr (std::is_same_v<std::decay_t<decltype(v)>, TableView>) check_table(v);
          });
        }
      },
      m);
}

void check_header(std::span<const uint8_t> payload) {
  ContentHeader h;
  DecodeStatus st = decode_content_header(payload, h);
  if (!st.ok()) return check_failure(st);
  std::string verbatim;
  encode_content_header(verbatim, h);
  if (as_bytes(verbatim).size() != payload.size() || !std::equal(payload.begin(), payload.end(), as_bytes(verbatim).begin()))
    violated("content header not forwarded verbatim");

  BasicProperties p;
  st = h.properties.decode(p);
  if (!st.ok()) return check_failure(st);
  if (h.properties.delivery_mode() != p.delivery_mode) violated("delivery_mode() differs from the decode");
  if (h.properties.priority() != p.priority) violated("priority() differs from the decode");
  if (h.properties.expiration() != (p.expiration ? std::optional<std::string_view>(*p.expiration) : std::nullopt))
    violated("expiration() differs from the decode");

  std::string once;
  if (!encode_content_header(once, h.body_size, p)) violated("decoded properties do not encode");
  ContentHeader h2;
  BasicProperties p2;
  if (!decode_content_header(as_bytes(once), h2).ok() || !h2.properties.decode(p2).ok()) violated("re-encoded header does not decode");
  // Same properties present; an empty continuation word is not re-encoded.
  if (h2.body_size != h.body_size || h2.properties.flags() != (h.properties.flags() & ~kMoreFlags))
    violated("header changed");
  std::string twice;
  encode_content_header(twice, h2.body_size, p2);
  if (once != twice) violated("content header re-encoding is not stable");
}

struct Seen {
  std::vector<Frame> frames;
  bool failed = false;
  std::string error;
  size_t consumed = 0;
};

// Reads frames from `in` into `seen`; returns the octets consumed.
size_t read_frames(std::span<const uint8_t> in, uint32_t frame_max, Seen& seen) {
  FrameReader reader(in, frame_max);
  Frame f;
  size_t before = 0;
  while (reader.next(f)) {
    if (reader.consumed() != before + kFrameOverhead + f.payload.size()) violated("consumed() off");
    if (f.payload.size() > max_payload(frame_max)) violated("frame over frame_max");
    before = reader.consumed();
    seen.frames.push_back(f);
  }
  if (reader.consumed() > in.size()) violated("consumed more than the input");
  seen.consumed += reader.consumed();
  if (reader.failed()) {
    if (reader.error().code != ReplyCode::FrameError) violated("framing failed with another code than 501");
    seen.failed = true;
    seen.error = std::string(reader.error().text);
  } else {
    size_t rest = in.size() - reader.consumed();
    size_t pending = reader.pending_frame_size();
    if (rest >= kFrameHeaderSize && pending <= rest) violated("a complete frame was left unread");
  }
  return reader.consumed();
}

bool same_frames(const Seen& a, const Seen& b) {
  if (a.frames.size() != b.frames.size() || a.failed != b.failed || a.error != b.error) return false;
  for (size_t i = 0; i < a.frames.size(); ++i) {
    const Frame &x = a.frames[i], &y = b.frames[i];
    if (x.type != y.type || x.channel != y.channel || x.payload.data() != y.payload.data() ||
        x.payload.size() != y.payload.size())
      return false;
  }
  return true;
}

// The same stream through a FrameCutter, after a protocol header, in reads
// of `read` octets: the frames FrameReader read, and where it stopped.
// With `planned`, each read is made as the socket reader makes it
// (FrameCutter::plan_read): straight into a placed body first, then at
// most what the plan allows into the buffer.
void check_cutter(std::span<const uint8_t> in, uint32_t frame_max, size_t read, const Seen& whole,
                  bool planned = false) {
  FrameCutter cutter(frame_max);
  FrameBatch batch;
  cutter.cut(kProtocolHeader, batch);
  if (batch.protocol_header != HeaderCheck::Match || !batch.frames.empty()) violated("the protocol header was not taken");
  size_t n = 0;
  std::string error;
  std::optional<FrameHead> next;
  for (size_t at = 0; at < in.size();) {
    if (planned) {
      const FrameCutter::ReadPlan plan = cutter.plan_read();
      const size_t direct = std::min({plan.direct.size(), read, in.size() - at});
      if (direct > 0) std::memcpy(plan.direct.data(), in.data() + at, direct);
      const size_t rest = std::min({plan.then, read - direct, in.size() - at - direct});
      batch.clear();
      cutter.cut_more(in.subspan(at + direct, rest), batch, direct);
      at += direct + rest;
    } else {
      cutter.cut(in.subspan(at, std::min(read, in.size() - at)), batch);
      at += std::min(read, in.size() - at);
    }
    for (const Frame& f : batch.frames) {
      if (n >= whole.frames.size()) violated("the cutter cut more frames than FrameReader read");
      const Frame& w = whole.frames[n++];
      if (f.type != w.type || f.channel != w.channel || !std::equal(f.payload.begin(), f.payload.end(), w.payload.begin(), w.payload.end()))
        violated("the cutter cut another frame");
      if (f.owner && f.payload.data() != reinterpret_cast<const uint8_t*>(f.owner->data()) + f.placed_at)
        violated("payload not in its owner");
    }
    if (!error.empty() && (!batch.frames.empty() || !batch.error.empty())) violated("the cutter went on after an error");
    error += batch.error;
    next = batch.next;
    if (!batch.error.empty() && !batch.next) violated("an error without the frame it stopped at");
  }
  if (n != whole.frames.size()) violated("the cutter cut fewer frames than FrameReader read");
  if (error != whole.error) violated("the cutter failed otherwise than FrameReader");
  const size_t rest = in.size() - whole.consumed;
  if (!whole.failed && (rest >= kFrameHeaderSize) != next.has_value()) violated("the incomplete frame's head was not shown");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  uint32_t frame_max = kFrameMaxes[data[0] % 4];
  std::span<const uint8_t> in(data + 2, size - 2);
  if (check_protocol_header(in) == HeaderCheck::Match) in = in.subspan(kProtocolHeader.size());

  Seen whole;
  read_frames(in, frame_max, whole);

  // The same stream in two reads, as a connection would get it.
  Seen split;
  size_t cut = in.size() * data[1] / 255;
  size_t used = read_frames(in.first(cut), frame_max, split);
  if (!split.failed) read_frames(in.subspan(used), frame_max, split);
  if (!same_frames(whole, split)) violated("reading in two parts gave other frames");
  check_cutter(in, frame_max, 1 + data[1] % 64, whole);
  check_cutter(in, frame_max, in.size() + 1, whole);
  check_cutter(in, frame_max, 1 + data[1] % 64, whole, true);

  for (const Frame& f : whole.frames) {
    switch (f.type) {
      case kFrameMethod: check_method(f.payload); break;
      case kFrameHeader: check_header(f.payload); break;
      case kFrameBody: check_table(TableView(f.payload)); break;  // more table decoding
      case kFrameHeartbeat: break;
      default: violated("unknown frame type handed out");
    }
  }
  return 0;
}
