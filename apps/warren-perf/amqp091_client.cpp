// warren-perf's AMQP 0-9-1 publisher, consumer and setup.
#include <algorithm>
#include <charconv>
#include <cstring>

#include "amqp091/properties.hpp"
#include "amqp091_connection.hpp"
#include "protocol.hpp"

namespace warren::perf {
namespace {

using namespace amqp091;

// -qa values: integers as signed longs ('l'), true/false as booleans, the rest as strings.
std::string encode_queue_args(const std::vector<QueueArg>& args) {
  std::string t;
  Writer w(t);
  for (const QueueArg& a : args) {
    w.shortstr(a.key);
    int64_t n = 0;
    const char* end = a.value.data() + a.value.size();
    auto [p, ec] = std::from_chars(a.value.data(), end, n);
    if (!a.value.empty() && ec == std::errc() && p == end) {
      w.octet('l');
      w.u64(uint64_t(n));
    } else if (a.value == "true" || a.value == "false") {
      w.octet('t');
      w.octet(a.value == "true");
    } else {
      w.octet('S');
      w.longstr(a.value);
    }
  }
  return t;
}

// Which method a frame carries, without decoding its arguments.
std::pair<uint16_t, uint16_t> method_ids(const Frame& f) {
  if (f.payload.size() < 4) return {0, 0};
  return {uint16_t(f.payload[0] << 8 | f.payload[1]), uint16_t(f.payload[2] << 8 | f.payload[3])};
}

// Follows a content method through its header and body frames, keeping the
// first kMinBodySize bytes of the body.
struct Content {
  bool active = false;
  bool header_seen = false;
  uint64_t size = 0, got = 0;
  uint8_t head[kMinBodySize];
  size_t head_len = 0;

  void start() { *this = Content{.active = true}; }
  // Feeds a header or body frame; true when the message is complete.
  bool feed(const Frame& f) {
    if (f.type == kFrameHeader) {
      ContentHeader h;
      if (!decode_content_header(f.payload, h).ok()) throw ClientError("undecodable content header from the broker");
      size = h.body_size;
      header_seen = true;
      return size == 0;
    }
    size_t take = std::min(f.payload.size(), kMinBodySize - head_len);
    std::memcpy(head + head_len, f.payload.data(), take);
    head_len += take;
    got += f.payload.size();
    return got >= size;
  }
};

class Amqp091Publisher final : public Publisher {
 public:
  Amqp091Publisher(const Options& o, const Route& route) : conn_(parse_uri(o.uri)), body_size_(o.body_size) {
    if (o.confirms()) conn_.call<ConfirmSelectOk>(ConfirmSelect{});
    // Every publish of this producer has the same method and header frames:
    // encode them once and copy them per message.
    append_method_frame(template_, 1,
                        BasicPublish{.exchange = route.exchange, .routing_key = route.routing_key, .mandatory = o.mandatory});
    BasicProperties props;
    if (o.persistent) props.delivery_mode = 2;
    size_t at = begin_frame(template_, kFrameHeader, 1);
    encode_content_header(template_, body_size_, props);
    end_frame(template_, at);
  }

  void publish(std::span<const uint8_t> body) override {
    std::string& out = conn_.out();
    out.append(template_);
    if (body.size() + kFrameOverhead <= conn_.frame_max()) {
      auto h = frame_header(kFrameBody, 1, uint32_t(body.size()));
      out.append(reinterpret_cast<const char*>(h.data()), h.size());
      out.append(reinterpret_cast<const char*>(body.data()), body.size());
      out.push_back(char(kFrameEnd));
    } else {
      append_body_frames(out, 1, body, conn_.frame_max());
    }
  }

  size_t buffered_bytes() const override { return conn_.pending_out(); }

  void flush(ConfirmSink& sink) override {
    conn_.flush([&](const Frame& f) { handle(f, sink); });
  }

  void poll(std::chrono::milliseconds timeout, ConfirmSink& sink) override {
    if (conn_.read_some(int(timeout.count())) > 0) conn_.each_frame([&](const Frame& f) { handle(f, sink); });
  }

  void close() override { conn_.close(); }

 private:
  void handle(const Frame& f, ConfirmSink& sink) {
    if (f.type == kFrameMethod) {
      auto [cls, method] = method_ids(f);
      if (cls == BasicAck::kClassId && method == BasicAck::kMethodId) {
        Reader r(f.payload.subspan(4));
        BasicAck ack;
        if (BasicAck::decode(r, ack).ok()) sink.on_confirm(ack.delivery_tag, ack.multiple, true);
      } else if (cls == BasicNack::kClassId && method == BasicNack::kMethodId) {
        Reader r(f.payload.subspan(4));
        BasicNack nack;
        if (BasicNack::decode(r, nack).ok()) sink.on_confirm(nack.delivery_tag, nack.multiple, false);
      } else if (cls == BasicReturn::kClassId && method == BasicReturn::kMethodId) {
        returned_.start();
      }
      // connection.blocked / unblocked: our writes simply stall meanwhile.
    } else if ((f.type == kFrameHeader || f.type == kFrameBody) && returned_.active) {
      if (returned_.feed(f)) {
        returned_.active = false;
        sink.on_return();
      }
    }
  }

