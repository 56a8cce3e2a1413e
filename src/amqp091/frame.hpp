#pragma once
// AMQP 0-9-1 framing. After the 8-octet protocol header, everything is a frame:
//
//   type (octet) | channel (short) | size (long) | payload (size octets) | 0xCE
//
// FrameReader splits the bytes a connection has received into frames without
// copying them; the writers append frames to an output string or buffer.
// Which frame may come when, and on which channel (heartbeats on 0, a header
// after a content method), is the connection's business, not this file's.
#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>

#include "amqp091/generated/methods.hpp"
#include "amqp091/wire.hpp"

namespace warren::amqp091 {

inline constexpr size_t kFrameHeaderSize = 7;  // type, channel, size
inline constexpr size_t kFrameOverhead = 8;    // the header and the frame-end octet
inline constexpr std::array<uint8_t, 8> kProtocolHeader = {'A', 'M', 'Q', 'P', 0, 0, 9, 1};

// What a client's first octets say. A broker answers Mismatch by sending its
// own protocol header and closing (spec 4.2.2).
enum class HeaderCheck { Incomplete, Match, Mismatch };
HeaderCheck check_protocol_header(std::span<const uint8_t> input);

struct Frame {
  // kFrameMethod, kFrameHeader (a content header), kFrameBody or kFrameHeartbeat
  uint8_t type = kFrameHeartbeat;
  // A body frame of a large body the cutter places in the body's own
  // string as it comes (owner, allocated once for the whole body): the
  // payload is its octets [placed_at, placed_at + payload.size()). Until the
  // body's last frame is cut, the cutter still writes the string (maybe on
  // another thread): only the payload's octets may be read, not *owner.
  // (Beside type and channel: a frame stays 40 octets.)
  bool placed = false;
  uint16_t channel = 0;
  uint32_t placed_at = 0;  // placed bodies are at most FrameCutter::kMaxPlaced
  std::span<const uint8_t> payload;  // into the reader's input, or into *owner
  // Set when the payload is a string of its own (FrameCutter: a frame that
  // came in several reads), or a slice of one (placed): a message may keep
  // it instead of copying the payload.
  std::shared_ptr<const std::string> owner;
};

// A frame's first seven octets.
struct FrameHead {
  uint8_t type = 0;
  uint16_t channel = 0;
  uint32_t size = 0;  // of the payload
};
FrameHead read_frame_head(std::span<const uint8_t, kFrameHeaderSize> octets);

// RabbitMQ's words for a frame whose head announces more than frame_max
// allows, known before its payload is in.
std::string frame_too_large(uint8_t type, uint32_t size, uint32_t frame_max);
// The checks of a whole frame after its size: its end octet and its type.
// False, with RabbitMQ's words in `why`, when the frame is refused.
bool frame_sound(uint8_t type, std::span<const uint8_t> payload, uint8_t end, std::string& why);

// Reads the frames at the start of `input`. Cheap to make: the usual use is
// one reader per batch of received bytes:
//
//   FrameReader reader(buffer, frame_max);
//   Frame f;
//   while (reader.next(f)) handle(f);
//   if (reader.failed()) close_connection(reader.error());
//   buffer.erase(0, reader.consumed());  // keep the incomplete tail
class FrameReader {
 public:
  // `frame_max` is the negotiated maximum frame size, header and end octet
  // included, as in connection.tune-ok; 0 means no limit. Until tuning,
  // a broker allows kFrameMinSize.
  explicit FrameReader(std::span<const uint8_t> input, uint32_t frame_max = kFrameMinSize)
      : in_(input), frame_max_(frame_max) {}
  FrameReader(const FrameReader&) = delete;  // error() views text_
  FrameReader& operator=(const FrameReader&) = delete;

  // The next complete frame. False if the rest of the input is an incomplete
  // frame (read again when more has arrived) or on an error.
  bool next(Frame& out);

  size_t consumed() const { return pos_; }  // octets of the frames returned
  // Size of the incomplete frame at consumed(), once its header is in; 0
  // otherwise. Lets a caller reserve room for it.
  size_t pending_frame_size() const;
  bool failed() const { return !status_.ok(); }
  // 501 FRAME_ERROR, worded like RabbitMQ. The text lives in this reader.
  const DecodeStatus& error() const { return status_; }

 private:
  bool fail();

  std::span<const uint8_t> in_;
  size_t pos_ = 0;
  uint32_t frame_max_;
  DecodeStatus status_;
  std::string text_;
};

// The largest payload a frame may carry under `frame_max` (0: no limit).
constexpr uint64_t max_payload(uint32_t frame_max) {
  if (frame_max == 0) return UINT32_MAX;
  return frame_max > kFrameOverhead ? frame_max - kFrameOverhead : 0;
}

// ---- writing

// The seven octets before a payload, for gather writes of payloads that live
// elsewhere (follow the payload with kFrameEnd).
std::array<uint8_t, kFrameHeaderSize> frame_header(uint8_t type, uint16_t channel, uint32_t size);

void append_frame(std::string& out, uint8_t type, uint16_t channel, std::span<const uint8_t> payload);
void append_heartbeat(std::string& out);
// Writes one frame into `dst`; returns its size, or 0 if it does not fit.
size_t write_frame(std::span<uint8_t> dst, uint8_t type, uint16_t channel, std::span<const uint8_t> payload);

// For payloads encoded in place: begin_frame appends a header whose size
// end_frame patches, then end_frame appends the end octet.
size_t begin_frame(std::string& out, uint8_t type, uint16_t channel);
void end_frame(std::string& out, size_t begin);

// A method frame. False, with `out` unchanged, if the method does not encode
// (an oversized shortstr, or a monostate Method).
template <class M>
bool append_method_frame(std::string& out, uint16_t channel, const M& m) {
  size_t at = begin_frame(out, kFrameMethod, channel);
  bool ok;
  if constexpr (std::is_same_v<M, Method>)
    ok = encode_method(out, m);
  else
    ok = m.encode(out);
  if (!ok) {
    out.resize(at - kFrameHeaderSize);
    return false;
  }
  end_frame(out, at);
  return true;
}

// A body cut into frames of at most max_payload(frame_max) octets (none for
// an empty body, which is sent as no body frame at all).
void append_body_frames(std::string& out, uint16_t channel, std::span<const uint8_t> body, uint32_t frame_max);

}  // namespace warren::amqp091
