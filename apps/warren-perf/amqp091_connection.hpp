#pragma once
// A client-side AMQP 0-9-1 connection with one channel (1), over a
// non-blocking TCP socket driven by the thread that owns it. The project's
// codec (src/amqp091) encodes what we send and decodes what the broker sends.
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "amqp091/frame.hpp"
#include "options.hpp"

namespace warren::perf {

class Amqp091Connection {
 public:
  // Connects, logs in (PLAIN), tunes (no heartbeats) and opens channel 1.
  // Throws ClientError.
  explicit Amqp091Connection(const Uri& uri);
  ~Amqp091Connection();
  Amqp091Connection(const Amqp091Connection&) = delete;
  Amqp091Connection& operator=(const Amqp091Connection&) = delete;

  // Sends a synchronous method on channel 1 and waits for its reply. The
  // reply's strings view the input buffer: valid until the next read.
  template <class Reply, class M>
  Reply call(const M& m) {
    send(m);
    Reply reply;
    wait_for(Reply::kClassId, Reply::kMethodId, [&](amqp091::Method& got) { reply = std::get<Reply>(got); });
    return reply;
  }
  template <class M>
  void send(const M& m, uint16_t channel = 1) {
    amqp091::append_method_frame(out_, channel, m);
    flush_blocking();
  }

  // Sends connection.close and waits (briefly) for close-ok. Never throws.
  void close();

  uint32_t frame_max() const { return frame_max_; }
  std::string& out() { return out_; }
  size_t pending_out() const { return out_.size() - out_sent_; }

  // Waits up to `timeout` for input and reads what is there. -1 waits forever.
  // Returns the number of bytes read (0 on timeout). Throws on EOF.
  size_t read_some(int timeout_ms);
  // Calls f(frame) for each complete frame read so far. Method frames that
  // close the channel or connection throw ClientError (after replying).
  template <class F>
  void each_frame(F&& f) {
    amqp091::FrameReader reader({in_.data() + in_begin_, in_end_ - in_begin_}, 0);
    amqp091::Frame frame;
    while (reader.next(frame)) {
      if (frame.type == amqp091::kFrameMethod && closes(frame)) {
        in_begin_ += reader.consumed();
        throw_close(frame);
      }
      f(frame);
    }
    if (reader.failed()) throw_error("bad frame from the broker");
    in_begin_ += reader.consumed();
  }
  // Writes out(); while the socket is full, reads input and hands its frames
  // to f (which may append to out()).
  template <class F>
  void flush(F&& f) {
    while (out_sent_ < out_.size()) {
      if (!write_some()) {
        if (wait_io() & 1) {
          read_some(0);
          each_frame(f);
        }
      }
    }
    out_.clear();
    out_sent_ = 0;
  }
  void flush_blocking() {
    flush([](const amqp091::Frame&) {});
  }

 private:
  template <class F>
  void wait_for(uint16_t class_id, uint16_t method_id, F&& on_reply);
  bool closes(const amqp091::Frame& frame);
  [[noreturn]] void throw_close(const amqp091::Frame& frame);
  [[noreturn]] void throw_error(const std::string& what);
  bool write_some();  // false when the socket would block
  int wait_io();      // poll for input or output room: bit 0 readable, bit 1 writable
  void handshake(const Uri& uri);

  int fd_ = -1;
  std::vector<uint8_t> in_;
  size_t in_begin_ = 0, in_end_ = 0;
  std::string out_;
  size_t out_sent_ = 0;
  uint32_t frame_max_ = amqp091::kFrameMinSize;
  std::string peer_;  // host:port, for messages
};

template <class F>
void Amqp091Connection::wait_for(uint16_t class_id, uint16_t method_id, F&& on_reply) {
  for (;;) {
    bool found = false;
    amqp091::FrameReader reader({in_.data() + in_begin_, in_end_ - in_begin_}, 0);
    amqp091::Frame frame;
    while (!found && reader.next(frame)) {
      if (frame.type != amqp091::kFrameMethod) continue;  // a heartbeat, or content of an earlier delivery
      if (closes(frame)) {
        in_begin_ += reader.consumed();
        throw_close(frame);
      }
      amqp091::Method m;
      if (!amqp091::decode_method(frame.payload, m).ok()) throw_error("undecodable method from the broker");
      const amqp091::MethodInfo* info = amqp091::method_info(m);
      if (info->class_id == class_id && info->method_id == method_id) {
        on_reply(m);
        found = true;
      }
    }
    if (reader.failed()) throw_error("bad frame from the broker");
    in_begin_ += reader.consumed();
    if (found) return;
    // Generous: a loaded broker accepting a thousand connections at once is slow.
    if (read_some(120'000) == 0)
      throw_error(std::string("no ") + std::string(amqp091::method_name(class_id, method_id)) + " within 120 s");
  }
}

}  // namespace warren::perf