  Amqp091Connection conn_;
  size_t body_size_;
  std::string template_;
  Content returned_;
};

class Amqp091Consumer final : public Consumer {
 public:
  Amqp091Consumer(const Options& o, const Source& source) : conn_(parse_uri(o.uri)), auto_ack_(o.auto_ack) {
    multi_ack_ = o.multi_ack_every;
    // Acking every N with fewer than N allowed unacked would stall: ack at the prefetch instead.
    if (o.prefetch > 0 && multi_ack_ > o.prefetch) multi_ack_ = o.prefetch;
    if (o.prefetch > 0) conn_.call<BasicQosOk>(BasicQos{.prefetch_count = o.prefetch});
    std::string queue = source.queue;
    if (queue.empty()) {
      std::string args = encode_queue_args(o.queue_args);
      auto ok = conn_.call<QueueDeclareOk>(QueueDeclare{.durable = o.persistent,
                                                        .exclusive = true,
                                                        .auto_delete = true,
                                                        .arguments = TableView(std::string_view(args))});
      queue = std::string(ok.queue);
      if (!source.bind.exchange.empty())
        conn_.call<QueueBindOk>(
            QueueBind{.queue = queue, .exchange = source.bind.exchange, .routing_key = source.bind.routing_key});
    }
    conn_.call<BasicConsumeOk>(BasicConsume{.queue = queue, .no_ack = auto_ack_});
  }

  void poll(std::chrono::milliseconds timeout, DeliverySink& sink) override {
    if (conn_.read_some(int(timeout.count())) == 0) return;
    conn_.each_frame([&](const Frame& f) { handle(f, sink); });
    if (!conn_.out().empty()) conn_.flush([&](const Frame& f) { handle(f, sink); });
  }

  // What was counted is acked first: closing requeues the rest, and a
  // message counted here and then redelivered to another consumer would be
  // a duplicate of our making.
  void close() override {
    if (!auto_ack_ && counted_ > acked_) {
      append_method_frame(conn_.out(), 1, BasicAck{.delivery_tag = counted_, .multiple = true});
      try {
        conn_.flush_blocking();
      } catch (const std::exception&) {
      }
    }
    conn_.close();
  }

 private:
  void handle(const Frame& f, DeliverySink& sink) {
    if (f.type == kFrameMethod) {
      auto [cls, method] = method_ids(f);
      if (cls == BasicDeliver::kClassId && method == BasicDeliver::kMethodId) {
        Reader r(f.payload.subspan(4));
        BasicDeliver d;
        if (!BasicDeliver::decode(r, d).ok()) throw ClientError("undecodable basic.deliver");
        tag_ = d.delivery_tag;
        content_.start();
      }
      return;
    }
    if ((f.type != kFrameHeader && f.type != kFrameBody) || !content_.active) return;
    if (!content_.feed(f)) return;
    content_.active = false;
    sink.on_delivery({content_.head, content_.head_len}, content_.size);
    counted_ = tag_;
    if (auto_ack_) return;
    if (multi_ack_ == 0) {
      append_method_frame(conn_.out(), 1, BasicAck{.delivery_tag = tag_});
      acked_ = tag_;
    } else if (++unacked_ >= multi_ack_) {
      append_method_frame(conn_.out(), 1, BasicAck{.delivery_tag = tag_, .multiple = true});
      unacked_ = 0;
      acked_ = tag_;
    }
  }

  Amqp091Connection conn_;
  bool auto_ack_;
  uint32_t multi_ack_ = 0;
  uint32_t unacked_ = 0;
  uint64_t tag_ = 0;      // of the delivery whose content is coming
  uint64_t counted_ = 0;  // of the last delivery counted
  uint64_t acked_ = 0;    // acked up to here
  Content content_;
};

void setup(const Options& o, const std::vector<std::pair<std::string, Route>>& queue_binds) {
  Amqp091Connection conn(parse_uri(o.uri));
  bool predefined = o.exchange.empty() || o.exchange.rfind("amq.", 0) == 0;
  if (!predefined) conn.call<ExchangeDeclareOk>(ExchangeDeclare{.exchange = o.exchange, .type = o.exchange_type});
  std::string args = encode_queue_args(o.queue_args);
  for (const auto& [queue, route] : queue_binds) {
    conn.call<QueueDeclareOk>(QueueDeclare{.queue = queue,
                                           .durable = o.persistent,
                                           .auto_delete = o.auto_delete,
                                           .arguments = TableView(std::string_view(args))});
    if (!route.exchange.empty())
      conn.call<QueueBindOk>(QueueBind{.queue = queue, .exchange = route.exchange, .routing_key = route.routing_key});
  }
  conn.close();
}

}  // namespace

const ProtocolImpl& amqp091_protocol() {
  static const ProtocolImpl impl = {
      .setup = setup,
      .make_publisher = [](const Options& o, const Route& r) -> std::unique_ptr<Publisher> {
        return std::make_unique<Amqp091Publisher>(o, r);
      },
      .make_consumer = [](const Options& o, const Source& s) -> std::unique_ptr<Consumer> {
        return std::make_unique<Amqp091Consumer>(o, s);
      },
  };
  return impl;
}

}  // namespace warren::perf
