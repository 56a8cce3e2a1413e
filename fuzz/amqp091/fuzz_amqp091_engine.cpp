// Fuzzes the AMQP 0-9-1 connection engine over a real broker core: the
// fuzzer speaks for client A; a scripted client B consumes from queue "q",
// which A may publish to, and acks, nacks, stalls and reconnects as the
// input says. Time moves on. Nothing may crash or leak; every frame either
// engine sends must be well formed and within frame_max; once an engine has
// closed its transport (or been told the transport is gone) it sends
// nothing more; and when both clients are gone, "q" holds no unacked
// delivery and no consumer (the lock-release property).
//
// Input: <mode> then records <ctl> <len> [<len bytes>, for ctl & 7 < 4]
//   mode & 3:        0: the stream starts raw; else A's handshake (header,
//                    start-ok, tune-ok, open) and channel.open 1 come first
//   mode >> 2 & 1:   frame_max 131072 or 4096 in A's tune-ok
//   mode >> 3 & 3:   A's heartbeat, seconds (0: none)
//   mode >> 5 & 1:   A's input is cut as warrend cuts it, by a FrameCutter
//                    of the driver's, and each read's frames are fed in
//                    steps (feed_frames with a budget) of 1 << (ctl & 3),
//                    B reading between them; else A's own feed()
//   ctl & 7:
//     0-3  the bytes are fed to A
//     4    time passes by len * 50 ms; both engines and the broker advance
//     5    B acks (len even) or nacks with requeue (len odd) all it holds
//     6    B's output is full (len even) or drains (len odd); len & 2: A's
//          memory alarm toggles
//     7    B's socket goes and B reconnects (len even), or A's socket goes
//
// FUZZ_ENGINE_TRACE=1 in the environment prints every frame sent.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <span>
#include <string>

#include "amqp091/connection.hpp"
#include "amqp091/frame.hpp"
#include "amqp091/frame_cutter.hpp"
#include "amqp091/generated/methods.hpp"
#include "amqp091/properties.hpp"
#include "broker/broker.hpp"
#include "broker/seeded_env.hpp"

using namespace warren;
using namespace warren::amqp091;
using namespace std::chrono_literals;

namespace {

[[noreturn]] void violated(const char* what) {
  std::fprintf(stderr, "invariant violated: %s\n", what);
  std::abort();
}

// Keeps nothing but the unparsed tail: checks each frame as it completes.
class CheckingTransport final : public Transport {
 public:
  CheckingTransport(char who, uint32_t frame_max) : who_(who), frame_max_(frame_max) {}

  bool closed = false;  // the engine asked to close
  bool gone = false;    // we told the engine the socket is gone
  size_t pending = 0;
  std::string unread;   // B reads its frames from here

  void send(std::string_view bytes) override {
    if (closed || gone) violated("output after the transport was closed");
    if (header_possible_ && tail_.empty() && bytes.size() == kProtocolHeader.size() &&
        std::equal(bytes.begin(), bytes.end(), kProtocolHeader.begin())) {
      header_possible_ = false;  // the answer to a wrong protocol header
      return;
    }
    header_possible_ = false;
    tail_.append(bytes);
    unread.append(bytes);
    check_frames();
  }
  void send_shared(std::shared_ptr<const std::string> bytes) override {
    if (!bytes) violated("null shared body");
    send(*bytes);
  }
  size_t pending_output() const override { return pending; }
  void want_drain() override {}
  void close() override {
    if (closed) violated("closed twice");
    closed = true;
  }
  void set_reading(bool) override {}
  void set_frame_max(uint32_t f) { frame_max_ = f; }

 private:
  void check_frames() {
    FrameReader reader(as_bytes(tail_), 0);
    Frame f;
    while (reader.next(f)) {
      if (f.payload.size() > max_payload(frame_max_)) violated("frame above frame_max");
      Method m;
      ContentHeader h;
      if (trace()) {
        std::string_view name = f.type == kFrameHeader ? "header" : f.type == kFrameBody ? "body" : "heartbeat";
        if (f.type == kFrameMethod && decode_method(f.payload, m).ok()) name = method_info(m)->name;
        std::fprintf(stderr, "%c <- %.*s ch %u (%zu octets)\n", who_, int(name.size()), name.data(), f.channel,
                     f.payload.size());
      }
      switch (f.type) {
        case kFrameMethod:
          if (!decode_method(f.payload, m).ok()) violated("sent an undecodable method");
          break;
        case kFrameHeader:
          if (!decode_content_header(f.payload, h).ok()) violated("sent an undecodable content header");
          break;
        case kFrameHeartbeat:
          if (f.channel != 0 || !f.payload.empty()) violated("bad heartbeat");
          break;
        default:
          break;
      }
    }
    if (reader.failed()) violated("sent a malformed frame");
    tail_.erase(0, reader.consumed());
  }

