// warren-perf's AMQP 1.0 publisher and consumer over the project's AMQP 1.0
// codec (src/amqp10): SASL PLAIN (or ANONYMOUS), one session, one link per
// connection: a sender to `<prefix><queue>` or a receiver from it with link
// credit = prefetch. Queues are declared beforehand over AMQP 0-9-1.
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "amqp10/frame.hpp"
#include "amqp10/message.hpp"
#include "payload.hpp"
#include "protocol.hpp"

namespace warren::perf {
namespace {

using namespace amqp10;

constexpr uint32_t kMaxFrame = 131072;
constexpr uint32_t kWindow = 0x7fffffff;
constexpr uint32_t kIdleTimeOutMs = 60'000;
constexpr size_t kTransferOverhead = 64;  // frame header and a transfer performative, generously
std::atomic<int> g_container_seq{0};
// WARREN_PERF_TRACE=1: every frame received, on stderr (for broker bug reports).
const bool g_trace = std::getenv("WARREN_PERF_TRACE") != nullptr;

void trace(const char* dir, const Frame& f) {
  std::string line = std::string(dir) + " " + std::string(performative_name(f.body));
  if (auto* fl = std::get_if<Flow>(&f.body)) {
    auto opt = [](const std::optional<uint32_t>& v) { return v ? std::to_string(*v) : std::string("-"); };
    line += " next-in " + opt(fl->next_incoming_id) + " in-window " + std::to_string(fl->incoming_window) +
            " next-out " + std::to_string(fl->next_outgoing_id) + " handle " + opt(fl->handle) + " delivery-count " +
            opt(fl->delivery_count) + " credit " + opt(fl->link_credit) + (fl->drain ? " drain" : "");
  } else if (auto* d = std::get_if<Disposition>(&f.body)) {
    line += " " + std::to_string(d->first) + ".." + std::to_string(d->last.value_or(d->first)) +
            (d->settled ? " settled" : "");
  } else if (auto* t = std::get_if<Transfer>(&f.body)) {
    line += " id " + (t->delivery_id ? std::to_string(*t->delivery_id) : std::string("-"));
  }
  const std::optional<Error>* error = nullptr;
  if (auto* e = std::get_if<End>(&f.body)) error = &e->error;
  if (auto* d = std::get_if<Detach>(&f.body)) error = &d->error;
  if (auto* c = std::get_if<Close>(&f.body)) error = &c->error;
  if (error && *error) line += " " + (*error)->condition + " " + (*error)->description.value_or("");
  std::fprintf(stderr, "amqp10 %s\n", line.c_str());
}

// One AMQP 1.0 connection with one session and one link (handle 0).
class Link {
 public:
  Link(const Options& o, bool receiver, const std::string& address) : in_(1 << 20) {
    Uri uri = parse_uri(o.uri);
    peer_ = uri.host + ":" + std::to_string(uri.port);
    connect_socket(uri);
    out_.append(kSaslHeader);
    flush();
    expect_header(kSaslHeader);
    auto mechs = wait_for<SaslMechanisms>();
    bool plain = std::find(mechs.sasl_server_mechanisms.begin(), mechs.sasl_server_mechanisms.end(), "PLAIN") !=
                 mechs.sasl_server_mechanisms.end();
    SaslInit init{.mechanism = plain ? "PLAIN" : "ANONYMOUS"};
    if (plain) init.initial_response = std::string(1, '\0') + uri.user + std::string(1, '\0') + uri.password;
    append_frame(out_, FrameType::Sasl, 0, init);
    flush();
    if (wait_for<SaslOutcome>().code != sasl_code::kOk) fail("SASL authentication failed");
    out_.append(kAmqpHeader);
    append_frame(out_, FrameType::Amqp, 0,
                 Open{.container_id = "warren-perf-" + std::to_string(g_container_seq++),
                      .max_frame_size = kMaxFrame,
                      .idle_time_out = kIdleTimeOutMs});
    append_frame(out_, FrameType::Amqp, 0, Begin{.incoming_window = kWindow, .outgoing_window = kWindow});
    Attach attach{.name = (receiver ? "warren-perf-receiver-" : "warren-perf-sender-") + address,
                  .handle = 0,
                  .role = receiver ? role::kReceiver : role::kSender};
    if (receiver) {
      attach.snd_settle_mode = o.auto_ack ? sender_settle_mode::kSettled : sender_settle_mode::kUnsettled;
      attach.source = amqp10::Source{.address = Value::string(address)}.to_value();
      attach.target = Target{}.to_value();
    } else {
      attach.snd_settle_mode = o.confirms() ? sender_settle_mode::kUnsettled : sender_settle_mode::kSettled;
      attach.source = amqp10::Source{}.to_value();
      attach.target = Target{.address = Value::string(address)}.to_value();
      attach.initial_delivery_count = 0;
    }
    append_frame(out_, FrameType::Amqp, 0, attach);
    flush();
    expect_header(kAmqpHeader);
    auto open = wait_for<Open>();
    max_frame_ = std::min(open.max_frame_size, kMaxFrame);
    // Empty frames at half the peer's idle time-out (2.4.5) keep it from closing us.
    if (open.idle_time_out && *open.idle_time_out > 0) heartbeat_ns_ = uint64_t(*open.idle_time_out) * 500'000u;
    auto begin = wait_for<Begin>();
    remote_window_ = begin.incoming_window;
    next_incoming_id_ = begin.next_outgoing_id;
    auto reply = wait_for<Attach>();
    // A refused link comes back with no terminus and is detached at once.
    if ((receiver && !reply.source) || (!receiver && !reply.target)) fail("link to '" + address + "' refused");
  }
  ~Link() {
    if (fd_ >= 0) ::close(fd_);
  }

