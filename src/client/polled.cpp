#include "client/polled.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "client/transport.hpp"

namespace warren::client {

namespace {
// A read's deliveries are handed to their callbacks before the next read,
// so a chunk's worth (~1,000 small messages) is what the delivery pool
// recycles: no allocation per message in a steady stream.
constexpr size_t kPolledReadChunk = 64 * 1024;

}  // namespace

PolledConnection::PolledConnection(ConnectionOptions opts)
    : opts_(resolve_options(std::move(opts))), session_(opts_.session, opts_.events), rbuf_(kPolledReadChunk) {}

PolledConnection::~PolledConnection() {
  if (fd_ >= 0) ::close(fd_);
}

std::unique_ptr<PolledConnection> PolledConnection::open(ConnectionOptions opts) {
  std::unique_ptr<PolledConnection> c(new PolledConnection(std::move(opts)));
  auto timeout = c->opts_.connect_timeout + milliseconds(1000);
  bool open = c->poll_until([&] {
    auto s = c->session_.state();
    return s == Session::State::Open || s == Session::State::Closed;
  }, timeout);
  if (c->session_.state() != Session::State::Open) {
    auto why = c->session_.closed_reason();
    throw ClientError(why ? *why : Error{0, open ? "closed" : "the connection did not open in time"});
  }
  return c;
}

void PolledConnection::cut(Error why) {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  out_.clear();
  session_.transport_down(Clock::now(), std::move(why));
}

void PolledConnection::write_some() {
  if (fd_ < 0) return;
  out_.take(session_, Clock::now());
  if (!out_.write(fd_)) cut(os_error("send", errno));
}

void PolledConnection::read_some() {
  for (int i = 0; i < 32 && fd_ >= 0; ++i) {
    ssize_t n = ::recv(fd_, rbuf_.data(), rbuf_.size(), 0);
    if (n > 0) {
      session_.feed({rbuf_.data(), size_t(n)}, Clock::now());
      session_.take_ready(ready_);
      run_ready(ready_, &spent_);
      session_.recycle(spent_);
      if (size_t(n) < rbuf_.size()) return;
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    if (n < 0 && errno == EINTR) continue;
    cut(n == 0 ? Error{0, "the broker closed the connection"} : os_error("recv", errno));
  }
}

// One turn: what is pending goes out first, then input is awaited (or room
// to write more), read and fed, callbacks run, and what they produced (acks,
// publishes) goes out before the turn ends rather than at the next one.
void PolledConnection::poll(milliseconds timeout) {
  auto now = Clock::now();
  if (fd_ < 0 && session_.wants_transport(now)) {
    Error err;
    fd_ = dial_tcp(opts_.uri, opts_.connect_timeout, err);
    if (fd_ >= 0)
      session_.transport_up(Clock::now());
    else
      session_.connect_failed(Clock::now(), err);
  }
  write_some();
  auto wait = timeout;
  if (auto deadline = session_.next_deadline())
    wait = std::min(wait, std::max(milliseconds(0), std::chrono::ceil<milliseconds>(*deadline - now)));
  if (fd_ >= 0) {
    pollfd p{.fd = fd_, .events = short(POLLIN | (out_.empty() ? 0 : POLLOUT)), .revents = 0};
    if (::poll(&p, 1, int(wait.count())) > 0 && (p.revents & (POLLIN | POLLHUP | POLLERR))) read_some();
  } else if (wait.count() > 0 && session_.state() != Session::State::Closed) {
    ::poll(nullptr, 0, int(wait.count()));  // waiting to reconnect
  }
  // Timers after the input: an owner that did not poll for a while must not
  // take the broker's heartbeats, waiting in the socket, for silence.
  if (fd_ >= 0) {
    now = Clock::now();
    session_.tick(now);
    if (session_.wants_transport_closed()) {
      out_.take(session_, now);  // last words, if the socket takes them
      out_.write(fd_);
      cut(*session_.drop_reason());
    }
  }
  session_.take_ready(ready_);
  run_ready(ready_, &spent_);
  session_.recycle(spent_);
  write_some();
}

bool PolledConnection::poll_until(const std::function<bool()>& done, milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  while (!done()) {
    auto left = std::chrono::ceil<milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return done();
    if (session_.state() == Session::State::Closed) {
      poll(milliseconds(0));  // its last callbacks
      return done();
    }
    poll(std::min(left, milliseconds(100)));
  }
  return true;
}

void PolledConnection::flush() {
  auto deadline = Clock::now() + std::chrono::seconds(30);
  for (write_some(); unsent() > 0 && fd_ >= 0 && Clock::now() < deadline; write_some())
    poll(milliseconds(100));  // returns as soon as the socket has room (or input came)
}

uint16_t PolledConnection::open_channel(ChannelEvents events) {
  std::optional<std::optional<Error>> err;
  uint16_t id = session_.open_channel(std::move(events), [&](const std::optional<Error>& e) { err = e; });
  if (!poll_until([&] { return err.has_value(); }, std::chrono::seconds(30)))
    throw ClientError({0, "channel.open: no reply within 30 s"});
  if (*err) throw ClientError(**err);
  return id;
}

void PolledConnection::call(const std::function<void(DoneCallback)>& issue, milliseconds timeout) {
  std::optional<std::optional<Error>> err;
  issue([&](const std::optional<Error>& e) { err = e; });
  if (!poll_until([&] { return err.has_value(); }, timeout)) throw ClientError({0, "no reply within the timeout"});
  if (*err) throw ClientError(**err);
}

void PolledConnection::close() {
  if (session_.state() == Session::State::Closed) return;
  session_.close(nullptr);
  poll_until([&] { return session_.state() == Session::State::Closed; }, std::chrono::seconds(5));
  if (fd_ >= 0) cut({200, "closed"});
}

void PolledConnection::drop_transport() {
  if (fd_ >= 0) cut({0, "the transport was dropped by the application"});
}

}  // namespace warren::client
