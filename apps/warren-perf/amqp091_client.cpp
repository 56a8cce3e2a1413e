// warren-perf's AMQP 0-9-1 publisher, consumer and setup, over warren-client
// (src/client, docs/client.md).
#include <algorithm>
#include <charconv>
#include <cstring>
#include <utility>
#include <vector>

#include "client/polled.hpp"
#include "protocol.hpp"

namespace warren::perf {
namespace {


// -qa values: integers as signed longs ('l'), true/false as booleans, the rest as strings.
client::FieldTable queue_args(const std::vector<QueueArg>& args) {
  client::FieldTable t;
  for (const QueueArg& a : args) {
    int64_t n = 0;
    const char* end = a.value.data() + a.value.size();
    auto [p, ec] = std::from_chars(a.value.data(), end, n);
    if (!a.value.empty() && ec == std::errc() && p == end)
      t.add(a.key, n);
    else if (a.value == "true" || a.value == "false")
      t.add(a.key, a.value == "true");
    else
      t.add(a.key, std::string(a.value));
  }
  return t;
}

// The connection: warren-client's single-threaded driver, so a producer or
// consumer stays one thread, as warren-perf's own client was. No recovery:
// a lost connection ends the run (exit status 2), as in PerfTest.
std::unique_ptr<client::PolledConnection> connect(const Options& o) {
  client::ConnectionOptions co;
  try {
    co = client::options_from_uri(o.uri);
  } catch (const client::ClientError& e) {
    throw ClientError(e.what());
  }
  co.session.recover = false;
  co.session.heartbeat_s = 0;  // runs are short; a busy load generator should not owe the broker frames
  co.session.product = "warren-perf";
  co.connect_timeout = std::chrono::seconds(120);  // a loaded broker accepting a thousand connections is slow
  try {
    return client::PolledConnection::open(std::move(co));
  } catch (const client::ClientError& e) {
    throw ClientError(o.uri + ": " + e.what());
  }
}

// A call that must succeed; the library's error becomes warren-perf's.
template <class F>
auto must(F&& f) {
  try {
    return f();
  } catch (const client::ClientError& e) {
    throw ClientError(e.what());
  }
}

class Amqp091Publisher final : public Publisher {
 public:
  Amqp091Publisher(const Options& o, const Route& route)
      : conn_(connect(o)), route_(route), mandatory_(o.mandatory), confirms_(o.confirms()) {
    client::ChannelEvents ev;
    ev.closed = [this](const client::Error& e) { error_ = e.text; };
    ch_ = must([&] { return conn_->open_channel(std::move(ev)); });
    if (confirms_) must([&] { conn_->call([&](client::DoneCallback cb) { conn_->session().confirm_select(ch_, cb); }); return 0; });
    if (o.persistent) props_.delivery_mode = 2;
  }

  void publish(std::span<const uint8_t> body) override {
    check();
    client::PublishSpec p{.exchange = route_.exchange,
                          .routing_key = route_.routing_key,
                          .body = std::string_view(reinterpret_cast<const char*>(body.data()), body.size()),
                          .properties = &props_,
                          .mandatory = mandatory_};
    uint64_t tag = ++published_;
    must([&] {
      // Callbacks run inside poll(), on this thread, where sink_ is set.
      return conn_->session().publish(ch_, p, confirms_ ? client::ConfirmCallback([this, tag](client::Outcome o) {
        if (o == client::Outcome::Returned) sink_->on_return();
        sink_->on_confirm(tag, false, o != client::Outcome::Nacked);
      }) : client::ConfirmCallback());
    });
  }

  size_t buffered_bytes() const override { return conn_->unsent(); }

  void flush(ConfirmSink& sink) override {
    sink_ = &sink;
    conn_->flush();
    check();
  }

  void poll(std::chrono::milliseconds timeout, ConfirmSink& sink) override {
    sink_ = &sink;
    conn_->poll(timeout);
    check();
  }

  void close() override { conn_->close(); }

 private:
  void check() {
    if (!error_.empty()) throw ClientError("channel closed by the broker: " + error_);
    if (conn_->session().state() == client::Session::State::Closed) {
      auto why = conn_->session().closed_reason();
      throw ClientError("connection closed: " + (why ? why->text : std::string("?")));
    }
  }

