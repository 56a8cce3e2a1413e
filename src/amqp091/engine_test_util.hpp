#pragma once
// Test helpers for the AMQP 0-9-1 connection engine: a Transport that keeps
// what the engine sends, a client Peer that encodes frames with the codec
// and feeds them in, and the engine's output split back into frames.
// Time is a fake clock shared by every peer of a test; nothing sleeps.
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "amqp091/connection.hpp"
#include "amqp091/frame.hpp"
#include "amqp091/generated/methods.hpp"
#include "amqp091/properties.hpp"
#include "broker/broker.hpp"
#include "broker/seeded_env.hpp"

namespace warren::amqp091::test {

using namespace std::chrono_literals;

inline TimePoint start_time() { return TimePoint{} + std::chrono::hours(1); }

class FakeTransport final : public Transport {
 public:
  std::string out;              // everything sent, in order
  bool closed = false;
  bool reading = true;
  int drain_requests = 0;
  size_t sends_after_close = 0;
  // pending_output(): `pending`, which grows with every send when
  // count_pending is set (an unread socket).
  size_t pending = 0;
  bool count_pending = false;

  void send(std::string_view bytes) override {
    if (closed) ++sends_after_close;
    out.append(bytes);
    if (count_pending) pending += bytes.size();
  }
  void send_shared(std::shared_ptr<const std::string> bytes) override { send(*bytes); }
  // Slices of shared bodies sent by reference: (offset, length) each.
  std::vector<std::pair<size_t, size_t>> slices;
  void send_slice(const std::shared_ptr<const std::string>& bytes, size_t offset, size_t length) override {
    slices.emplace_back(offset, length);
    send(std::string_view(*bytes).substr(offset, length));
  }
  size_t pending_output() const override { return pending; }
  void want_drain() override { ++drain_requests; }
  // A TLS client's verified certificate CN (SASL EXTERNAL).
  std::optional<std::string> cn;
  std::optional<std::string_view> peer_cert_cn() const override {
    return cn ? std::optional<std::string_view>(*cn) : std::nullopt;
  }
  void close() override { closed = true; }
  void set_reading(bool on) override { reading = on; }
};

// A method decoded from an OutFrame, keeping the frame's payload alive (its
// strings view it). Used like std::optional<M>.
template <class M>
class Held {
 public:
  Held() = default;
  Held(std::shared_ptr<const std::string> keep, const M& m) : keep_(std::move(keep)), m_(m) {}
  bool has_value() const { return m_.has_value(); }
  explicit operator bool() const { return has_value(); }
  const M* operator->() const { return &m_.value(); }
  const M& operator*() const { return m_.value(); }

 private:
  std::shared_ptr<const std::string> keep_;
  std::optional<M> m_;
};

// One frame the engine sent, sharing its payload.
struct OutFrame {
  uint8_t type = 0;
  uint16_t channel = 0;
  std::shared_ptr<const std::string> bytes = std::make_shared<const std::string>();

  const std::string& payload() const { return *bytes; }
  // The method this frame holds, if it is a method frame holding an M.
  template <class M>
  Held<M> as() const {
    if (type != kFrameMethod) return {};
    Method m;
    if (!decode_method(as_bytes(*bytes), m).ok()) return {};
    if (auto* p = std::get_if<M>(&m)) return Held<M>(bytes, *p);
    return {};
  }
  template <class M>
  bool is() const {
    return as<M>().has_value();
  }
  // "basic.deliver", "heartbeat", "header", "body"
  std::string name() const {
    switch (type) {
      case kFrameHeartbeat: return "heartbeat";
      case kFrameHeader: return "header";
      case kFrameBody: return "body";
      default: break;
    }
    Method m;
    if (!decode_method(as_bytes(*bytes), m).ok()) return "undecodable method";
    const MethodInfo* info = method_info(m);
    return info ? std::string(info->name) : "?";
  }
};

// Frame names, for failure messages: "connection.start, heartbeat".
inline std::string names(const std::vector<OutFrame>& frames) {
  std::string s;
  for (const OutFrame& f : frames) s += (s.empty() ? "" : ", ") + f.name() + "@" + std::to_string(f.channel);
  return s;
}

// A message as the engine sent it: deliver/get-ok/return, header, body.
struct Content {
  OutFrame method;
  OutFrame header;
  std::string body;
  size_t body_frames = 0;
};

// Groups content-carrying methods with their header and body frames.
// Other frames are skipped.
inline std::vector<Content> contents(const std::vector<OutFrame>& frames) {
  std::vector<Content> out;
  for (size_t i = 0; i < frames.size(); ++i) {
    const OutFrame& f = frames[i];
    if (!f.is<BasicDeliver>() && !f.is<BasicGetOk>() && !f.is<BasicReturn>()) continue;
    Content c;
    c.method = f;
    if (i + 1 >= frames.size() || frames[i + 1].type != kFrameHeader) {
      ADD_FAILURE() << f.name() << " without a content header";
      continue;
    }
    c.header = frames[++i];
    ContentHeader h;
    if (!decode_content_header(as_bytes(c.header.payload()), h).ok()) {
      ADD_FAILURE() << "undecodable content header";
      continue;
    }
    while (c.body.size() < h.body_size && i + 1 < frames.size() && frames[i + 1].type == kFrameBody) {
      c.body += frames[++i].payload();
      ++c.body_frames;
    }
    EXPECT_EQ(c.body.size(), h.body_size);
    out.push_back(std::move(c));
  }
  return out;
}

// Raw property bytes (flags + values) for a content header.
inline std::string property_bytes(const BasicProperties& p) {
  std::string out;
  EXPECT_TRUE(encode_properties(out, p));
  return out;
}

// A client: a Connection on the test's broker and clock, with a fake
// transport, and frame encoders.
class Peer {
 public:
  Peer(broker::Broker& broker, const ServerOptions& opts, uint64_t id, TimePoint& clock, bool loopback = true)
      : clock_(clock), conn_(std::make_unique<Connection>(broker, id, opts, t, auth::Peer{"", loopback}, clock)) {}

