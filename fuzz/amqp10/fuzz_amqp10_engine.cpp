// Fuzzes the AMQP 1.0 connection engine over a real broker core: the
// fuzzer speaks for client A; a scripted client B consumes from queue "q"
// (which A may publish to) and accepts, releases and disconnects as the
// input says. Time moves on. Nothing may crash or leak; every frame either
// engine sends must parse and fit the peer's max-frame-size; once an engine
// has closed its transport (or been told it is gone) it sends nothing
// more; and when both clients are gone, "q" holds no unsettled delivery and
// no consumer (the lock-release property).
//
// Input: <mode> then records <ctl> <len> [<len bytes>, for ctl & 7 < 4]
//   mode & 1:      A's handshake first (header, open with max-frame-size
//                  512 or 64 KiB by mode & 2, begin, a sender to /queues/q
//                  on handle 0, a receiver from /queues/q on handle 1 with
//                  credit 5); else the stream starts raw
//   mode & 4:      A's SASL header and PLAIN first
//   ctl & 7:
//     0-3  the bytes are fed to A
//     4    time passes by len * 100 ms; engines and broker advance
//     5    B accepts (len even) or releases (len odd) all it holds
//     6    B's output is full (len even) or drains (len odd); len & 2: A's
//          memory alarm toggles
//     7    B's socket goes and B reconnects (len even), or A's socket goes
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <span>
#include <string>

#include "amqp10/connection.hpp"
#include "amqp10/frame.hpp"
#include "amqp10/message.hpp"
#include "broker/broker.hpp"
#include "broker/seeded_env.hpp"

using namespace warren;
using namespace warren::amqp10;
using namespace std::chrono_literals;

namespace {

[[noreturn]] void violated(const char* what) {
  std::fprintf(stderr, "invariant violated: %s\n", what);
  std::abort();
}

// Checks each frame as it completes; keeps the unread ones for B.
class CheckingTransport final : public engine::Transport {
 public:
  explicit CheckingTransport(uint32_t max_frame) : max_frame_(max_frame) {}
  bool closed = false;
  bool gone = false;
  size_t pending = 0;
  std::string unread;

  void send(std::string_view bytes) override {
    if (closed || gone) violated("output after the transport was closed");
    tail_.append(bytes);
    unread.append(bytes);
    check();
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

 private:
  void check() {
    for (;;) {
      std::string_view rest(tail_);
      if (rest.size() >= 8 && rest.starts_with("AMQP")) {
        tail_.erase(0, 8);
        continue;
      }
      Frame f;
      ParseResult r = parse_frame(as_bytes(rest), UINT32_MAX, f);
      if (r.status == ParseStatus::NeedMore) return;
      if (r.status == ParseStatus::Error) violated("sent a malformed frame");
      // Before the peer's open we send at most 512-byte frames; after, its max.
      if (r.consumed > max_frame_ && r.consumed > 512 && std::holds_alternative<Transfer>(f.body))
        violated("transfer frame above the peer's max-frame-size");
      tail_.erase(0, r.consumed);
    }
  }
  uint32_t max_frame_;
  std::string tail_;
};

std::string frame(uint16_t channel, const Performative& p, std::string_view payload = {}) {
  std::string out;
  append_frame(out, FrameType::Amqp, channel, p, as_bytes(payload));
  return out;
}

std::string open_and_begin(uint32_t max_frame) {
  std::string out(kAmqpHeader);
  Open o;
  o.container_id = "fuzz";
  o.max_frame_size = max_frame;
  out += frame(0, o);
  Begin b;
  b.incoming_window = 100;
  b.outgoing_window = 100;
  out += frame(0, b);
  return out;
}

std::string attach(uint32_t handle, bool receiver) {
  Attach a;
  a.name = receiver ? "r" : "s";
  a.handle = handle;
  a.role = receiver ? role::kReceiver : role::kSender;
  Source s;
  Target t;
  (receiver ? s.address : t.address) = Value::string("/queues/q");
  a.source = s.to_value();
  a.target = t.to_value();
  a.initial_delivery_count = 0;
  return frame(0, a);
}

std::string credit(uint32_t handle, uint32_t delivery_count, uint32_t n) {
  Flow f;
  f.next_incoming_id = 0;
  f.incoming_window = 1000000;
  f.outgoing_window = 100;
  f.handle = handle;
  f.delivery_count = delivery_count;
  f.link_credit = n;
  return frame(0, f);
}

// Client B: consumes from "q", settles on command, answers closes.
class ClientB {
 public:
  ClientB(broker::Broker& broker, const ServerOptions& opts, uint64_t id, TimePoint now)
      : t_(65536), conn_(std::make_unique<Connection>(broker, id, opts, t_, auth::Peer{"", true}, now)) {
    std::string out = open_and_begin(65536) + attach(0, true) + credit(0, 0, 5);
    feed(out, now);
  }
  Connection& conn() { return *conn_; }
  CheckingTransport& transport() { return t_; }

