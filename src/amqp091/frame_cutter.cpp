#include "amqp091/frame_cutter.hpp"

#include <algorithm>
#include <cstring>
#include <new>
#include <utility>

namespace warren::amqp091 {

namespace {

// Grows `s` to `n` octets, n <= s.capacity(), without writing them: they
// are about to be read into. resize() would zero them first, a pass over
// every placed body as costly as the copy that placing saves (8% of
// warrend's CPU with 1 MiB bodies). C++23's resize_and_overwrite does
// this; libstdc++ in C++20 has it as a private member only, which an
// explicit instantiation may name ([temp.spec]: access is not checked
// there). Elsewhere, resize().
#if defined(__cpp_lib_string_resize_and_overwrite)
void grow_unwritten(std::string& s, size_t n) {
  s.resize_and_overwrite(n, [](char*, size_t k) { return k; });
}
#elif defined(__GLIBCXX__) && _GLIBCXX_USE_CXX11_ABI
using SetLength = void (std::string::*)(std::string::size_type);
void set_length(std::string& s, size_t n);
template <SetLength M>
struct SetLengthOf {
  friend void set_length(std::string& s, size_t n) { (s.*M)(n); }
};
template struct SetLengthOf<&std::string::_M_set_length>;
void grow_unwritten(std::string& s, size_t n) { set_length(s, n); }
#else
void grow_unwritten(std::string& s, size_t n) { s.resize(n); }
#endif

}  // namespace

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

void FrameCutter::cut_more(std::span<const uint8_t> in, FrameBatch& out, size_t direct) {
  out.octets += direct + in.size();
  out.next.reset();  // describes what follows this call's frames
  if (direct > 0 && held_placed_) held_got_ += direct;  // plan_read() gave no more than the payload's rest
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

FrameCutter::ReadPlan FrameCutter::plan_read() {
  ReadPlan plan;
  if (stage_ != Stage::Frames) return plan;
  const bool steer = place_total_ >= kSteerAbove;
  if (held_placed_) {
    const FrameHead head = read_frame_head(as_bytes(head_).first<kFrameHeaderSize>());
    plan.direct = {reinterpret_cast<uint8_t*>(place_->data()) + held_at_ + held_got_, head.size - held_got_};
    // More of the body after this frame: its end octet and the next head.
    // The last one: its end octet and the next publish's start.
    if (steer) plan.then = held_at_ + head.size < place_total_ ? 1 + kFrameHeaderSize : 1 + kAfterLarge;
    return plan;
  }
  if (place_ && steer && head_.size() < kFrameHeaderSize)
    plan.then = kFrameHeaderSize - head_.size();
  else if (!place_ && after_large_ && head_.empty())
    plan.then = kAfterLarge;  // the next publish's method, header and body head, most likely
  return plan;
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
    start_held(head);
  }
  const FrameHead head = read_frame_head(as_bytes(head_).first<kFrameHeaderSize>());
  if (held_placed_) return finish_placed(head, in, out);
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
  add(Frame{.type = head.type, .channel = head.channel, .payload = as_bytes(*own), .owner = own}, out);
  return in;
}

// The held frame is a placed body frame: its payload goes on into the body,
// then its end octet.
std::span<const uint8_t> FrameCutter::finish_placed(const FrameHead& head, std::span<const uint8_t> in,
                                                    FrameBatch& out) {
  uint8_t* at = reinterpret_cast<uint8_t*>(place_->data()) + held_at_;
  const size_t n = std::min<size_t>(in.size(), head.size - held_got_);
  if (n > 0) std::memcpy(at + held_got_, in.data(), n);
  held_got_ += n;
  in = in.subspan(n);
  if (held_got_ < head.size || in.empty()) {
    out.next = head;
    return in;
  }
  const uint8_t end = in[0];
  in = in.subspan(1);
  const std::span<const uint8_t> payload(at, head.size);
  std::string why;
  if (!frame_sound(head.type, payload, end, why)) return fail(head, std::move(why), out), in;
  Frame f{.type = head.type, .placed = true, .channel = head.channel, .placed_at = uint32_t(held_at_),
          .payload = payload, .owner = place_};
  head_.clear();
  held_placed_ = false;
  if (place_->size() == place_total_) done_placing();  // all of it has its frames: the engine's alone now
  add(std::move(f), out);
  return in;
}

// Keeps `rest`, less than a whole frame, for the next cut.
void FrameCutter::hold(std::span<const uint8_t> rest, FrameBatch& out) {
  if (rest.empty()) return;
  const size_t n = std::min(rest.size(), kFrameHeaderSize);
  head_.assign(as_chars(rest.first(n)));
  if (n < kFrameHeaderSize) return;
  out.next = read_frame_head(rest.first<kFrameHeaderSize>());  // its size was checked by the FrameReader
  start_held(*out.next);
  rest = rest.subspan(n);
  if (held_placed_) {  // less than payload and end octet: the payload's part goes into the body
    held_got_ = std::min<size_t>(rest.size(), out.next->size);
    std::memcpy(place_->data() + held_at_, rest.data(), held_got_);
  } else {
    payload_.assign(as_chars(rest));
  }
}

// The held frame's head is whole: room for its payload, in the body it
// belongs to or in payload_.
void FrameCutter::start_held(const FrameHead& head) {
  payload_.clear();
  held_placed_ = placing(head);
  if (held_placed_) {
    held_at_ = place_->size();
    held_got_ = 0;
    grow_unwritten(*place_, held_at_ + head.size);  // within the reservation: the body does not move
    return;
  }
  // Room for the payload and end octet at once, so that a frame is not
  // grown read by read. Up to the usual frame-max (RabbitMQ's default, and
  // ours): a larger one is held as it comes, not on what its head promises.
  constexpr size_t kMostAtOnce = 128 * 1024;
  payload_.reserve(std::min(size_t(head.size) + 1, kMostAtOnce));
}

// A frame with this head goes into the body being placed.
bool FrameCutter::placing(const FrameHead& head) const {
  return place_ && head.type == kFrameBody && head.channel == place_channel_ &&
         head.size <= place_total_ - place_->size();
}

void FrameCutter::start_placing(uint16_t channel, uint64_t body_size) {
  place_.reset();
  if (body_size > max_placed_) return;
  try {
    auto body = std::make_shared<std::string>();
    body->reserve(size_t(body_size));  // address space: pages are taken as octets come
    place_ = std::move(body);
    place_channel_ = channel;
    place_total_ = body_size;
  } catch (const std::bad_alloc&) {  // gathered by the channel instead, as it comes
  }
}

// A whole frame that came in one read: a body frame of the body being
// placed is copied there.
void FrameCutter::place(Frame& f) {
  if (f.channel != place_channel_) return;
  if (!placing(FrameHead{f.type, f.channel, uint32_t(f.payload.size())})) {
    place_.reset();  // anything else on its channel ends the body (the engine says how)
    return;
  }
  const size_t at = place_->size();
  place_->append(as_chars(f.payload));
  f.payload = {reinterpret_cast<const uint8_t*>(place_->data()) + at, f.payload.size()};
  f.owner = place_;
  f.placed = true;
  f.placed_at = uint32_t(at);
  if (place_->size() == place_total_) done_placing();
}

void FrameCutter::done_placing() {
  after_large_ = place_total_ >= kSteerAbove;
  place_.reset();
}

void FrameCutter::add(Frame f, FrameBatch& out) {
  if (place_ && !f.placed) place(f);
  if (f.type == kFrameMethod) {
    out.decoded.push_back(uint32_t(out.methods.size()));
    auto& m = out.methods.emplace_back();
    m.status = decode_method(f.payload, m.value);
  } else if (f.type == kFrameHeader) {
    out.decoded.push_back(uint32_t(out.headers.size()));
    auto& h = out.headers.emplace_back();
    h.status = decode_content_header(f.payload, h.value);
    after_large_ = false;
    // A small body on another channel leaves the one being placed alone.
    if (h.status.ok() && h.value.body_size > kOwnBodyAbove) start_placing(f.channel, h.value.body_size);
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
  place_.reset();
  held_placed_ = false;
}

}  // namespace warren::amqp091