  FakeTransport t;

  Connection& conn() { return *conn_; }
  // Destroys the engine (as its owner would, without telling it first).
  void destroy() { conn_.reset(); }

  void feed(std::string_view bytes) { conn_->feed(as_bytes(bytes), clock_); }
  void advance() { conn_->advance(clock_); }

  template <class M>
  static std::string frame(uint16_t channel, const M& m) {
    std::string out;
    EXPECT_TRUE(append_method_frame(out, channel, m));
    return out;
  }
  static std::string header_frame(uint16_t channel, uint64_t body_size,
                                  std::string_view props = std::string_view("\0\0", 2)) {
    PropertiesView view;
    EXPECT_TRUE(PropertiesView::parse(as_bytes(props), view).ok());
    std::string out;
    size_t at = begin_frame(out, kFrameHeader, channel);
    encode_content_header(out, ContentHeader{kClassBasic, 0, body_size, view});
    end_frame(out, at);
    return out;
  }
  static std::string body_frame(uint16_t channel, std::string_view body) {
    std::string out;
    append_frame(out, kFrameBody, channel, as_bytes(body));
    return out;
  }
  // basic.publish, its header and one body frame (none for an empty body).
  static std::string publish_frames(uint16_t channel, std::string_view exchange, std::string_view routing_key,
                                    std::string_view body, std::string_view props = std::string_view("\0\0", 2),
                                    bool mandatory = false) {
    BasicPublish p;
    p.exchange = exchange;
    p.routing_key = routing_key;
    p.mandatory = mandatory;
    std::string out = frame(channel, p) + header_frame(channel, body.size(), props);
    if (!body.empty()) out += body_frame(channel, body);
    return out;
  }

  template <class M>
  void send(uint16_t channel, const M& m) {
    feed(frame(channel, m));
  }
  void publish(uint16_t channel, std::string_view exchange, std::string_view routing_key, std::string_view body) {
    feed(publish_frames(channel, exchange, routing_key, body));
  }

  // The frames sent since the last take().
  std::vector<OutFrame> take() {
    std::span<const uint8_t> rest = as_bytes(std::string_view(t.out).substr(read_));
    FrameReader reader(rest, 0);
    Frame f;
    std::vector<OutFrame> frames;
    while (reader.next(f)) frames.push_back(OutFrame{f.type, f.channel, std::make_shared<const std::string>(as_chars(f.payload))});
    EXPECT_FALSE(reader.failed()) << "the engine sent a malformed frame: " << reader.error().text;
    EXPECT_EQ(reader.consumed(), rest.size()) << "the engine sent part of a frame";
    read_ += reader.consumed();
    return frames;
  }
  // The one frame sent since the last take().
  OutFrame take_one() {
    std::vector<OutFrame> f = take();
    EXPECT_EQ(f.size(), 1u) << names(f);
    return f.empty() ? OutFrame{} : f.back();
  }

