#pragma once
// Test helpers for the AMQP 1.0 connection engine: a Transport that keeps
// what the engine sends, a client Peer that encodes frames with the codec
// and feeds them in, and the engine's output parsed back into frames.
// Time is a fake clock; nothing sleeps.
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "amqp10/connection.hpp"
#include "amqp10/frame.hpp"
#include "amqp10/message.hpp"
#include "broker/broker.hpp"
#include "broker/seeded_env.hpp"

namespace warren::amqp10::test {

using namespace std::chrono_literals;

inline TimePoint start_time() { return TimePoint{} + std::chrono::hours(1); }

class FakeTransport final : public engine::Transport {
 public:
  std::string out;
  bool closed = false;
  bool reading = true;
  size_t pending = 0;
  int drain_requests = 0;
  size_t sends_after_close = 0;
  size_t shared_sends = 0;
  // A TLS client's verified certificate CN (SASL EXTERNAL).
  std::optional<std::string> cn;
  std::optional<std::string_view> peer_cert_cn() const override {
    return cn ? std::optional<std::string_view>(*cn) : std::nullopt;
  }

  void send(std::string_view bytes) override {
    if (closed) ++sends_after_close;
    out.append(bytes);
  }
  void send_shared(std::shared_ptr<const std::string> bytes) override {
    ++shared_sends;
    send(*bytes);
  }
  void send_slice(const std::shared_ptr<const std::string>& bytes, size_t offset, size_t length) override {
    ++shared_sends;
    send(std::string_view(*bytes).substr(offset, length));
  }
  size_t pending_output() const override { return pending; }
  void want_drain() override { ++drain_requests; }
  void close() override { closed = true; }
  void set_reading(bool on) override { reading = on; }
};

// One thing the engine sent: a protocol header or a frame.
struct Got {
  std::string header;  // 8 bytes, for a protocol header
  FrameType type = FrameType::Amqp;
  uint16_t channel = 0;
  Performative body;
  std::string payload;
  size_t size = 0;  // the frame's size on the wire
  template <class T>
  const T* as() const {
    return std::get_if<T>(&body);
  }
  std::string name() const { return header.empty() ? std::string(performative_name(body)) : "header"; }
};

inline std::string names(const std::vector<Got>& v) {
  std::string s;
  for (const Got& g : v) s += (s.empty() ? "" : ", ") + g.name();
  return s;
}

// A message as 1.0 sections: properties (optional), a body of one data section.
inline std::string message_bytes(std::string_view body, std::optional<Properties> props = std::nullopt,
                                 std::optional<Header> header = std::nullopt,
                                 std::optional<Value> app_props = std::nullopt) {
  std::string out;
  Encoder e(out);
  if (header) encode_header(e, *header);
  if (props) encode_properties(e, *props);
  if (app_props) encode_application_properties(e, *app_props);
  encode_data_section(e, as_bytes(body));
  return out;
}

class Peer {
 public:
  Peer(broker::Broker& broker, const ServerOptions& opts, uint64_t id = 1, bool loopback = true)
      : broker_(broker), opts_(opts), id_(id) {
    conn = std::make_unique<Connection>(broker, id, opts, t, auth::Peer{"", loopback}, now);
  }

  FakeTransport t;
  TimePoint now = start_time();
  std::unique_ptr<Connection> conn;

  void feed(std::string_view bytes) { conn->feed(as_bytes(bytes), now); }
  void send(uint16_t channel, const Performative& p, std::string_view payload = {}) {
    std::string f;
    append_frame(f, FrameType::Amqp, channel, p, as_bytes(payload));
    feed(f);
  }
  void sasl(const Performative& p) {
    std::string f;
    append_frame(f, FrameType::Sasl, 0, p);
    feed(f);
  }
  void advance(std::chrono::milliseconds d) {
    now += d;
    conn->advance(now);
  }

  // What the engine sent since the last call.
  std::vector<Got> take() {
    std::vector<Got> v;
    while (pos_ < t.out.size()) {
      std::string_view rest(t.out.data() + pos_, t.out.size() - pos_);
      if (rest.starts_with("AMQP") && rest.size() >= 8) {
        Got g;
        g.header = std::string(rest.substr(0, 8));
        v.push_back(std::move(g));
        pos_ += 8;
        continue;
      }
      Frame f;
      ParseResult r = parse_frame(as_bytes(rest), UINT32_MAX, f);
      if (r.status != ParseStatus::Ok) {
        ADD_FAILURE() << "bad output frame: " << r.description;
        break;
      }
      Got g;
      g.type = f.type;
      g.channel = f.channel;
      g.body = f.body;
      g.payload = std::string(as_chars(f.payload));
      g.size = r.consumed;
      v.push_back(std::move(g));
      pos_ += r.consumed;
    }
    return v;
  }
  template <class T>
  std::vector<T> all(const std::vector<Got>& v) {
    std::vector<T> out;
    for (const Got& g : v)
      if (auto* p = g.as<T>()) out.push_back(*p);
    return out;
  }

