#include "amqp091/frame.hpp"

#include <cassert>
#include <cstring>

#include <fmt/format.h>

namespace warren::amqp091 {

HeaderCheck check_protocol_header(std::span<const uint8_t> input) {
  size_t n = std::min(input.size(), kProtocolHeader.size());
  // Decide on the first wrong octet: no need to wait for all eight.
  if (std::memcmp(input.data(), kProtocolHeader.data(), n) != 0) return HeaderCheck::Mismatch;
  return n == kProtocolHeader.size() ? HeaderCheck::Match : HeaderCheck::Incomplete;
}

bool FrameReader::next(Frame& out) {
  if (failed()) return false;
  std::span<const uint8_t> rest = in_.subspan(pos_);
  if (rest.size() < kFrameHeaderSize) return false;
  const FrameHead head = read_frame_head(rest.first<kFrameHeaderSize>());
  // Checked on the header, before the payload arrives, so a peer cannot make
  // us buffer more than frame_max.
  if (head.size > max_payload(frame_max_)) {
    text_ = frame_too_large(head.type, head.size, frame_max_);
    return fail();
  }
  if (rest.size() - kFrameHeaderSize < uint64_t(head.size) + 1) return false;
  std::span<const uint8_t> payload = rest.subspan(kFrameHeaderSize, head.size);
  if (!frame_sound(head.type, payload, rest[kFrameHeaderSize + head.size], text_)) return fail();
  out = {.type = head.type, .channel = head.channel, .payload = payload};
  pos_ += kFrameOverhead + head.size;
  return true;
}

size_t FrameReader::pending_frame_size() const {
  std::span<const uint8_t> rest = in_.subspan(pos_);
  if (failed() || rest.size() < kFrameHeaderSize) return 0;
  return kFrameOverhead + read_frame_head(rest.first<kFrameHeaderSize>()).size;
}

bool FrameReader::fail() {
  status_ = {ReplyCode::FrameError, text_};
  return false;
}

FrameHead read_frame_head(std::span<const uint8_t, kFrameHeaderSize> o) {
  return {o[0], uint16_t(o[1] << 8 | o[2]), uint32_t(o[3]) << 24 | uint32_t(o[4]) << 16 | uint32_t(o[5]) << 8 | o[6]};
}

namespace {

// RabbitMQ's wording, e.g. "type 3, first 16 octets = <<132,2,...>>:
// {invalid_frame_end_marker,83}", so operators can search for it.
std::string frame_error(uint8_t type, std::span<const uint8_t> payload, std::string_view what) {
  std::span<const uint8_t> shown = payload.first(std::min<size_t>(payload.size(), 16));
  return fmt::format("type {}, {} octets = <<{}>>: {}", type, shown.size() < payload.size() ? "first 16" : "all",
                     fmt::join(shown, ","), what);
}

}  // namespace

std::string frame_too_large(uint8_t type, uint32_t size, uint32_t frame_max) {
  return frame_error(type, {}, fmt::format("{{frame_too_large,{},{}}}", size, max_payload(frame_max)));
}

bool frame_sound(uint8_t type, std::span<const uint8_t> payload, uint8_t end, std::string& why) {
  if (end != kFrameEnd) {
    why = frame_error(type, payload, fmt::format("{{invalid_frame_end_marker,{}}}", end));
    return false;
  }
  switch (type) {
    case kFrameMethod:
    case kFrameHeader:
    case kFrameBody:
    case kFrameHeartbeat:
      return true;
    default:
      why = frame_error(type, payload, "unknown_frame");
      return false;
  }
}

std::array<uint8_t, kFrameHeaderSize> frame_header(uint8_t type, uint16_t channel, uint32_t size) {
  return {uint8_t(type),      uint8_t(channel >> 8), uint8_t(channel),  uint8_t(size >> 24),
          uint8_t(size >> 16), uint8_t(size >> 8),    uint8_t(size)};
}

void append_frame(std::string& out, uint8_t type, uint16_t channel, std::span<const uint8_t> payload) {
  assert(payload.size() <= UINT32_MAX);
  auto h = frame_header(type, channel, uint32_t(payload.size()));
  out.append(reinterpret_cast<const char*>(h.data()), h.size());
  out.append(as_chars(payload));
  out.push_back(char(kFrameEnd));
}

void append_heartbeat(std::string& out) { append_frame(out, kFrameHeartbeat, 0, {}); }

size_t write_frame(std::span<uint8_t> dst, uint8_t type, uint16_t channel, std::span<const uint8_t> payload) {
  if (payload.size() > UINT32_MAX || dst.size() < kFrameOverhead || dst.size() - kFrameOverhead < payload.size())
    return 0;
  auto h = frame_header(type, channel, uint32_t(payload.size()));
  std::memcpy(dst.data(), h.data(), h.size());
  if (!payload.empty()) std::memcpy(dst.data() + h.size(), payload.data(), payload.size());
  dst[h.size() + payload.size()] = kFrameEnd;
  return kFrameOverhead + payload.size();
}

size_t begin_frame(std::string& out, uint8_t type, uint16_t channel) {
  auto h = frame_header(type, channel, 0);
  out.append(reinterpret_cast<const char*>(h.data()), h.size());
  return out.size();
}

void end_frame(std::string& out, size_t begin) {
  size_t size = out.size() - begin;
  assert(size <= UINT32_MAX);
  for (int i = 0; i < 4; ++i) out[begin - 4 + i] = char(size >> (24 - 8 * i));
  out.push_back(char(kFrameEnd));
}

void append_body_frames(std::string& out, uint16_t channel, std::span<const uint8_t> body, uint32_t frame_max) {
  uint64_t chunk = max_payload(frame_max);
  assert(chunk > 0 && "frame_max below the frame overhead");
  if (chunk == 0) chunk = 1;
  while (!body.empty()) {
    size_t n = size_t(std::min<uint64_t>(chunk, body.size()));
    append_frame(out, kFrameBody, channel, body.first(n));
    body = body.subspan(n);
  }
}

}  // namespace warren::amqp091