  static bool trace() {
    static const bool on = std::getenv("FUZZ_ENGINE_TRACE") != nullptr;
    return on;
  }

  char who_;
  uint32_t frame_max_;
  bool header_possible_ = true;
  std::string tail_;
};

template <class M>
void append(std::string& out, uint16_t channel, const M& m) {
  if (!append_method_frame(out, channel, m)) violated("harness: method does not encode");
}

std::string handshake(uint32_t frame_max, uint16_t heartbeat) {
  std::string out(as_chars(kProtocolHeader));
  ConnectionStartOk s;
  s.mechanism = "PLAIN";
  s.response = std::string_view("\0guest\0guest", 12);
  static const std::string props = [] {
    FieldTable caps;
    caps.add("consumer_cancel_notify", true);
    caps.add("connection.blocked", true);
    FieldTable t;
    t.add("capabilities", std::move(caps));
    std::string p;
    encode_table_entries(p, t);
    return p;
  }();
  s.client_properties = TableView(props);
  append(out, 0, s);
  ConnectionTuneOk t;
  t.channel_max = 2047;
  t.frame_max = frame_max;
  t.heartbeat = heartbeat;
  append(out, 0, t);
  append(out, 0, ConnectionOpen{});
  append(out, 1, ChannelOpen{});
  return out;
}

// Client B: declares "q" and consumes from it with prefetch 3; answers
// what it must (channel.close, connection.close) and remembers tags.
class ClientB {
 public:
  ClientB(broker::Broker& broker, const ServerOptions& opts, uint64_t id, TimePoint now)
      : t_('B', opts.frame_max), conn_(std::make_unique<Connection>(broker, id, opts, t_, auth::Peer{"", true}, now)) {
    std::string out = handshake(opts.frame_max, 0);
    setup(out);
    feed(out, now);
  }

  Connection& conn() { return *conn_; }
  CheckingTransport& transport() { return t_; }

  void feed(const std::string& bytes, TimePoint now) {
    if (t_.gone) return;
    conn_->feed(as_bytes(bytes), now);
    read(now);
  }
  // What B does with what it was sent: track deliveries, answer closes.
  void read(TimePoint now) {
    FrameReader reader(as_bytes(t_.unread), 0);
    Frame f;
    std::string reply;
    while (reader.next(f)) {
      Method m;
      if (f.type != kFrameMethod || !decode_method(f.payload, m).ok()) continue;
      if (auto* d = std::get_if<BasicDeliver>(&m)) last_tag_ = d->delivery_tag;
      if (std::get_if<ChannelClose>(&m)) {  // B's channel ended: open it again, a few times
        append(reply, f.channel, ChannelCloseOk{});
        if (reopens_++ < 3) {
          append(reply, 1, ChannelOpen{});
          setup(reply);
        }
      }
      if (std::get_if<ConnectionClose>(&m)) append(reply, 0, ConnectionCloseOk{});
    }
    t_.unread.erase(0, reader.consumed());
    if (!reply.empty()) feed(reply, now);
  }
  void settle(bool ack, TimePoint now) {
    if (last_tag_ <= settled_) return;
    std::string out;
    if (ack) {
      BasicAck a;
      a.delivery_tag = last_tag_;
      a.multiple = true;
      append(out, 1, a);
    } else {
      BasicNack n;
      n.delivery_tag = last_tag_;
      n.multiple = true;
      n.requeue = true;
      append(out, 1, n);
    }
    settled_ = last_tag_;
    feed(out, now);
  }
  void gone(TimePoint now) {
    if (t_.gone) return;
    t_.gone = true;
    conn_->transport_closed(now);
  }

