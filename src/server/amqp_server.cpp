#include "server/amqp_server.hpp"

#include <arpa/inet.h>
#include <algorithm>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/statvfs.h>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <tuple>

#include "broker/memory.hpp"
#include "server/system_env.hpp"

namespace warren::server {

namespace {
// Who is at the other end, for logging in: its address (the login
// throttle counts failures per address) and whether it is a loopback one
// (guest may log in from those only).
auth::Peer peer_of(int fd) {
  auth::Peer p;
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return p;
  char host[INET6_ADDRSTRLEN] = "";
  if (ss.ss_family == AF_INET) {
    auto* in = reinterpret_cast<sockaddr_in*>(&ss);
    p.loopback = (ntohl(in->sin_addr.s_addr) >> 24) == 127;
    inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
  } else if (ss.ss_family == AF_INET6) {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&ss);
    p.loopback = IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr) ||
                 (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr) && in6->sin6_addr.s6_addr[12] == 127);
    inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
  }
  p.address = host;
  return p;
}

// "host:port" of either end of a socket, for the management API.
std::pair<std::string, uint16_t> address_of(int fd, bool peer) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  const int rc = peer ? getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len)
                      : getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
  if (rc != 0) return {};
  char host[INET6_ADDRSTRLEN] = "";
  if (ss.ss_family == AF_INET) {
    auto* in = reinterpret_cast<sockaddr_in*>(&ss);
    inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
    return {host, ntohs(in->sin_port)};
  }
  if (ss.ss_family == AF_INET6) {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&ss);
    inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
    return {host, ntohs(in6->sin6_port)};
  }
  return {};
}

// AMQP 1.0's TLS header (part 5, 5.2): the client asks for TLS on the
// plain port; we answer with the same header, then the handshake.
constexpr uint8_t kAmqp10TlsHeader[8] = {'A', 'M', 'Q', 'P', 2, 1, 0, 0};
}  // namespace

// A socket and its engine: the engine's Transport, the socket's Handler.
// The engine is picked by the connection's first bytes (sniff_protocol).
class AmqpServer::Conn final : public net::Socket::Handler, public engine::Transport {
 public:
  Conn(AmqpServer& server, uint64_t id, int fd, SocketReader* reader, bool tls)
      : server_(server), id_(id), who_(peer_of(fd)),
        sock_(net::Socket::adopt(server.loop_, fd, this)), offload_(reader), timer_(server.loop_, [this] {
          if (!engine_) {  // no protocol header within kHeaderTimeout
            if (const net::TlsSession* t = sock_->tls())
              spdlog::info("connection {} from {}: {} within {} s: closed", id_, who_.address,
                           t->handshake_done() ? "no protocol header after the TLS handshake"
                                               : "TLS handshake not finished",
                           kHeaderTimeout.count());
            sock_->close();
            return;
          }
          engine_->advance(server_.loop_.now());
          after();
        }) {
    // A peer that never sends its protocol header is dropped, as the engines
    // drop one that stalls in the handshake. Once there is an engine, the
    // timer is at its next deadline.
    timer_.arm(server_.loop_.now() + kHeaderTimeout);
    std::tie(summary_.peer_host, summary_.peer_port) = address_of(fd, true);
    std::tie(summary_.host, summary_.port) = address_of(fd, false);
    summary_.id = id;
    summary_.name = fmt::format("{}:{} -> {}:{}", summary_.peer_host, summary_.peer_port, summary_.host, summary_.port);
    summary_.connected_at = std::chrono::duration_cast<std::chrono::milliseconds>(
                                std::chrono::system_clock::now().time_since_epoch())
                                .count();
    if (tls) start_tls({});
  }
  ~Conn() override {
    timer_.cancel();
    for (ReadBatch& b : held_) reader_->done(std::move(b));
    if (reader_) reader_->remove(id_);
  }

