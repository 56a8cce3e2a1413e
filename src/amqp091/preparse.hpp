#pragma once
// Cutting an open connection's input into frames ahead of its engine, on
// another thread (src/server/socket_reader.hpp): the frames, and each plain
// basic.publish sequence decoded as far as needs no connection state, so
// that the broker's thread only checks, routes and delivers.
//
// Sans-I/O like the engine: bytes in, a FrameBatch out. The engine's
// Connection::feed_batch(batch) does exactly what Connection::feed() of the
// same bytes would; a preparsed publish the connection's state does not
// allow (a closing channel, a transaction, a frame over the negotiated
// frame-max...) is handled frame by frame, the slow way, with the same
// errors. See docs/architecture.md#threads.
#include <cstdint>
#include <span>
#include <vector>

#include "amqp091/frame.hpp"
#include "amqp091/properties.hpp"
#include "broker/message.hpp"

namespace warren::amqp091 {

// basic.publish, its content header and its body in one frame (or none),
// back to back on one channel, with no property that needs the connection
// to check or rewrite it (user-id, reply-to, expiration) and immediate off.
struct PreparsedPublish {
  uint32_t frame = 0;       // its basic.publish frame's index in FrameBatch::frames
  uint32_t frame_count = 0;  // 2 (empty body) or 3
  uint16_t channel = 0;
  BasicPublish method;  // views into the batch
  ContentHeader header;
  broker::Message::Essentials essentials;
  std::span<const uint8_t> body;
  // A body too big to sit inside its message (Message::kInlineBody) is
  // copied into its own string here, on the reader's thread, rather than
  // by the broker's.
  broker::Body large_body;
};

// What one read of a connection's socket holds, cut. Views point into the
// bytes given to Preparser::cut.
struct FrameBatch {
  std::vector<Frame> frames;
  std::vector<PreparsedPublish> publishes;  // runs of `frames`, in order
  std::span<const uint8_t> raw_tail;  // feed() last: bytes not cut (see Preparser)
  // The header of the incomplete frame after `frames`, once it is in: the
  // engine checks its size against the negotiated frame-max at once, as
  // feed() does, rather than when the whole frame has come.
  std::span<const uint8_t> pending_header;

  bool empty() const { return frames.empty() && raw_tail.empty() && pending_header.empty(); }
  void clear() {
    frames.clear();
    publishes.clear();
    raw_tail = {};
    pending_header = {};
  }
};

// For a connection whose engine has read the protocol header and is open
// (the only ones that move to a reader thread): its input from there on.
class Preparser {
 public:
  // `frame_max`: the largest frame to cut (the connection's negotiated
  // frame-max; 0: no limit). The engine checks each frame against its own.
  explicit Preparser(uint32_t frame_max) : frame_max_(frame_max) {}

  // Cuts `in` into `out` (cleared first). Returns how many octets it used;
  // the rest, an incomplete frame, must start the next call's input.
  // After a framing error everything is passed on whole in raw_tail, from
  // then on: the engine's own reader gives such bytes their error.
  size_t cut(std::span<const uint8_t> in, FrameBatch& out);

 private:
  void find_publishes(FrameBatch& out) const;

  uint32_t frame_max_;
  bool failed_ = false;
};

}  // namespace warren::amqp091