  // start-ok (PLAIN guest/guest), tune-ok, open "/": up to open-ok.
  void handshake(uint16_t heartbeat = 0, uint32_t frame_max = 131072, uint16_t channel_max = 2047) {
    feed(std::string_view("AMQP\0\0\x09\x01", 8));
    ASSERT_TRUE(take_one().is<ConnectionStart>());
    send(0, start_ok("PLAIN", std::string_view("\0guest\0guest", 12)));
    ASSERT_TRUE(take_one().is<ConnectionTune>());
    ConnectionTuneOk tune;
    tune.channel_max = channel_max;
    tune.frame_max = frame_max;
    tune.heartbeat = heartbeat;
    send(0, tune);
    send(0, ConnectionOpen{});
    ASSERT_TRUE(take_one().is<ConnectionOpenOk>());
  }
  // With the consumer_cancel_notify and connection.blocked capabilities.
  static ConnectionStartOk start_ok(std::string_view mechanism, std::string_view response) {
    static const std::string props = [] {
      FieldTable caps;
      caps.add("consumer_cancel_notify", true);
      caps.add("connection.blocked", true);
      FieldTable t;
      t.add("product", std::string("engine test"));
      t.add("capabilities", std::move(caps));
      std::string out;
      encode_table_entries(out, t);
      return out;
    }();
    ConnectionStartOk m;
    m.client_properties = TableView(props);
    m.mechanism = mechanism;
    m.response = response;
    return m;
  }
  void open_channel(uint16_t channel) {
    send(channel, ChannelOpen{});
    ASSERT_TRUE(take_one().is<ChannelOpenOk>());
  }
  // A queue on the default exchange, as queue.declare(name).
  void declare_queue(uint16_t channel, std::string_view name, std::string_view arguments = {}) {
    QueueDeclare d;
    d.queue = name;
    d.arguments = TableView(arguments);
    send(channel, d);
    auto ok = take_one().as<QueueDeclareOk>();
    ASSERT_TRUE(ok.has_value());
  }
  void consume(uint16_t channel, std::string_view queue, std::string_view tag, uint16_t prefetch = 0,
               bool no_ack = false) {
    if (prefetch) {
      BasicQos q;
      q.prefetch_count = prefetch;
      send(channel, q);
      ASSERT_TRUE(take_one().is<BasicQosOk>());
    }
    BasicConsume c;
    c.queue = queue;
    c.consumer_tag = tag;
    c.no_ack = no_ack;
    send(channel, c);
    auto f = take();
    ASSERT_FALSE(f.empty());
    ASSERT_TRUE(f.front().is<BasicConsumeOk>()) << names(f);
  }

 private:
  TimePoint& clock_;
  std::unique_ptr<Connection> conn_;
  size_t read_ = 0;
};

// A connection.close or channel.close, owning its text.
struct CloseInfo {
  uint16_t reply_code = 0;
  std::string reply_text;
  uint16_t class_id = 0;
  uint16_t method_id = 0;
};

// The frame must be a connection.close with `code`.
inline CloseInfo expect_connection_close(const OutFrame& f, ReplyCode code) {
  auto c = f.as<ConnectionClose>();
  EXPECT_TRUE(c.has_value()) << "expected connection.close, got " << f.name();
  if (!c) return {};
  EXPECT_EQ(f.channel, 0);
  EXPECT_EQ(c->reply_code, uint16_t(code)) << c->reply_text;
  return {c->reply_code, std::string(c->reply_text), c->class_id, c->method_id};
}
inline CloseInfo expect_channel_close(const OutFrame& f, uint16_t channel, ReplyCode code) {
  auto c = f.as<ChannelClose>();
  EXPECT_TRUE(c.has_value()) << "expected channel.close, got " << f.name();
  if (!c) return {};
  EXPECT_EQ(f.channel, channel);
  EXPECT_EQ(c->reply_code, uint16_t(code)) << c->reply_text;
  return {c->reply_code, std::string(c->reply_text), c->class_id, c->method_id};
}

// A test's broker and clock, shared by its peers.
class EngineTest : public ::testing::Test {
 protected:
  TimePoint now = start_time();
  broker::SeededEnv env;
  broker::Broker broker{env, now};
  ServerOptions opts;

  std::unique_ptr<Peer> peer(uint64_t id, bool loopback = true) {
    return std::make_unique<Peer>(broker, opts, id, now, loopback);
  }
  // A peer past the handshake with channel 1 open.
  std::unique_ptr<Peer> open_peer(uint64_t id, uint16_t heartbeat = 0, uint32_t frame_max = 131072) {
    auto p = peer(id);
    p->handshake(heartbeat, frame_max);
    p->open_channel(1);
    return p;
  }
  broker::QueuePtr queue(std::string_view name) { return broker.vhost("/")->find_queue(name); }
};

}  // namespace warren::amqp091::test