  // A read from the reader thread, fed in steps of at most kFramesPerTurn
  // frames, one step per loop turn, as this loop reads a socket at most
  // once a turn: a publisher the reader serves fast must not keep the loop
  // from other connections' input (a consumer's acks). Kept while the
  // engine has reading paused, as the socket would keep it.
  void on_batch(ReadBatch b) {
    summary_.recv_oct += b.cut.octets;
    if (b.end && b.error != 0 && !reading_) {
      // A reset while paused ends the connection now, as a paused socket's
      // error does on the main loop: what it held goes back to its queues.
      for (ReadBatch& h : held_) reader_->done(std::move(h));
      held_.clear();
      const int error = b.error;
      reader_->done(std::move(b));
      sock_->input_ended(error);  // may destroy this
      return;
    }
    held_.push_back(std::move(b));
    if (!reading_) return;
    if (held_.size() == 1 && fed_turn_ != server_.loop_.turns())
      feed_step();  // may destroy this
    else
      feed_held_next_turn();
  }

  // net::Socket::Handler
  void on_data(net::Socket&, std::string_view bytes) override {
    summary_.recv_oct += bytes.size();
    auto in = std::span(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
    if (!engine_ && !choose_engine(in)) return;
    if (cutter_) {  // 0-9-1: cut here as the reader thread would, then the engine's one entry
      cutter_->cut(in, server_.cut_);
      amqp091_->feed_frames(server_.cut_, server_.loop_.now());
      server_.cut_.clear();  // keeps no body alive
    } else {
      engine_->feed(in, server_.loop_.now());
    }
    after();
    // A stall of this loop makes one big read; a stream makes big reads in a row.
    big_reads_ = bytes.size() >= kBigRead ? big_reads_ + 1 : 0;
    if (big_reads_ >= kBigReadsToMove && offload_ && cutter_ && !sock_->closed()) move_to_reader();
  }
  void on_close(net::Socket&, int error) override {
    if (const net::TlsSession* t = sock_->tls(); t != nullptr && t->failed())
      spdlog::warn("connection {} from {}: TLS {}: {}: closed", id_, who_.address,
                   t->handshake_done() ? "error" : "handshake failed", t->error());
    else if (t != nullptr && !t->handshake_done())
      spdlog::debug("connection {} from {}: closed during the TLS handshake", id_, who_.address);
    if (engine_) engine_->transport_closed(server_.loop_.now());
    server_.rearm_broker();
    server_.remove(id_);  // destroys this: nothing after
  }
  void on_drain(net::Socket&) override {
    if (!engine_) return;
    engine_->output_drained(server_.loop_.now());
    after();
  }

  // engine::Transport
  void send(std::string_view bytes) override {
    summary_.send_oct += bytes.size();
    sock_->send(bytes);
  }
  void send_shared(std::shared_ptr<const std::string> bytes) override {
    summary_.send_oct += bytes->size();
    sock_->send(std::move(bytes));
  }
  void send_slice(const std::shared_ptr<const std::string>& bytes, size_t offset, size_t length) override {
    summary_.send_oct += length;
    sock_->send(bytes, offset, length);
  }
  size_t pending_output() const override { return sock_->output_bytes(); }
  void want_drain() override { sock_->want_drain(); }
  void close() override { sock_->close(); }
  std::optional<std::string_view> peer_cert_cn() const override {
    const net::TlsSession* t = sock_->tls();
    if (t == nullptr || !t->peer_cn()) return std::nullopt;
    return std::string_view(*t->peer_cn());
  }
  void set_reading(bool on) override {
    on ? sock_->resume_reading() : sock_->pause_reading();
    if (on == reading_) return;
    reading_ = on;
    if (!reader_) return;
    reader_->set_paused(id_, !on);
    // Called from inside the engine: what was held is fed after this call.
    if (on && !held_.empty()) feed_held_next_turn();
  }

  void resource_alarm(engine::Alarms on) {
    alarms_ = on;
    if (engine_) engine_->resource_alarm(on);
  }
  const engine::ServerEngine* engine() const { return engine_.get(); }
  const ConnectionSummary& summary() const { return summary_; }
  bool tls() const { return sock_->tls() != nullptr; }
  void force_close(std::string_view text) {
    if (!engine_) return sock_->close();
    engine_->close_forced(text);
    after();
  }

 private:
  static constexpr std::chrono::seconds kHeaderTimeout{10};
  static constexpr size_t kBigRead = 64 * 1024;
  static constexpr unsigned kBigReadsToMove = 3;
  static constexpr size_t kFramesPerTurn = 1536;  // 512 publishes of 3 frames

  // TLS from now on; `already` is ciphertext that came after a plaintext
  // preamble. A TLS connection is never moved to a reader thread: the
  // reader reads the fd itself, and would need the session to decrypt,
  // while this thread encrypts with it; an SSL object is not for two
  // threads at once (and TLS 1.3 reads can write: key updates). TLS costs
  // more per byte than the hand-off saves, so it stays on this loop.
  void start_tls(std::span<const uint8_t> already) {
    offload_ = nullptr;
    sock_->start_tls(*server_.tls_,
                     std::string_view(reinterpret_cast<const char*>(already.data()), already.size()));
  }

  // Buffers the first bytes until they name a protocol; then creates that
  // engine and hands `in` everything received so far. False: not yet.
  bool choose_engine(std::span<const uint8_t>& in) {
    header_.insert(header_.end(), in.begin(), in.end());
    engine::Protocol p = engine::sniff_protocol(header_);
    if (p == engine::Protocol::Undecided) return false;
    if (p == engine::Protocol::Amqp10 && header_[4] == 2 && server_.tls_ && !sock_->tls()) {
      // AMQP 1.0's TLS header on the plain port, with TLS configured: the
      // same header back, in the clear, then a TLS handshake, then the
      // client's next header (SASL or AMQP), sniffed as on the AMQPS port.
      // Without TLS, the 1.0 engine answers it with a header it supports.
      if (header_.size() < sizeof kAmqp10TlsHeader) return false;
      if (std::equal(header_.begin(), header_.begin() + 8, kAmqp10TlsHeader)) {
        sock_->send(std::string_view(reinterpret_cast<const char*>(kAmqp10TlsHeader), sizeof kAmqp10TlsHeader));
        std::vector<uint8_t> rest(header_.begin() + 8, header_.end());
        header_.clear();
        start_tls(rest);
        spdlog::debug("connection {} from {}: AMQP 1.0 TLS header: TLS on the plain port", id_, who_.address);
        return false;
      }
    }
    const auto now = server_.loop_.now();
    if (const net::TlsSession* t = sock_->tls())
      spdlog::debug("connection {} from {}: {}, {}, client certificate {}", id_, who_.address, t->version(),
                    t->cipher(), t->peer_cn() ? "CN=" + *t->peer_cn() : std::string("none"));
    switch (p) {
      case engine::Protocol::Amqp10:
        engine_ = std::make_unique<amqp10::Connection>(server_.broker_, id_, server_.opts_.amqp10, *this, who_,
                                                       now);
        break;
      case engine::Protocol::Amqp091:
      case engine::Protocol::Undecided: {
        auto e = std::make_unique<amqp091::Connection>(server_.broker_, id_, server_.opts_.amqp091, *this,
                                                       who_, now);
        amqp091_ = e.get();
        engine_ = std::move(e);
        cutter_.emplace(server_.opts_.amqp091.frame_max, server_.opts_.amqp091.max_message_size);
        break;
      }
    }
    if (alarms_.any()) engine_->resource_alarm(alarms_);
    in = header_;
    return true;
  }
  // An AMQP 0-9-1 connection whose reads are big (kBigReadsToMove of
  // kBigRead in a row) streams faster than this loop serves it: from now
  // on a reader thread reads its socket and cuts its frames, with the
  // cutter that cut them here. The others stay here, where a message
  // costs no thread hand-off (docs/architecture.md#threads).
  void move_to_reader() {
    // The reader gets its own fd for the socket: either side may close its
    // fd at any time without pulling it from under the other.
    int dup = fcntl(sock_->fd(), F_DUPFD_CLOEXEC, 0);
    if (dup < 0) return;  // stays here
    reader_ = std::exchange(offload_, nullptr);
    sock_->set_external_reader();
    reader_->add(id_, dup, std::move(*cutter_), !reading_);
    cutter_.reset();
    spdlog::info("connection {}: a busy publisher: its socket is read on a reader thread from now on", id_);
  }

  // One step of the oldest held read. Returns false when it ended the
  // connection (this is gone).
  bool feed_step() {
    fed_turn_ = server_.loop_.turns();
    ReadBatch& b = held_.front();
    fed_frames_ = amqp091_->feed_frames(b.cut, server_.loop_.now(), fed_frames_, kFramesPerTurn);
    after();
    if (fed_frames_ < b.cut.frames.size()) {
      feed_held_next_turn();
      return true;
    }
    fed_frames_ = 0;
    const bool end = b.end;
    const int error = b.error;
    reader_->done(std::move(b));
    held_.erase(held_.begin());  // a few at most: SocketReader::kMaxInFlight
    if (end) {
      sock_->input_ended(error);  // may destroy this
      return false;
    }
    if (!held_.empty()) feed_held_next_turn();
    return true;
  }
  void feed_held_next_turn() {
    if (feed_posted_) return;
    feed_posted_ = true;
    server_.loop_.post([server = &server_, id = id_, alive = std::weak_ptr<int>(server_.alive_)] {
      if (!alive.lock()) return;
      if (auto it = server->conns_.find(id); it != server->conns_.end()) it->second->feed_held();
    });
  }
  void feed_held() {
    feed_posted_ = false;
    if (!reading_ || held_.empty()) return;
    if (fed_turn_ == server_.loop_.turns()) return feed_held_next_turn();
    feed_step();  // may destroy this
  }

  void after() {
    rearm();
    server_.rearm_broker();
  }
  void rearm() { timer_.arm(engine_->next_deadline()); }

  AmqpServer& server_;
  uint64_t id_;
  auth::Peer who_;  // the peer's address, for logging in
  ConnectionSummary summary_;  // for the management API: addresses, octets (its user, vhost, info: asked then)
  engine::Alarms alarms_;
  std::unique_ptr<net::Socket> sock_;
  std::vector<uint8_t> header_;  // the first bytes, until they name a protocol
  std::unique_ptr<engine::ServerEngine> engine_;
  // engine_, when it is AMQP 0-9-1: its input goes in as frames (feed_frames),
  // cut by cutter_ while this loop reads the socket, then by the reader.
  amqp091::Connection* amqp091_ = nullptr;
  std::optional<amqp091::FrameCutter> cutter_;
  SocketReader* offload_;                   // where to move when busy; null once moved (or never, or TLS)
  SocketReader* reader_ = nullptr;          // reads our socket, once moved
  // Read while reading was paused, or more than one this turn. A vector:
  // an empty deque costs every connection a 512 B block.
  std::vector<ReadBatch> held_;
  bool reading_ = true;
  bool feed_posted_ = false;   // feed_held() is posted for the next turn
  unsigned big_reads_ = 0;     // reads of kBigRead or more in a row
  uint64_t fed_turn_ = UINT64_MAX;  // the loop turn that last fed a read
  size_t fed_frames_ = 0;           // of held_.front(), fed so far
  net::DeadlineTimer timer_;  // the header timeout, then at engine_->next_deadline()
};

AmqpServer::AmqpServer(net::EventLoop& loop, broker::Broker& broker, AmqpServerOptions opts)
    : loop_(loop), broker_(broker), opts_(std::move(opts)), broker_timer_(loop, [this] {
        broker_.advance(loop_.now());
        rearm_broker();
      }) {
  opts_.amqp10.directory = opts_.amqp091.directory;
  for (unsigned i = 0; i < opts_.reader_threads; ++i)
    readers_.push_back(std::make_unique<SocketReader>(
        loop_, [this, i](std::vector<ReadBatch>& batches) { deliver(i, batches); }));
  listener_ = net::Listener::tcp(loop_, opts_.host, opts_.port, [this](int fd) { accept(fd, false); });
  if (opts_.tls) {
    tls_ = net::TlsContext::server(*opts_.tls);  // throws, naming the file or setting at fault
    tls_listener_ = net::Listener::tcp(loop_, opts_.tls_host, opts_.tls_port, [this](int fd) { accept(fd, true); });
  }
  if (opts_.memory_high_watermark == 0) opts_.memory_high_watermark = default_memory_high_watermark();
  check_resources();
}

bool AmqpServer::replace_tls(const net::TlsOptions& tls) {
  if (!tls_) return false;
  std::shared_ptr<net::TlsContext> fresh = net::TlsContext::server(tls);  // throws: the old one stays
  tls_ = std::move(fresh);
  opts_.tls = tls;
  return true;
}

void AmqpServer::set_resource_limits(uint64_t memory_high_watermark, uint64_t disk_free_limit) {
  opts_.memory_high_watermark = memory_high_watermark ? memory_high_watermark : default_memory_high_watermark();
  opts_.disk_free_limit = disk_free_limit;
}

// RabbitMQ's memory and disk alarms: above the memory watermark, or below
// the free disk limit, publishers are blocked. Checked ten times a
// second, not per message (statvfs costs a microsecond).
void AmqpServer::check_resources() {
  engine::Alarms now = alarms_;
  now.memory = broker::MemoryAccount::used() > int64_t(opts_.memory_high_watermark);
  struct statvfs fs {};
  if (!opts_.data_dir.empty() && statvfs(opts_.data_dir.c_str(), &fs) == 0) {
    const uint64_t free = uint64_t(fs.f_bavail) * fs.f_frsize;
    now.disk = free < opts_.disk_free_limit;
    if (now.disk != alarms_.disk) {
      if (now.disk)
        spdlog::warn("disk alarm: {} bytes free on the data directory's disk, below the limit of {}: blocking "
                     "publishers",
                     free, opts_.disk_free_limit);
      else
        spdlog::info("disk alarm cleared ({} bytes free): publishers may go on", free);
    }
  }
  if (now.memory != alarms_.memory) {
    if (now.memory)
      spdlog::warn("memory alarm: {} bytes of messages, above the high watermark of {}: blocking publishers",
                   broker::MemoryAccount::used(), opts_.memory_high_watermark);
    else
      spdlog::info("memory alarm cleared: publishers may go on");
  }
  if (now != alarms_) {
    alarms_ = now;
    for (auto& [_, c] : conns_) c->resource_alarm(now);
  }
  resource_timer_ = loop_.add_timer(loop_.now() + std::chrono::milliseconds(100), [this] { check_resources(); });
}

AmqpServer::~AmqpServer() {
  broker_timer_.cancel();
  if (resource_timer_) loop_.cancel_timer(resource_timer_);
  listener_.reset();
  tls_listener_.reset();
  conns_.clear();
  readers_.clear();
}

void AmqpServer::accept(int fd, bool tls) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  uint64_t id = next_id_++;
  SocketReader* reader = readers_.empty() ? nullptr : readers_[id % readers_.size()].get();
  auto& c = conns_.emplace(id, std::make_unique<Conn>(*this, id, fd, reader, tls)).first->second;
  if (alarms_.any()) c->resource_alarm(alarms_);
}