  std::unique_ptr<client::PolledConnection> conn_;
  Route route_;
  bool mandatory_, confirms_;
  uint16_t ch_ = 0;
  client::BasicProperties props_;
  uint64_t published_ = 0;
  ConfirmSink* sink_ = nullptr;
  std::string error_;
};

class Amqp091Consumer final : public Consumer {
 public:
  Amqp091Consumer(const Options& o, const Source& source) : conn_(connect(o)), auto_ack_(o.auto_ack) {
    multi_ack_ = o.multi_ack_every;
    // Acking every N with fewer than N allowed unacked would stall: ack at the prefetch instead.
    if (o.prefetch > 0 && multi_ack_ > o.prefetch) multi_ack_ = o.prefetch;
    auto& s = conn_->session();
    client::ChannelEvents ev;
    ev.closed = [this](const client::Error& e) { error_ = e.text; };
    ch_ = must([&] { return conn_->open_channel(std::move(ev)); });
    must([&] {
      if (o.prefetch > 0) conn_->call([&](client::DoneCallback cb) { s.qos(ch_, o.prefetch, cb); });
      std::string queue = source.queue;
      if (queue.empty()) {
        client::QueueSpec q{.durable = o.persistent, .exclusive = true, .auto_delete = true, .arguments = queue_args(o.queue_args)};
        queue = conn_->call_result<client::QueueInfo>(
                         [&](client::ResultCallback<client::QueueInfo> cb) { s.queue_declare(ch_, q, false, cb); })
                    .name;
        if (!source.bind.exchange.empty())
          conn_->call([&](client::DoneCallback cb) {
            s.bind(ch_, {.destination = queue, .source = source.bind.exchange, .routing_key = source.bind.routing_key}, cb);
          });
      }
      client::ConsumerEvents ce;
      ce.delivery = [this](client::Delivery&& d) { on_delivery(std::move(d)); };
      conn_->call_result<std::string>([&](client::ResultCallback<std::string> cb) {
        s.consume(ch_, {.queue = queue, .no_ack = auto_ack_}, std::move(ce), cb);
      });
      return 0;
    });
  }

  void poll(std::chrono::milliseconds timeout, DeliverySink& sink) override {
    sink_ = &sink;
    for (client::Delivery& d : std::exchange(early_, {})) on_delivery(std::move(d));
    conn_->poll(timeout);
    if (!error_.empty()) throw ClientError("channel closed by the broker: " + error_);
    if (conn_->session().state() == client::Session::State::Closed) throw ClientError("connection closed");
  }

  // What was counted is acked first: closing requeues the rest, and a
  // message counted here and then redelivered to another consumer would be
  // a duplicate of our making.
  void close() override {
    if (!auto_ack_ && counted_ > acked_) {
      conn_->session().ack(ch_, epoch_, counted_, true);
      conn_->flush();
    }
    conn_->close();
  }

 private:
  void on_delivery(client::Delivery&& d) {
    if (!sink_) {  // a backlog's first deliveries come with consume-ok, before the first poll()
      early_.push_back(std::move(d));
      return;
    }
    const std::string& body = d.message.body;
    sink_->on_delivery({reinterpret_cast<const uint8_t*>(body.data()), std::min(body.size(), kMinBodySize)}, body.size());
    counted_ = d.delivery_tag;
    epoch_ = d.epoch;
    if (auto_ack_) return;
    if (multi_ack_ == 0) {
      conn_->session().ack(ch_, d.epoch, d.delivery_tag, false);
      acked_ = d.delivery_tag;
    } else if (++unacked_ >= multi_ack_) {
      conn_->session().ack(ch_, d.epoch, d.delivery_tag, true);
      unacked_ = 0;
      acked_ = d.delivery_tag;
    }
  }

  std::unique_ptr<client::PolledConnection> conn_;
  bool auto_ack_;
  uint16_t ch_ = 0;
  uint32_t multi_ack_ = 0;
  uint32_t unacked_ = 0;
  uint64_t epoch_ = 0;
  uint64_t counted_ = 0;  // of the last delivery counted
  uint64_t acked_ = 0;    // acked up to here
  DeliverySink* sink_ = nullptr;
  std::vector<client::Delivery> early_;  // delivered before the first poll(): counted by it
  std::string error_;
};

void setup(const Options& o, const std::vector<std::pair<std::string, Route>>& queue_binds) {
  auto conn = connect(o);
  auto& s = conn->session();
  must([&] {
    uint16_t ch = conn->open_channel();
    bool predefined = o.exchange.empty() || o.exchange.rfind("amq.", 0) == 0;
    if (!predefined)
      conn->call([&](client::DoneCallback cb) { s.exchange_declare(ch, {.name = o.exchange, .type = o.exchange_type}, false, cb); });
    for (const auto& [queue, route] : queue_binds) {
      client::QueueSpec q{.name = queue, .durable = o.persistent, .auto_delete = o.auto_delete, .arguments = queue_args(o.queue_args)};
      conn->call_result<client::QueueInfo>([&](client::ResultCallback<client::QueueInfo> cb) { s.queue_declare(ch, q, false, cb); });
      if (!route.exchange.empty())
        conn->call([&](client::DoneCallback cb) {
          s.bind(ch, {.destination = queue, .source = route.exchange, .routing_key = route.routing_key}, cb);
        });
    }
    return 0;
  });
  conn->close();
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