  // Plain header, open, begin on channel 0.
  void open(uint32_t max_frame = 65536, std::optional<uint32_t> idle = std::nullopt) {
    feed(kAmqpHeader);
    Open o;
    o.container_id = "test";
    o.max_frame_size = max_frame;
    o.idle_time_out = idle;
    send(0, o);
    take();
  }
  void begin(uint16_t channel = 0, uint32_t incoming_window = 10000, uint32_t next_outgoing_id = 0) {
    Begin b;
    b.next_outgoing_id = next_outgoing_id;
    b.incoming_window = incoming_window;
    b.outgoing_window = 10000;
    send(channel, b);
    take();
  }
  void attach_sender(uint32_t handle, std::string_view address, uint8_t snd_mode = sender_settle_mode::kUnsettled,
                     uint8_t rcv_mode = receiver_settle_mode::kFirst) {
    Attach a;
    a.name = "snd" + std::to_string(handle);
    a.handle = handle;
    a.role = role::kSender;
    a.snd_settle_mode = snd_mode;
    a.rcv_settle_mode = rcv_mode;
    Source s;
    a.source = s.to_value();
    Target tg;
    if (!address.empty()) tg.address = Value::string(address);
    a.target = tg.to_value();
    a.initial_delivery_count = 0;
    send(0, a);
  }
  void attach_receiver(uint32_t handle, std::string_view address, uint8_t snd_mode = sender_settle_mode::kUnsettled,
                       uint8_t rcv_mode = receiver_settle_mode::kFirst, bool dynamic = false) {
    Attach a;
    a.name = "rcv" + std::to_string(handle);
    a.handle = handle;
    a.role = role::kReceiver;
    a.snd_settle_mode = snd_mode;
    a.rcv_settle_mode = rcv_mode;
    Source s;
    if (!address.empty()) s.address = Value::string(address);
    s.dynamic = dynamic;
    a.source = s.to_value();
    a.target = Target{}.to_value();
    send(0, a);
  }
  void flow(uint32_t handle, uint32_t delivery_count, uint32_t credit, bool drain = false, bool echo = false,
            uint32_t incoming_window = 10000, std::optional<uint32_t> next_incoming_id = 0) {
    Flow f;
    f.next_incoming_id = next_incoming_id;
    f.incoming_window = incoming_window;
    f.next_outgoing_id = next_outgoing_id_;
    f.outgoing_window = 10000;
    f.handle = handle;
    f.delivery_count = delivery_count;
    f.link_credit = credit;
    f.drain = drain;
    f.echo = echo;
    send(0, f);
  }
  // One single-frame transfer on `handle`.
  void transfer(uint32_t handle, uint32_t delivery_id, std::string_view payload, bool settled = false,
                bool more = false) {
    Transfer tr;
    tr.handle = handle;
    tr.delivery_id = delivery_id;
    tr.delivery_tag = std::to_string(delivery_id);
    tr.message_format = 0;
    tr.settled = settled;
    tr.more = more;
    send(0, tr, payload);
    ++next_outgoing_id_;
  }
  void disposition(uint32_t first, std::optional<uint32_t> last, const Value& state, bool settled = true) {
    Disposition d;
    d.role = role::kReceiver;
    d.first = first;
    d.last = last;
    d.settled = settled;
    d.state = state;
    send(0, d);
  }

  uint32_t next_outgoing_id_ = 0;

 private:
  broker::Broker& broker_;
  const ServerOptions& opts_;
  uint64_t id_;
  size_t pos_ = 0;
};

// The body of a delivery's payload: its data section's bytes.
inline std::string data_of(std::string_view payload) {
  MessageSections m;
  std::string err;
  if (!split_message(as_bytes(payload), m, err)) return "<" + err + ">";
  Decoder d(m.body);
  uint64_t code;
  std::string_view sym, bytes;
  if (!d.read_descriptor(code, sym) || !d.read_binary(bytes)) return "<not a data section>";
  return std::string(bytes);
}

}  // namespace warren::amqp10::test