 private:
  void setup(std::string& out) {
    last_tag_ = settled_ = 0;  // tags start again on a new channel
    QueueDeclare d;
    d.queue = "q";
    append(out, 1, d);
    BasicQos qos;
    qos.prefetch_count = 3;
    append(out, 1, qos);
    BasicConsume c;
    c.queue = "q";
    c.consumer_tag = "b";
    append(out, 1, c);
  }

  CheckingTransport t_;
  std::unique_ptr<Connection> conn_;
  uint64_t last_tag_ = 0;
  uint64_t settled_ = 0;
  int reopens_ = 0;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const uint8_t mode = data[0];
  std::span<const uint8_t> in(data + 1, size - 1);

  TimePoint now = TimePoint{} + std::chrono::hours(1);
  ServerOptions opts;
  opts.max_message_size = 64 * 1024;
  opts.max_output = 8192;
  broker::SeededEnv env;  // deterministic: an input replays alike
  broker::Broker broker(env, now);

  const uint32_t a_frame_max = (mode >> 2 & 1) ? kFrameMinSize : opts.frame_max;
  auto b = std::make_unique<ClientB>(broker, opts, 2, now);
  uint64_t next_b_id = 3;
  CheckingTransport at('A', opts.frame_max);
  {
    Connection a(broker, 1, opts, at, auth::Peer{"", true}, now);
    FrameCutter cutter(opts.frame_max);
    FrameBatch batch;
    auto feed_a = [&](std::span<const uint8_t> bytes, size_t step) {
      if (!(mode >> 5 & 1)) return a.feed(bytes, now);
      cutter.cut(bytes, batch);
      for (size_t from = a.feed_frames(batch, now, 0, step); from < batch.frames.size();
           from = a.feed_frames(batch, now, from, step))
        b->read(now);
    };
    bool memory_alarm = false;
    if (mode & 3) {
      std::string hs = handshake(a_frame_max, mode >> 3 & 3);
      feed_a(as_bytes(hs), SIZE_MAX);
      if (!a.finished()) at.set_frame_max(a_frame_max);
    }
    auto a_step = [&] {
      if (a.finished() && !at.closed && !at.gone) violated("finished without closing the transport");
      if (a.finished() && a.next_deadline()) violated("a finished engine has a deadline");
    };
    while (in.size() >= 2) {
      uint8_t ctl = in[0];
      size_t len = in[1];  // the argument of ctl 4-7
      std::span<const uint8_t> bytes;
      if ((ctl & 7) < 4) {
        len = std::min<size_t>(len, in.size() - 2);
        bytes = in.subspan(2, len);
      }
      in = in.subspan(2 + bytes.size());
      switch (ctl & 7) {
        case 0:
        case 1:
        case 2:
        case 3:
          if (!at.gone) feed_a(bytes, size_t(1) << (ctl & 3));
          break;
        case 4:
          now += len * 50ms;
          if (!at.gone) a.advance(now);
          b->conn().advance(now);
          broker.advance(now);
          break;
        case 5:
          b->settle(len % 2 == 0, now);
          break;
        case 6:
          if (len % 2 == 0) {
            b->transport().pending = opts.max_output + 1;
          } else {
            b->transport().pending = 0;
            b->conn().output_drained(now);
          }
          if (len & 2) {  // memory, disk or both: the block's reason differs
            memory_alarm = !memory_alarm;
            a.resource_alarm({.memory = memory_alarm && (len & 4) == 0, .disk = memory_alarm && (len & 8) == 0});
          }
          if (!at.gone) a.output_drained(now);
          break;
        case 7:
          if (len % 2 == 0) {
            b->gone(now);
            b = std::make_unique<ClientB>(broker, opts, next_b_id++, now);
          } else if (!at.gone) {
            at.gone = true;
            a.transport_closed(now);
          }
          break;
      }
      b->read(now);
      a_step();
    }
    // A goes as the I/O layer would end it: by destroying the engine.
  }
  b.reset();
  if (broker::QueuePtr q = broker.vhost("/")->find_queue("q")) {
    if (q->unacked_count() != 0) violated("unacked deliveries outlived every connection");
    if (q->consumer_count() != 0) violated("a consumer outlived every connection");
  }
  return 0;
}
