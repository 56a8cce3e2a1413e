#pragma once
// The broker's side of a client Session, for unit tests: no socket, no
// clock. The test plays the broker by encoding frames with the codec and
// feeding them; what the session sends is taken and split back into frames.
// serve() answers every synchronous method with its -ok (a test overrides
// single answers with `intercept`); acks, deliveries and refusals are the
// test's to send.
#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "amqp091/frame.hpp"
#include "amqp091/generated/constants.hpp"
#include "amqp091/generated/methods.hpp"
#include "amqp091/properties.hpp"
#include "client/session.hpp"

namespace warren::client {
// Outcomes by name in GoogleTest's messages.
inline void PrintTo(Outcome o, std::ostream* os) { *os << outcome_name(o); }
}  // namespace warren::client

namespace warren::client::testing {

namespace a = warren::amqp091;
using namespace std::chrono_literals;

// One frame the session sent. `method` views into *payload, which the frame
// keeps alive (copies share it).
struct Sent {
  uint8_t type = 0;
  uint16_t channel = 0;
  std::shared_ptr<const std::string> payload;
  a::Method method;

  template <class M>
  const M* as() const {
    return std::get_if<M>(&method);
  }
  template <class M>
  bool is() const {
    return std::holds_alternative<M>(method);
  }
  std::string name() const {
    if (type == a::kFrameHeartbeat) return "heartbeat";
    if (type == a::kFrameHeader) return "header";
    if (type == a::kFrameBody) return "body";
    const a::MethodInfo* info = a::method_info(method);
    return info ? std::string(info->name) : "?";
  }
};

// "ch:name" of each method frame, for asserting what went out in order.
inline std::vector<std::string> method_names(const std::vector<Sent>& frames) {
  std::vector<std::string> out;
  for (const Sent& f : frames)
    if (f.type == a::kFrameMethod) out.push_back(std::to_string(f.channel) + ":" + f.name());
  return out;
}

// Each publish's outcomes, in the order reported: a test checks that each
// got exactly one.
// Every ConnectionEvents callback, recorded.
struct EventLog {
  std::vector<uint64_t> opened;
  std::vector<Error> lost, closed, recovery_errors;
  std::vector<std::pair<std::string, std::string>> renamed;
  std::vector<std::string> blocked;
  int unblocked = 0;
  ConnectionEvents events() {
    ConnectionEvents e;
    e.opened = [this](uint64_t ep) { opened.push_back(ep); };
    e.lost = [this](const Error& why) { lost.push_back(why); };
    e.closed = [this](const Error& why) { closed.push_back(why); };
    e.recovery_error = [this](const Error& why) { recovery_errors.push_back(why); };
    e.queue_renamed = [this](const std::string& from, const std::string& to) { renamed.emplace_back(from, to); };
    e.blocked = [this](const std::string& r) { blocked.push_back(r); };
    e.unblocked = [this] { ++unblocked; };
    return e;
  }
};

// "channel:method", as Sent lists are compared.
inline std::string on(uint16_t ch, std::string_view method) { return std::to_string(ch) + ":" + std::string(method); }

struct ConfirmLog {
  std::vector<std::vector<Outcome>> per;
  ConfirmCallback track() {
    size_t i = per.size();
    per.emplace_back();
    return [this, i](Outcome o) { per[i].push_back(o); };
  }
};

// An application channel on an open session, served to Open; in confirm mode if `confirm`.
class FakeBroker;
inline uint16_t open_served_channel(FakeBroker& b, bool confirm, ChannelEvents events = {});

class FakeBroker {
 public:
  explicit FakeBroker(Session& session) : s(session) {}

  Session& s;
  TimePoint now = TimePoint{} + std::chrono::hours(1);
  bool saw_protocol_header = false;
  std::vector<Sent> log;                 // every frame the session sent, in order
  std::map<uint16_t, uint64_t> published;  // basic.publish seen per channel since its channel.open
  // Asked first for each frame serve() sees: true when the test has answered it.
  std::function<bool(const Sent&)> intercept;
  int named_queues = 0, named_consumers = 0;