void AmqpServer::remove(uint64_t id) { conns_.erase(id); }

size_t AmqpServer::close_connections(const std::function<bool(const engine::ServerEngine&)>& which,
                                     std::string_view text) {
  std::vector<Conn*> chosen;
  for (auto& [_, c] : conns_)
    if (c->engine() && which(*c->engine())) chosen.push_back(c.get());
  for (Conn* c : chosen) c->force_close(text);  // the socket closes later: none is removed here
  return chosen.size();
}

void AmqpServer::describe_connections(std::vector<ConnectionSummary>& out) const {
  out.reserve(out.size() + conns_.size());
  for (const auto& [_, c] : conns_) {
    ConnectionSummary& s = out.emplace_back(c->summary());
    s.ssl = c->tls();
    if (const engine::ServerEngine* e = c->engine()) {
      s.user = e->user_name();
      s.vhost = e->vhost_name();
      e->describe(s.info);
    }
  }
}

bool AmqpServer::close_connection(std::string_view name, std::string_view text) {
  for (auto& [_, c] : conns_)
    if (c->summary().name == name) {
      c->force_close(text);
      return true;
    }
  return false;
}

// Reads from reader thread `reader`, in order per connection. A batch for a
// connection that has gone since only returns its buffer.
void AmqpServer::deliver(size_t reader, std::vector<ReadBatch>& batches) {
  for (ReadBatch& b : batches) {
    auto it = conns_.find(b.conn);
    if (it == conns_.end())
      readers_[reader]->done(std::move(b));
    else
      it->second->on_batch(std::move(b));  // may remove the connection
  }
}

// One loop timer at the broker's next deadline (message TTL, x-expires).
void AmqpServer::rearm_broker() { broker_timer_.arm(broker_.next_deadline()); }

}  // namespace warren::server
