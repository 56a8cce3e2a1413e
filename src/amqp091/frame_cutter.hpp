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
//
// Large bodies are placed: once a content header announces a body of more
// than kOwnBodyAbove octets, the cutter reserves one string for all of it,
// and the body frames that follow on that channel land there, slice after
// slice (Frame::placed), wherever the reads split them. The message keeps
// that string: its bytes are copied from the read buffer once at most, and
// not at all when the I/O layer reads them straight into it (plan_read():
// the rest of a body frame whose head has come).
#include <cstdint>
#include <limits>
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
  // Larger bodies are placed in a string of their own, which the message
  // keeps. Smaller ones are copied into their message anyway
  // (broker::Message::kInlineBody).
  static constexpr size_t kOwnBodyAbove = 256;
  // Bodies announced larger than this are not placed (the engine refuses
  // what is over its max_message_size; the reservation is address space
  // only, taken up as the body comes).
  static constexpr uint64_t kMaxPlaced = 512u << 20;
  // The rest of a placed frame whose head has come is always offered
  // straight into the body (plan_read().direct, the first part of the
  // read). For a body at least this large, the reads are also cut to the
  // frames: the ordinary buffer then gets only the next frame's head (and
  // end octet), so that every payload is read into place. Below it, a read
  // of up to the whole budget that copies a few bodies from the buffer
  // costs less than the system calls that would avoid it (64 KiB bodies,
  // this VM: 0.25 reads a message, against two).
  static constexpr size_t kSteerAbove = 256 * 1024;
  // After such a body, the next read into the buffer is at most this much:
  // enough for the next publish's method, content header and body frame
  // head, so that its body too is read straight into place.
  static constexpr size_t kAfterLarge = 512;

  // `frame_max`: the largest frame to cut (0: no limit), the server's: what
  // a connection negotiates is at most that, and the engine checks it.
  // `max_placed`: the largest body to place (the server's max message size).
  explicit FrameCutter(uint32_t frame_max, uint64_t max_placed = kMaxPlaced)
      : frame_max_(frame_max), max_placed_(std::min(max_placed, kMaxPlaced)) {}

  // Cuts `in` into `out` (cleared first). What `in` leaves incomplete is
  // kept for the next call.
  void cut(std::span<const uint8_t> in, FrameBatch& out) {
    out.clear();
    cut_more(in, out);
  }
  // The same, adding to what `out` has. `direct`: octets that came before
  // `in`, read into plan_read().direct (its first `direct` octets).
  void cut_more(std::span<const uint8_t> in, FrameBatch& out, size_t direct = 0);

  // Where the next octets of input are best read.
  struct ReadPlan {
    // The rest of the payload of a placed body frame, in the body's string:
    // read these straight there (and tell cut_more how many came).
    std::span<uint8_t> direct;
    // Then at most this many into the ordinary buffer before asking again:
    // the end octet and the next frame's head, when a body frame of the
    // body is likely to follow.
    size_t then = std::numeric_limits<size_t>::max();
  };
  ReadPlan plan_read();

 private:
  enum class Stage : uint8_t { ProtocolHeader, Frames, Failed };

  std::span<const uint8_t> take_protocol_header(std::span<const uint8_t> in, FrameBatch& out);
  std::span<const uint8_t> finish_held(std::span<const uint8_t> in, FrameBatch& out);
  std::span<const uint8_t> finish_placed(const FrameHead& head, std::span<const uint8_t> in, FrameBatch& out);
  void hold(std::span<const uint8_t> rest, FrameBatch& out);
  void start_held(const FrameHead& head);
  bool placing(const FrameHead& head) const;
  void place(Frame& f);
  void start_placing(uint16_t channel, uint64_t body_size);
  void done_placing();
  void add(Frame f, FrameBatch& out);
  void fail(const FrameHead& at, std::string why, FrameBatch& out);

  uint32_t frame_max_;
  uint64_t max_placed_;
  Stage stage_ = Stage::ProtocolHeader;
  // The incomplete protocol header or frame head; then, once the head is
  // whole, the payload and end octet so far (in payload_, or, for a placed
  // body frame, the payload in the body and the end octet in payload_).
  std::string head_;
  std::string payload_;
  // The body being placed: the channel its content header came on, the
  // string reserved for all of it, its announced size. Its size() is what
  // frames have taken so far, the held one included.
  uint16_t place_channel_ = 0;
  std::shared_ptr<std::string> place_;
  uint64_t place_total_ = 0;
  // The held frame is a body frame placed at place_'s octet held_at_, of
  // which held_got_ octets have come.
  bool held_placed_ = false;
  bool after_large_ = false;  // the last body was placed, and large
  size_t held_at_ = 0;
  size_t held_got_ = 0;
};

}  // namespace warren::amqp091
