#include "amqp091/frame_cutter.hpp"

#include <algorithm>
#include <utility>

namespace warren::amqp091 {

void FrameBatch::clear() {
  octets = 0;
  protocol_header.reset();
  frames.clear();
  methods.clear();
  headers.clear();
  decoded.clear();
  next.reset();
  error.clear();
}

void FrameCutter::cut(std::span<const uint8_t> in, FrameBatch& out) {
  out.clear();
  out.octets = in.size();
  if (stage_ == Stage::ProtocolHeader) in = take_protocol_header(in, out);
  if (!head_.empty() && stage_ == Stage::Frames) in = finish_held(in, out);
  if (!head_.empty() || stage_ != Stage::Frames) return;  // still incomplete, or failed
  FrameReader reader(in, frame_max_);
  Frame f;
  while (reader.next(f)) add(std::move(f), out);
  std::span<const uint8_t> rest = in.subspan(reader.consumed());
  if (reader.failed()) return fail(read_frame_head(rest.first<kFrameHeaderSize>()), std::string(reader.error().text), out);
  hold(rest, out);
}

std::span<const uint8_t> FrameCutter::take_protocol_header(std::span<const uint8_t> in, FrameBatch& out) {
  const size_t n = std::min(in.size(), kProtocolHeader.size() - head_.size());
  head_.append(as_chars(in.first(n)));
  switch (check_protocol_header(as_bytes(head_))) {
    case HeaderCheck::Incomplete:
      return {};
    case HeaderCheck::Mismatch:  // the engine answers it; nothing after it is read
      stage_ = Stage::Failed;
      out.protocol_header = HeaderCheck::Mismatch;
      return {};
    case HeaderCheck::Match:
      break;
  }
  head_.clear();
  stage_ = Stage::Frames;
  out.protocol_header = HeaderCheck::Match;
  return in.subspan(n);
}

// The frame an earlier cut left incomplete, with what `in` adds to it.
// Returns the rest of `in`.
std::span<const uint8_t> FrameCutter::finish_held(std::span<const uint8_t> in, FrameBatch& out) {
  if (head_.size() < kFrameHeaderSize) {
    const size_t n = std::min(in.size(), kFrameHeaderSize - head_.size());
    head_.append(as_chars(in.first(n)));
    in = in.subspan(n);
    if (head_.size() < kFrameHeaderSize) return in;
    const FrameHead head = read_frame_head(as_bytes(head_).first<kFrameHeaderSize>());
    if (head.size > max_payload(frame_max_)) return fail(head, frame_too_large(head.type, head.size, frame_max_), out), in;
    reserve(head);
  }
  const FrameHead head = read_frame_head(as_bytes(head_).first<kFrameHeaderSize>());
  const size_t n = std::min<size_t>(in.size(), size_t(head.size) + 1 - payload_.size());
  payload_.append(as_chars(in.first(n)));
  in = in.subspan(n);
  if (payload_.size() < size_t(head.size) + 1) {
    out.next = head;
    return in;
  }
  const uint8_t end = uint8_t(payload_.back());
  payload_.pop_back();
  std::string why;
  if (!frame_sound(head.type, as_bytes(payload_), end, why)) return fail(head, std::move(why), out), in;
  auto own = std::make_shared<const std::string>(std::exchange(payload_, {}));
  head_.clear();
  add(Frame{head.type, head.channel, as_bytes(*own), own}, out);
  return in;
}

// Keeps `rest`, less than a whole frame, for the next cut.
void FrameCutter::hold(std::span<const uint8_t> rest, FrameBatch& out) {
  if (rest.empty()) return;
  const size_t n = std::min(rest.size(), kFrameHeaderSize);
  head_.assign(as_chars(rest.first(n)));
  if (n < kFrameHeaderSize) return;
  out.next = read_frame_head(rest.first<kFrameHeaderSize>());  // its size was checked by the FrameReader
  reserve(*out.next);
  payload_.assign(as_chars(rest.subspan(n)));
}

// Room for the payload and end octet at once, so that a large body's
// string, which its message keeps, is not grown (and left up to twice its
// size) read by read. Up to the usual frame-max (RabbitMQ's default, and
// ours): a larger one is held as it comes, not on what its head promises.
void FrameCutter::reserve(const FrameHead& head) {
  constexpr size_t kMostAtOnce = 128 * 1024;
  payload_.reserve(std::min(size_t(head.size) + 1, kMostAtOnce));
}

void FrameCutter::add(Frame f, FrameBatch& out) {
  const bool whole_body = f.type == kFrameBody && f.channel == header_channel_ && header_body_size_ == f.payload.size();
  header_body_size_.reset();
  if (whole_body && f.payload.size() > kOwnBodyAbove && !f.owner) {
    f.owner = std::make_shared<const std::string>(as_chars(f.payload));
    f.payload = as_bytes(*f.owner);
  }
  if (f.type == kFrameMethod) {
    out.decoded.push_back(uint32_t(out.methods.size()));
    auto& m = out.methods.emplace_back();
    m.status = decode_method(f.payload, m.value);
  } else if (f.type == kFrameHeader) {
    out.decoded.push_back(uint32_t(out.headers.size()));
    auto& h = out.headers.emplace_back();
    h.status = decode_content_header(f.payload, h.value);
    if (h.status.ok()) {
      header_channel_ = f.channel;
      header_body_size_ = h.value.body_size;
    }
  } else {
    out.decoded.push_back(0);
  }
  out.frames.push_back(std::move(f));
}

void FrameCutter::fail(const FrameHead& at, std::string why, FrameBatch& out) {
  stage_ = Stage::Failed;
  out.next = at;
  out.error = std::move(why);
  head_ = {};
  payload_ = {};
}

}  // namespace warren::amqp091
