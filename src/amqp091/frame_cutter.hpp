#pragma once
// A 0-9-1 connection's input, cut: its protocol header, then its frames,
// however the reads split them, each method and content header decoded.
// One cutter per connection, on whichever thread reads the socket - the
// broker's loop, or a reader thread (src/server/socket_reader.hpp) -
// moving with the connection, the incomplete frame it holds included: the
// bytes are cut and decoded the same way wherever they are read, as Redis's
// I/O threads parse commands that its main thread runs. It knows the codec
// only. What a frame means, and whether it may come now (under the
// negotiated frame-max, say), is the engine's business
// (Connection::feed_frames).
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "amqp091/frame.hpp"
#include "amqp091/generated/methods.hpp"
#include "amqp091/properties.hpp"

namespace warren::amqp091 {

// What one FrameCutter::cut() found. Payloads, and the views of what was
// decoded, point into the bytes given to cut(), or into a payload's own
// string (Frame::owner): a frame begun in an earlier cut, or a large body.
struct FrameBatch {
  template <class T>
  struct Decoded {
    T value;
    DecodeStatus status;  // not ok: the engine refuses the frame when it comes to it
  };

  size_t octets = 0;  // the bytes cut, whole frames or not: any octet is a sign of life
  // Match or Mismatch, in the batch whose bytes decided it.
  std::optional<HeaderCheck> protocol_header;
  std::vector<Frame> frames;
  // Each method frame's method, each header frame's content header.
  std::vector<Decoded<Method>> methods;
  std::vector<Decoded<ContentHeader>> headers;
  std::vector<uint32_t> decoded;  // frames[i]'s entry in methods or headers
  // The frame after `frames`, known by its head alone: still incomplete, or
  // the one cutting stopped at. The engine checks its size at once, as it
  // does a whole frame's, so a peer learns of an oversized frame from its
  // head, not after sending all of it.
  std::optional<FrameHead> next;
  // Why cutting stopped at `next` (501 FRAME_ERROR in RabbitMQ's words);
  // empty: it did not. Nothing more is cut.
  std::string error;

  // Nothing for the engine but octets: no frame, no head, nothing decided.
  bool empty() const { return frames.empty() && !next && error.empty() && !protocol_header; }
  const Decoded<Method>& method(size_t frame) const { return methods[decoded[frame]]; }
  const Decoded<ContentHeader>& header(size_t frame) const { return headers[decoded[frame]]; }
  void clear();
};

class FrameCutter {
 public:
  // Larger bodies that come whole in one frame, right after their content
  // header, get a string of their own (Frame::owner), which the message
  // keeps: the copy is made here, on the thread that cuts. Smaller ones
  // are copied into their message anyway (broker::Message::kInlineBody).
  static constexpr size_t kOwnBodyAbove = 256;

  // `frame_max`: the largest frame to cut (0: no limit), the server's: what
  // a connection negotiates is at most that, and the engine checks it.
  explicit FrameCutter(uint32_t frame_max) : frame_max_(frame_max) {}

  // Cuts `in` into `out` (cleared first). What `in` leaves incomplete is
  // kept for the next call.
  void cut(std::span<const uint8_t> in, FrameBatch& out);

 private:
  enum class Stage : uint8_t { ProtocolHeader, Frames, Failed };

  std::span<const uint8_t> take_protocol_header(std::span<const uint8_t> in, FrameBatch& out);
  std::span<const uint8_t> finish_held(std::span<const uint8_t> in, FrameBatch& out);
  void hold(std::span<const uint8_t> rest, FrameBatch& out);
  void reserve(const FrameHead& head);
  void add(Frame f, FrameBatch& out);
  void fail(const FrameHead& at, std::string why, FrameBatch& out);

  uint32_t frame_max_;
  Stage stage_ = Stage::ProtocolHeader;
  // The incomplete protocol header or frame head; then, once the head is
  // whole, the payload and end octet so far.
  std::string head_;
  std::string payload_;
  // The last frame cut was a content header declaring a body this large on
  // this channel: a body frame of that size that follows is the whole body.
  uint16_t header_channel_ = 0;
  std::optional<uint64_t> header_body_size_;
};

}  // namespace warren::amqp091
