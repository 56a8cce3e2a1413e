#include "amqp091_connection.hpp"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "amqp091/wire.hpp"
#include "protocol.hpp"

namespace warren::perf {

using namespace amqp091;

namespace {

constexpr size_t kReadBuffer = 1 << 20;
constexpr uint32_t kWantFrameMax = 131072;  // RabbitMQ's default

// {product: "warren-perf", capabilities: {connection.blocked: true}}
std::string client_properties() {
  std::string t;
  Writer w(t);
  w.shortstr("product");
  w.octet('S');
  w.longstr("warren-perf");
  w.shortstr("capabilities");
  w.octet('F');
  size_t at = w.begin_length();
  w.shortstr("connection.blocked");
  w.octet('t');
  w.octet(1);
  w.end_length(at);
  return t;
}

}  // namespace

Amqp091Connection::Amqp091Connection(const Uri& uri) : in_(kReadBuffer) {
  peer_ = uri.host + ":" + std::to_string(uri.port);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (int rc = getaddrinfo(uri.host.c_str(), std::to_string(uri.port).c_str(), &hints, &res); rc != 0)
    throw ClientError(peer_ + ": " + gai_strerror(rc));
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
  if (fd_ < 0) throw ClientError(peer_ + ": " + std::strerror(err));
  int one = 1;
  setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  fcntl(fd_, F_SETFL, fcntl(fd_, F_GETFL) | O_NONBLOCK);
  try {
    handshake(uri);
  } catch (...) {
    ::close(fd_);
    fd_ = -1;
    throw;
  }
}

Amqp091Connection::~Amqp091Connection() {
  if (fd_ >= 0) ::close(fd_);
}

void Amqp091Connection::handshake(const Uri& uri) {
  out_.append(reinterpret_cast<const char*>(kProtocolHeader.data()), kProtocolHeader.size());
  flush_blocking();
  wait_for(ConnectionStart::kClassId, ConnectionStart::kMethodId, [](Method&) {});
  std::string props = client_properties();
  std::string response = std::string(1, '\0') + uri.user + std::string(1, '\0') + uri.password;
  ConnectionStartOk start_ok;
  start_ok.client_properties = TableView(std::string_view(props));
  start_ok.response = response;
  send(start_ok, 0);
  ConnectionTune tune;
  wait_for(ConnectionTune::kClassId, ConnectionTune::kMethodId, [&](Method& m) { tune = std::get<ConnectionTune>(m); });
  frame_max_ = tune.frame_max == 0 ? kWantFrameMax : std::min(tune.frame_max, kWantFrameMax);
  // Heartbeats off: runs are short, and a busy load generator should not owe the broker frames.
  send(ConnectionTuneOk{.channel_max = 1, .frame_max = frame_max_, .heartbeat = 0}, 0);
  send(ConnectionOpen{.virtual_host = uri.vhost}, 0);
  wait_for(ConnectionOpenOk::kClassId, ConnectionOpenOk::kMethodId, [](Method&) {});
  send(ChannelOpen{}, 1);
  wait_for(ChannelOpenOk::kClassId, ChannelOpenOk::kMethodId, [](Method&) {});
}

void Amqp091Connection::close() {
  if (fd_ < 0) return;
  try {
    out_.clear();
    out_sent_ = 0;
    send(ConnectionClose{.reply_code = 200, .reply_text = "bye"}, 0);
    // Drain deliveries still in flight until close-ok, for at most ~1 s.
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(1);
    bool done = false;
    while (!done && std::chrono::steady_clock::now() < deadline) {
      read_some(100);
      FrameReader reader({in_.data() + in_begin_, in_end_ - in_begin_}, 0);
      Frame f;
      while (reader.next(f)) {
        Method m;
        if (f.type == kFrameMethod && decode_method(f.payload, m).ok() && std::holds_alternative<ConnectionCloseOk>(m))
          done = true;
      }
      in_begin_ += reader.consumed();
      if (reader.failed()) break;
    }
  } catch (const std::exception&) {
    // closing anyway
  }
  ::close(fd_);
  fd_ = -1;
}

size_t Amqp091Connection::read_some(int timeout_ms) {
  if (in_begin_ == in_end_) in_begin_ = in_end_ = 0;
  if (in_end_ == in_.size()) {
    if (in_begin_ > 0) {
      std::memmove(in_.data(), in_.data() + in_begin_, in_end_ - in_begin_);
      in_end_ -= in_begin_;
      in_begin_ = 0;
    } else {
      in_.resize(in_.size() * 2);  // one frame larger than the buffer
    }
  }
  for (int attempt = 0; attempt < 2; ++attempt) {
    ssize_t n = ::recv(fd_, in_.data() + in_end_, in_.size() - in_end_, 0);
    if (n > 0) {
      in_end_ += size_t(n);
      return size_t(n);
    }
    if (n == 0) throw_error("the broker closed the connection");
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) throw_error(std::strerror(errno));
    if (attempt == 1 || timeout_ms == 0) return 0;
    pollfd p{.fd = fd_, .events = POLLIN, .revents = 0};
    int rc = ::poll(&p, 1, timeout_ms);
    if (rc == 0) return 0;
    if (rc < 0 && errno != EINTR) throw_error(std::strerror(errno));
  }
  return 0;
}

bool Amqp091Connection::write_some() {
  ssize_t n = ::send(fd_, out_.data() + out_sent_, out_.size() - out_sent_, MSG_NOSIGNAL);
  if (n > 0) {
    out_sent_ += size_t(n);
    return true;
  }
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return false;
  throw_error(n == 0 ? "send returned 0" : std::strerror(errno));
}

int Amqp091Connection::wait_io() {
  pollfd p{.fd = fd_, .events = POLLIN | POLLOUT, .revents = 0};
  if (::poll(&p, 1, 1000) < 0 && errno != EINTR) throw_error(std::strerror(errno));
  return ((p.revents & (POLLIN | POLLHUP | POLLERR)) ? 1 : 0) | ((p.revents & POLLOUT) ? 2 : 0);
}

bool Amqp091Connection::closes(const Frame& f) {
  if (f.payload.size() < 4) return false;
  uint16_t cls = uint16_t(f.payload[0] << 8 | f.payload[1]);
  uint16_t method = uint16_t(f.payload[2] << 8 | f.payload[3]);
  return (cls == ConnectionClose::kClassId && method == ConnectionClose::kMethodId) ||
         (cls == ChannelClose::kClassId && method == ChannelClose::kMethodId);
}

void Amqp091Connection::throw_close(const Frame& f) {
  Method m;
  std::string why = "closed by the broker";
  if (decode_method(f.payload, m).ok()) {
    if (auto* c = std::get_if<ConnectionClose>(&m)) {
      why = "connection closed by the broker: " + std::to_string(c->reply_code) + " " + std::string(c->reply_text);
      try {
        out_.clear();
        out_sent_ = 0;
        send(ConnectionCloseOk{}, 0);
      } catch (const std::exception&) {
      }
    } else if (auto* ch = std::get_if<ChannelClose>(&m)) {
      why = "channel closed by the broker: " + std::to_string(ch->reply_code) + " " + std::string(ch->reply_text);
    }
  }
  throw_error(why);
}

void Amqp091Connection::throw_error(const std::string& what) { throw ClientError(peer_ + ": " + what); }

}  // namespace warren::perf