  void advance(std::chrono::milliseconds d) { now += d; }

  // The session's output as frames (also appended to `log`).
  std::vector<Sent> take() {
    std::string buf;
    std::vector<Sent> out;
    if (!s.take_output(buf, now)) return out;
    std::string_view rest(buf);
    if (rest.size() >= 8 && rest.substr(0, 4) == "AMQP") {
      EXPECT_EQ(rest.substr(0, 8), std::string_view(reinterpret_cast<const char*>(a::kProtocolHeader.data()), 8));
      saw_protocol_header = true;
      rest.remove_prefix(8);
    }
    a::FrameReader reader(a::as_bytes(rest), 0);
    a::Frame f;
    while (reader.next(f)) {
      Sent sent;
      sent.type = f.type;
      sent.channel = f.channel;
      sent.payload = std::make_shared<const std::string>(reinterpret_cast<const char*>(f.payload.data()),
                                                         f.payload.size());
      if (f.type == a::kFrameMethod) {
        auto st = a::decode_method(a::as_bytes(*sent.payload), sent.method);
        EXPECT_TRUE(st.ok()) << "the session sent a method that does not decode: " << st.text;
      }
      out.push_back(sent);
      log.push_back(sent);
    }
    EXPECT_FALSE(reader.failed());
    EXPECT_EQ(reader.consumed(), rest.size()) << "the session's output ends in a partial frame";
    return out;
  }

  void feed(std::string_view bytes) { s.feed(a::as_bytes(bytes), now); }

  template <class M>
  static std::string frame(uint16_t ch, const M& m) {
    std::string f;
    EXPECT_TRUE(a::append_method_frame(f, ch, m));
    return f;
  }
  // A content method, its header and its body in frames of at most `chunk` octets.
  template <class M>
  static std::string content(uint16_t ch, const M& m, std::string_view body, const a::BasicProperties& props = {},
                             size_t chunk = 4088) {
    std::string f = frame(ch, m);
    size_t head = a::begin_frame(f, a::kFrameHeader, ch);
    EXPECT_TRUE(a::encode_content_header(f, body.size(), props));
    a::end_frame(f, head);
    for (size_t at = 0; at < body.size(); at += chunk)
      a::append_frame(f, a::kFrameBody, ch, a::as_bytes(body.substr(at, chunk)));
    return f;
  }
  template <class M>
  void send(uint16_t ch, const M& m) {
    feed(frame(ch, m));
  }

  // transport_up and the handshake up to open-ok. The frames the session
  // sent are in the returned vector (start-ok, tune-ok, open).
  std::vector<Sent> handshake(uint16_t heartbeat = 0, uint32_t frame_max = 131072) {
    saw_protocol_header = false;
    s.transport_up(now);
    std::vector<Sent> all = take();
    EXPECT_TRUE(saw_protocol_header);
    send(0, a::ConnectionStart{.mechanisms = "AMQPLAIN PLAIN"});
    for (auto& f : take()) all.push_back(f);
    send(0, a::ConnectionTune{.channel_max = 2047, .frame_max = frame_max, .heartbeat = heartbeat});
    for (auto& f : take()) all.push_back(f);
    send(0, a::ConnectionOpenOk{});
    return all;
  }
  // The handshake, then recovery served to the end.
  std::vector<Sent> connect(uint16_t heartbeat = 0, uint32_t frame_max = 131072) {
    std::vector<Sent> all = handshake(heartbeat, frame_max);
    for (auto& f : serve()) all.push_back(f);
    return all;
  }