  void close() {
    if (fd_ < 0) return;
    try {
      out_.clear();
      out_sent_ = 0;
      append_frame(out_, FrameType::Amqp, 0, Close{});
      flush();
      for (int i = 0; i < 10 && !closed_; ++i) {
        read_some(100);
        each_frame([](const Frame&) {});
      }
    } catch (const std::exception&) {
    }
    ::close(fd_);
    fd_ = -1;
  }

  // Waits up to timeout_ms for input, reads it and calls f(frame) for each frame.
  template <class F>
  void poll(int timeout_ms, F&& f) {
    heartbeat_if_due(f);
    // Frames that came with the handshake's replies are still in the buffer.
    if (begin_ != end_) each_frame(f);
    // A long wait (rate mode) must not outlast the next empty frame.
    if (heartbeat_ns_) {
      uint64_t since = now_ns() - last_write_ns_;
      int due_ms = since >= heartbeat_ns_ ? 0 : int((heartbeat_ns_ - since) / 1'000'000) + 1;
      if (timeout_ms < 0 || timeout_ms > due_ms) timeout_ms = due_ms;
    }
    if (read_some(timeout_ms) > 0) each_frame(f);
    heartbeat_if_due(f);
  }
  template <class F>
  void heartbeat_if_due(F&& f) {
    if (heartbeat_ns_ && out_.size() == out_sent_ && now_ns() - last_write_ns_ >= heartbeat_ns_) {
      append_frame(out_, FrameType::Amqp, 0, std::monostate{});
      flush(f);
    }
  }
  template <class F>
  void flush(F&& f) {
    while (out_sent_ < out_.size()) {
      ssize_t n = ::send(fd_, out_.data() + out_sent_, out_.size() - out_sent_, MSG_NOSIGNAL);
      if (n > 0) {
        out_sent_ += size_t(n);
        last_write_ns_ = now_ns();
        continue;
      }
      if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) fail(std::strerror(errno));
      pollfd p{.fd = fd_, .events = POLLIN | POLLOUT, .revents = 0};
      ::poll(&p, 1, 1000);
      if (p.revents & (POLLIN | POLLHUP | POLLERR)) poll(0, f);
    }
    out_.clear();
    out_sent_ = 0;
  }
  void flush() {
    flush([](const Frame&) {});
  }

  std::string& out() { return out_; }
  size_t pending_out() const { return out_.size() - out_sent_; }
  uint32_t max_frame() const { return max_frame_; }

  // Session bookkeeping (part 2.5.6).
  uint32_t next_outgoing_id_ = 0;
  int64_t remote_window_ = 0;
  uint32_t next_incoming_id_ = 0;

 private:
  [[noreturn]] void fail(const std::string& what) { throw ClientError(peer_ + ": " + what); }

  void connect_socket(const Uri& uri) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* res = nullptr;
    if (int rc = getaddrinfo(uri.host.c_str(), std::to_string(uri.port).c_str(), &hints, &res); rc != 0)
      fail(gai_strerror(rc));
    int err = 0;
    for (addrinfo* a = res; a; a = a->ai_next) {
      fd_ = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
      if (fd_ < 0) continue;
      if (connect(fd_, a->ai_addr, a->ai_addrlen) == 0) break;
      err = errno;
      ::close(fd_);
      fd_ = -1;
    }
    freeaddrinfo(res);
    if (fd_ < 0) fail(std::strerror(err));
    int one = 1;
    setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    fcntl(fd_, F_SETFL, fcntl(fd_, F_GETFL) | O_NONBLOCK);
  }