  void feed(const std::string& bytes, TimePoint now) {
    if (t_.gone || t_.closed) return;
    conn_->feed(as_bytes(bytes), now);
    read();
  }
  void read() {
    for (;;) {
      std::string_view rest(t_.unread);
      if (rest.size() >= 8 && rest.starts_with("AMQP")) {
        t_.unread.erase(0, 8);
        continue;
      }
      Frame f;
      ParseResult r = parse_frame(as_bytes(rest), UINT32_MAX, f);
      if (r.status != ParseStatus::Ok) break;
      if (auto* t = std::get_if<Transfer>(&f.body); t && t->delivery_id) {
        last_ = *t->delivery_id;
        ++received_;
      }
      t_.unread.erase(0, r.consumed);
    }
  }
  void settle(bool accept, TimePoint now) {
    if (received_ == settled_) return;
    Disposition d;
    d.role = role::kReceiver;
    d.first = last_ - uint32_t(received_ - settled_ - 1);
    d.last = last_;
    d.settled = true;
    d.state = accept ? Accepted{}.to_value() : Released{}.to_value();
    settled_ = received_;
    feed(frame(0, d) + credit(0, uint32_t(received_), 5), now);
  }
  void gone(TimePoint now) {
    if (t_.gone) return;
    t_.gone = true;
    conn_->transport_closed(now);
  }

 private:
  CheckingTransport t_;
  std::unique_ptr<Connection> conn_;
  uint32_t last_ = 0;
  uint64_t received_ = 0, settled_ = 0;
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
  opts.incoming_window = 16;
  opts.link_credit = 8;
  broker::SeededEnv env;  // deterministic: an input replays alike
  broker::Broker broker(env, now);
  {
    broker::QueueDeclare d;
    d.name = "q";
    broker::QueueDeclareOk ok;
    broker.vhost("/")->declare_queue(d, now, ok);
  }
  const uint32_t a_max = (mode & 2) ? 65536 : 512;
  auto b = std::make_unique<ClientB>(broker, opts, 2, now);
  uint64_t next_b = 3;
  CheckingTransport at(a_max);
  {
    Connection a(broker, 1, opts, at, auth::Peer{"", true}, now);
    bool alarm = false;
    std::string prefix;
    if (mode & 4) {
      prefix += std::string(kSaslHeader);
      SaslInit init;
      init.mechanism = "PLAIN";
      init.initial_response = std::string("\0guest\0guest", 12);
      append_frame(prefix, FrameType::Sasl, 0, init);
    }
    if (mode & 1) prefix += open_and_begin(a_max) + attach(0, false) + attach(1, true) + credit(1, 0, 5);
    if (!prefix.empty()) a.feed(as_bytes(prefix), now);
    while (in.size() >= 2) {
      const uint8_t ctl = in[0];
      size_t len = in[1];
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
          if (!at.gone) a.feed(bytes, now);
          break;
        case 4:
          now += len * 100ms;
          if (!at.gone) a.advance(now);
          b->conn().advance(now);
          broker.advance(now);
          b->read();
          break;
        case 5: b->settle(len % 2 == 0, now); break;
        case 6:
          b->transport().pending = len % 2 == 0 ? opts.max_output + 1 : 0;
          if (len % 2 == 1) b->conn().output_drained(now);
          if (len & 2) {  // memory, disk, both, neither: the same block for either
            alarm = !alarm;
            a.resource_alarm({.memory = alarm && (len & 4) == 0, .disk = alarm && (len & 8) == 0});
          }
          b->read();
          break;
        case 7:
          if (len % 2 == 0) {
            b->gone(now);
            b = std::make_unique<ClientB>(broker, opts, next_b++, now);
          } else if (!at.gone) {
            at.gone = true;
            a.transport_closed(now);
          }
          break;
      }
      if (a.finished() && !at.closed && !at.gone) violated("finished without closing the transport");
      if (a.finished() && a.next_deadline()) violated("a finished engine has a deadline");
      at.unread.clear();
    }
    if (!at.gone) {
      at.gone = true;
      a.transport_closed(now);
    }
  }
  b->gone(now);
  broker.advance(now);
  if (auto q = broker.vhost("/")->find_queue("q")) {
    if (q->unacked_count() != 0) violated("unsettled deliveries outlived their connections");
    if (q->consumer_count() != 0) violated("a consumer outlived its connection");
  }
  return 0;
}