  // Answers each synchronous method with its -ok until the session sends
  // nothing more; returns everything it sent meanwhile.
  std::vector<Sent> serve() {
    std::vector<Sent> all;
    for (int round = 0;; ++round) {
      if (round == 1000) {  // a session that never stops talking (recovery in a loop, say)
        ADD_FAILURE() << "the session still sends after 1000 rounds of answers";
        return all;
      }
      std::vector<Sent> batch = take();
      if (batch.empty()) return all;
      for (const Sent& f : batch) {
        all.push_back(f);
        if (intercept && intercept(f)) continue;
        answer(f);
      }
    }
  }

  // Ready callbacks, run as the driver would with its lock released.
  size_t run() {
    std::vector<ReadyItem> r;
    s.take_ready(r);
    size_t n = r.size();
    run_ready(r);
    return n;
  }

 private:
  void answer(const Sent& f) {
    uint16_t ch = f.channel;
    if (f.type != a::kFrameMethod) return;
    if (f.is<a::ChannelOpen>()) {
      published[ch] = 0;
      send(ch, a::ChannelOpenOk{});
    } else if (f.is<a::ChannelClose>()) {
      send(ch, a::ChannelCloseOk{});
    } else if (f.is<a::ConfirmSelect>()) {
      published[ch] = 0;
      send(ch, a::ConfirmSelectOk{});
    } else if (f.is<a::BasicQos>()) {
      send(ch, a::BasicQosOk{});
    } else if (f.is<a::ExchangeDeclare>()) {
      send(ch, a::ExchangeDeclareOk{});
    } else if (f.is<a::ExchangeDelete>()) {
      send(ch, a::ExchangeDeleteOk{});
    } else if (f.is<a::ExchangeBind>()) {
      send(ch, a::ExchangeBindOk{});
    } else if (auto* q = f.as<a::QueueDeclare>()) {
      std::string name = q->queue.empty() ? "amq.gen-" + std::to_string(++named_queues) : std::string(q->queue);
      send(ch, a::QueueDeclareOk{.queue = name});
    } else if (f.is<a::QueueBind>()) {
      send(ch, a::QueueBindOk{});
    } else if (f.is<a::QueueUnbind>()) {
      send(ch, a::QueueUnbindOk{});
    } else if (f.is<a::QueueDelete>()) {
      send(ch, a::QueueDeleteOk{});
    } else if (f.is<a::QueuePurge>()) {
      send(ch, a::QueuePurgeOk{});
    } else if (auto* c = f.as<a::BasicConsume>()) {
      std::string tag =
          c->consumer_tag.empty() ? "amq.ctag-" + std::to_string(++named_consumers) : std::string(c->consumer_tag);
      send(ch, a::BasicConsumeOk{.consumer_tag = tag});
    } else if (auto* cancel = f.as<a::BasicCancel>()) {
      send(ch, a::BasicCancelOk{.consumer_tag = cancel->consumer_tag});
    } else if (f.is<a::BasicPublish>()) {
      ++published[ch];
    } else if (f.is<a::TxSelect>()) {
      send(ch, a::TxSelectOk{});
    } else if (f.is<a::TxCommit>()) {
      send(ch, a::TxCommitOk{});
    } else if (f.is<a::ConnectionClose>()) {
      send(0, a::ConnectionCloseOk{});
    }
  }
};

inline uint16_t open_served_channel(FakeBroker& b, bool confirm, ChannelEvents events) {
  int opened = 0;
  uint16_t ch = b.s.open_channel(std::move(events), [&](const std::optional<Error>& e) {
    EXPECT_FALSE(e.has_value());
    ++opened;
  });
  b.serve();
  b.run();
  EXPECT_EQ(opened, 1);
  EXPECT_TRUE(b.s.channel_open(ch));
  if (confirm) {
    int selected = 0;
    b.s.confirm_select(ch, [&](const std::optional<Error>& e) {
      EXPECT_FALSE(e.has_value());
      ++selected;
    });
    b.serve();
    b.run();
    EXPECT_EQ(selected, 1);
  }
  return ch;
}

}  // namespace warren::client::testing