  size_t read_some(int timeout_ms) {
    if (begin_ == end_) begin_ = end_ = 0;
    if (end_ == in_.size()) {
      if (begin_ > 0) {
        std::memmove(in_.data(), in_.data() + begin_, end_ - begin_);
        end_ -= begin_;
        begin_ = 0;
      } else {
        in_.resize(in_.size() * 2);
      }
    }
    for (int attempt = 0; attempt < 2; ++attempt) {
      ssize_t n = ::recv(fd_, in_.data() + end_, in_.size() - end_, 0);
      if (n > 0) {
        end_ += size_t(n);
        return size_t(n);
      }
      if (n == 0) fail("the broker closed the connection");
      if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) fail(std::strerror(errno));
      if (attempt == 1 || timeout_ms == 0) return 0;
      pollfd p{.fd = fd_, .events = POLLIN, .revents = 0};
      if (::poll(&p, 1, timeout_ms) == 0) return 0;
    }
    return 0;
  }

  void expect_header(std::string_view header) {
    while (end_ - begin_ < header.size())
      if (read_some(30'000) == 0) fail("no protocol header from the broker");
    if (std::memcmp(in_.data() + begin_, header.data(), header.size()) != 0) fail("unexpected protocol header");
    begin_ += header.size();
  }

  template <class F>
  void each_frame(F&& f) {
    for (;;) {
      Frame frame;
      ParseResult r = parse_frame({in_.data() + begin_, end_ - begin_}, kMaxFrame, frame);
      if (r.status == ParseStatus::NeedMore) return;
      if (r.status == ParseStatus::Error) fail("bad frame from the broker: " + r.description);
      begin_ += r.consumed;
      if (g_trace) trace("<-", frame);
      if (auto* c = std::get_if<Close>(&frame.body)) {
        closed_ = true;
        if (c->error) fail("connection closed by the broker: " + c->error->condition + " " + c->error->description.value_or(""));
        return;
      }
      if (auto* d = std::get_if<Detach>(&frame.body); d && d->error)
        fail("link detached by the broker: " + d->error->condition + " " + d->error->description.value_or(""));
      if (auto* e = std::get_if<End>(&frame.body); e && e->error)
        fail("session ended by the broker: " + e->error->condition);
      f(frame);
    }
  }

  template <class T>
  T wait_for() {
    for (;;) {
      std::optional<T> got;
      // Frames before the one wanted (a sender's first flow) are kept for later.
      for (;;) {
        Frame frame;
        ParseResult r = parse_frame({in_.data() + begin_, end_ - begin_}, kMaxFrame, frame);
        if (r.status == ParseStatus::NeedMore) break;
        if (r.status == ParseStatus::Error) fail("bad frame from the broker: " + r.description);
        if (auto* c = std::get_if<Close>(&frame.body))
          fail("connection closed by the broker: " + (c->error ? c->error->condition + " " + c->error->description.value_or("") : ""));
        if (g_trace) trace("<-", frame);
        if (auto* t = std::get_if<T>(&frame.body)) {
          begin_ += r.consumed;
          return *t;
        }
        if (auto* e = std::get_if<End>(&frame.body))
          fail("session ended by the broker: " + (e->error ? e->error->condition + " " + e->error->description.value_or("") : ""));
        if (auto* fl = std::get_if<Flow>(&frame.body)) early_flows_.push_back(*fl);
        begin_ += r.consumed;
      }
      if (read_some(30'000) == 0) fail("no reply from the broker within 30 s");
    }
  }

 public:
  std::vector<Flow> early_flows_;  // flows that came during the handshake

 private:
  bool closed_ = false;
  int fd_ = -1;
  std::string peer_;
  std::vector<uint8_t> in_;
  size_t begin_ = 0, end_ = 0;
  std::string out_;
  size_t out_sent_ = 0;
  uint32_t max_frame_ = kMaxFrame;
  uint64_t heartbeat_ns_ = 0;  // 0: the peer has no idle time-out
  uint64_t last_write_ns_ = 0;
};

// A named queue is PREFIX + name; without one, a producer sends to the
// exchange with its routing key and a consumer gets a temporary queue bound
// with it (RabbitMQ 3.x's /exchange/NAME/KEY, which warrend knows too).
std::string queue_address(const Options& o, const std::string& queue, const Route& route) {
  if (!queue.empty()) return o.amqp10_address_prefix + queue;
  if (route.exchange.empty()) throw ClientError("--protocol amqp10 with -e \"\" needs -u or --queue-pattern");
  return "/exchange/" + route.exchange + "/" + route.routing_key;
}

class Amqp10Publisher final : public Publisher {
 public:
  Amqp10Publisher(const Options& o, const Route& route)
      : link_(o, false, queue_address(o, route.queue, route)), confirms_(o.confirms()) {
    for (const Flow& f : link_.early_flows_) on_flow(f);
    link_.early_flows_.clear();
  }

  void publish(std::span<const uint8_t> body) override {
    while (credit() <= 0) {
      if (link_.pending_out()) link_.flush([&](const Frame& f) { handle(f); });
      link_.poll(100, [&](const Frame& f) { handle(f); });
    }
    payload_.clear();
    Encoder e(payload_);
    encode_data_section(e, body);
    uint32_t id = delivery_count_;
    tag_.assign(reinterpret_cast<const char*>(&id), 4);
    // Without -c: pre-settled, nothing comes back. With -c: the accepted disposition is the confirm.
    Transfer t{.handle = 0, .delivery_id = id, .delivery_tag = tag_, .message_format = 0u, .settled = !confirms_};
    // Bodies bigger than a frame go in several transfers (more=true), each
    // one session window slot.
    std::span<const uint8_t> rest = as_bytes(payload_);
    const size_t chunk = link_.max_frame() - kTransferOverhead;
    while (rest.size() > chunk) {
      t.more = true;
      append_transfer(link_.out(), 0, t, rest.first(chunk));
      rest = rest.subspan(chunk);
      t = Transfer{.handle = 0};
      ++link_.next_outgoing_id_;
      --link_.remote_window_;
    }
    t.more = false;
    append_transfer(link_.out(), 0, t, rest);
    ++delivery_count_;
    ++link_.next_outgoing_id_;
    --link_.remote_window_;
  }
  size_t buffered_bytes() const override { return link_.pending_out(); }
  void flush(ConfirmSink& sink) override {
    link_.flush([&](const Frame& f) { handle(f); });
    report(sink);
  }
  void poll(std::chrono::milliseconds timeout, ConfirmSink& sink) override {
    link_.poll(int(timeout.count()), [&](const Frame& f) { handle(f); });
    report(sink);
  }
  void close() override { link_.close(); }

 private:
  // Serial-number arithmetic (RFC 1982): delivery counts wrap at 2^32.
  int64_t credit() const {
    return std::min<int64_t>(int32_t(link_credit_end_ - delivery_count_), link_.remote_window_);
  }
  void on_flow(const Flow& f) {
    // A flow before the peer saw our begin has no next-incoming-id: our initial 0 stands in.
    link_.remote_window_ = int64_t(f.next_incoming_id.value_or(0)) + f.incoming_window - link_.next_outgoing_id_;
    if (f.handle && f.link_credit) link_credit_end_ = f.delivery_count.value_or(0) + *f.link_credit;
  }
  void handle(const Frame& f) {
    if (auto* fl = std::get_if<Flow>(&f.body)) {
      on_flow(*fl);
    } else if (auto* d = std::get_if<Disposition>(&f.body); d && d->role == role::kReceiver) {
      bool ack = d->state && d->state->has_descriptor(Accepted::kCode, Accepted::kSymbol);
      settled_.push_back({d->first, d->last.value_or(d->first), ack});
    }
  }
  // Dispositions can come while publish() waits for credit, with no sink at
  // hand: they are kept until the next flush or poll.
  void report(ConfirmSink& sink) {
    for (const Settled& r : settled_)
      for (uint32_t id = r.first;; ++id) {
        sink.on_confirm(uint64_t(id) + 1, false, r.ack);  // driver tags start at 1
        if (id == r.last) break;
      }
    settled_.clear();
  }

  struct Settled {
    uint32_t first, last;
    bool ack;
  };
  Link link_;
  bool confirms_;
  uint32_t delivery_count_ = 0;
  uint32_t link_credit_end_ = 0;  // the delivery count up to which we may send
  std::string payload_;
  std::string tag_;
  std::vector<Settled> settled_;
};

class Amqp10Consumer final : public Consumer {
 public:
  Amqp10Consumer(const Options& o, const perf::Source& source)
      : link_(o, true, queue_address(o, source.queue, source.bind)), auto_ack_(o.auto_ack), credit_(o.prefetch ? o.prefetch : 1000) {
    multi_ack_ = o.multi_ack_every;
    if (multi_ack_ > credit_) multi_ack_ = credit_;
    send_flow();
    link_.flush();
  }

  void poll(std::chrono::milliseconds timeout, DeliverySink& sink) override {
    link_.poll(int(timeout.count()), [&](const Frame& f) { handle(f, sink); });
    if (!auto_ack_ && multi_ack_ == 0 && have_unacked_) ack_through(last_id_);
    if (link_.pending_out()) link_.flush([&](const Frame& f) { handle(f, sink); });
  }
  // What was counted is accepted first: closing releases the rest, and a
  // message counted here and then redelivered to another consumer would be
  // a duplicate of our making.
  void close() override {
    if (!auto_ack_ && have_unacked_) {
      ack_through(last_id_);
      try {
        link_.flush([](const Frame&) {});
      } catch (const std::exception&) {
      }
    }
    link_.close();
  }

 private:
  void send_flow() {
    append_frame(link_.out(), FrameType::Amqp, 0,
                 Flow{.next_incoming_id = link_.next_incoming_id_, .incoming_window = kWindow,
                      .next_outgoing_id = link_.next_outgoing_id_, .outgoing_window = kWindow, .handle = 0u,
                      .delivery_count = received_, .link_credit = credit_});
    credit_left_ = credit_;
  }
  void ack_through(uint32_t id) {
    append_frame(link_.out(), FrameType::Amqp, 0,
                 Disposition{.role = role::kReceiver, .first = first_unacked_, .last = id, .settled = true,
                             .state = Accepted{}.to_value()});
    have_unacked_ = false;
    unacked_ = 0;
  }
  void handle(const Frame& f, DeliverySink& sink) {
    auto* t = std::get_if<Transfer>(&f.body);
    if (!t) return;
    ++link_.next_incoming_id_;
    if (t->delivery_id) current_id_ = *t->delivery_id;
    std::span<const uint8_t> bytes = f.payload;
    if (t->more || !partial_.empty()) {
      partial_.append(as_chars(f.payload));
      if (t->more) return;
      bytes = as_bytes(partial_);
    }
    deliver(bytes, sink);
    partial_.clear();
    ++received_;
    if (--credit_left_ <= credit_ / 2) send_flow();
    if (auto_ack_) return;
    if (!have_unacked_) first_unacked_ = current_id_;
    have_unacked_ = true;
    last_id_ = current_id_;
    if (multi_ack_ > 0 && ++unacked_ >= multi_ack_) ack_through(current_id_);
  }
  // The first data section's bytes go to the sink.
  void deliver(std::span<const uint8_t> message, DeliverySink& sink) {
    Decoder d(message);
    while (!d.at_end() && d.ok()) {
      uint64_t code = 0;
      std::string_view symbol;
      if (!d.read_descriptor(code, symbol)) break;
      if (code == kDataCode) {
        std::string_view data;
        if (!d.read_binary(data)) break;
        sink.on_delivery(as_bytes(data).first(std::min(data.size(), kMinBodySize)), data.size());
        return;
      }
      d.skip_value();
    }
    sink.on_delivery({}, 0);  // no data section: counted as malformed
  }

  Link link_;
  bool auto_ack_;
  uint32_t credit_;
  uint32_t credit_left_ = 0;
  uint32_t multi_ack_ = 0;
  uint32_t unacked_ = 0;
  uint32_t received_ = 0;
  uint32_t current_id_ = 0, first_unacked_ = 0, last_id_ = 0;
  bool have_unacked_ = false;
  std::string partial_;
};

// Exchanges and named queues are declared over AMQP 0-9-1. RabbitMQ 3.x
// declares a /queue/ address's queue itself, not auto-delete, and refuses the
// link (precondition-failed) if ours differs: so no auto-delete then.
void setup_amqp10(const Options& o, const std::vector<std::pair<std::string, Route>>& queue_binds) {
  Options declared = o;
  if (o.amqp10_address_prefix == "/queue/") declared.auto_delete = false;
  amqp091_protocol().setup(declared, queue_binds);
}

}  // namespace

const ProtocolImpl& amqp10_protocol() {
  static const ProtocolImpl impl = {
      .setup = setup_amqp10,
      .make_publisher = [](const Options& o, const Route& r) -> std::unique_ptr<Publisher> {
        return std::make_unique<Amqp10Publisher>(o, r);
      },
      .make_consumer = [](const Options& o, const Source& s) -> std::unique_ptr<Consumer> {
        return std::make_unique<Amqp10Consumer>(o, s);
      },
  };
  return impl;
}

}  // namespace warren::perf
