#include "client/connection.hpp"

#include "client/output_queue.hpp"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <future>

#include "client/connection_core.hpp"
#include "client/transport.hpp"

namespace warren::client {

namespace {

// Each read's deliveries go to their callbacks before the next read, so the
// delivery pool recycles a chunk's worth and a steady stream allocates nothing.
constexpr size_t kReadChunk = 64 * 1024;
constexpr int kReadsPerTurn = 32;  // then let timers and writes have a turn


}  // namespace

ConnectionOptions options_from_uri(std::string_view text) {
  ConnectionOptions o;
  o.uri = parse_uri(text);
  return o;
}

ConnectionCore::ConnectionCore(ConnectionOptions opts)
    : opts_(resolve_options(std::move(opts))),
      session_(opts_.session, opts_.events) {
  wake_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
}

ConnectionCore::~ConnectionCore() {
  stop();
  if (wake_fd_ >= 0) ::close(wake_fd_);
}

void ConnectionCore::start() { thread_ = std::thread([this] { run(); }); }

void ConnectionCore::stop() {
  if (!thread_.joinable()) return;
  stopping_ = true;
  wake();
  if (on_io_thread())
    thread_.detach();  // destroyed from one of its own callbacks
  else
    thread_.join();
}

void ConnectionCore::wake() {
  // From a callback the loop is awake already: it takes the output after
  // running the callbacks (no eventfd write, no extra turn).
  if (on_io_thread()) return;
  if (!wake_armed_.exchange(true)) {
    uint64_t one = 1;
    [[maybe_unused]] ssize_t n = ::write(wake_fd_, &one, sizeof one);
  }
}

void ConnectionCore::throttle() {
  if (on_io_thread()) return;
  std::unique_lock l(mu_);
  auto over = [&](size_t mark) { return session_.output_size() + unsent_.load() >= mark; };
  if (!over(kHighWater)) return;
  ++throttled_;
  cv_.wait(l, [&] { return !over(kLowWater) || session_.state() != Session::State::Open; });
  --throttled_;
}

void ConnectionCore::drop_transport() {
  drop_requested_ = true;
  wake();
}

int ConnectionCore::dial(Error& err) { return dial_tcp(opts_.uri, opts_.connect_timeout, err); }

void ConnectionCore::cut(TimePoint now, Error why) {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  session_.transport_down(now, std::move(why));
}

void ConnectionCore::run() {
  OutputQueue out;
  std::vector<uint8_t> rbuf(kReadChunk);
  std::vector<ReadyItem> ready;
  std::vector<std::unique_ptr<Delivery>> spent;
  for (;;) {
    bool want_connect = false, done = false;
    std::optional<TimePoint> deadline;
    {
      std::lock_guard l(mu_);
      auto now = Clock::now();
      session_.recycle(spent);
      if (fd_ >= 0 && (drop_requested_.exchange(false) || stopping_)) {
        out.clear();
        cut(now, {0, stopping_ ? "the connection object was destroyed" : "transport cut (drop_transport_for_test)"});
      }
      if (fd_ >= 0) session_.tick(now);
      if (fd_ >= 0 && session_.wants_transport_closed()) {
        // Last words (a close-ok, a close) go out if the socket takes them.
        out.take(session_, now);
        out.write(fd_);
        out.clear();
        cut(now, *session_.drop_reason());
      }
      if (stopping_ && session_.state() != Session::State::Closed) {
        session_.close(nullptr);  // no socket: closes at once
      }
      want_connect = fd_ < 0 && session_.wants_transport(now);
      if (fd_ >= 0) out.take(session_, now);
      session_.take_ready(ready);
      deadline = session_.next_deadline();
      done = session_.state() == Session::State::Closed;
      // Waiters (wait_open, Connection::open) learn of every change of state
      // or epoch, wherever in the last turn it happened (feed, tick, a cut).
      if (session_.state() != notified_state_ || session_.epoch() != notified_epoch_ || done) {
        notified_state_ = session_.state();
        notified_epoch_ = session_.epoch();
        cv_.notify_all();
      }
    }
    run_ready(ready, &spent);
    if (fd_ >= 0) {  // what the callbacks published or acked goes out in this turn
      std::lock_guard l(mu_);
      out.take(session_, Clock::now());
    }
    if (done) {
      std::lock_guard l(mu_);
      session_.take_ready(ready);
      if (ready.empty()) break;
      continue;
    }
    if (want_connect) {
      Error err;
      int fd = dial(err);
      std::lock_guard l(mu_);
      auto now = Clock::now();
      if (fd >= 0) {
        fd_ = fd;
        session_.transport_up(now);
      } else {
        session_.connect_failed(now, err);
      }
      cv_.notify_all();
      continue;
    }
    if (fd_ >= 0 && !out.empty() && !out.write(fd_)) {
      int err = errno;
      std::lock_guard l(mu_);
      out.clear();
      cut(Clock::now(), os_error("send", err));
      continue;
    }
    unsent_ = out.size();
    if (throttled_.load() > 0) {  // a publisher waits: tell it once the output is under the low water
      std::lock_guard l(mu_);  // (so it cannot miss it)
      if (session_.output_size() + unsent_.load() < kLowWater) cv_.notify_all();
    }
    pollfd fds[2] = {{.fd = wake_fd_, .events = POLLIN, .revents = 0},
                     {.fd = fd_, .events = short(POLLIN | (out.empty() ? 0 : POLLOUT)), .revents = 0}};
    int timeout = -1;
    if (deadline) {
      auto ms = std::chrono::ceil<milliseconds>(*deadline - Clock::now()).count();
      timeout = int(std::max<int64_t>(0, std::min<int64_t>(ms, 60'000)));
    }
    int rc = ::poll(fds, fd_ >= 0 ? 2 : 1, timeout);
    if (rc < 0 && errno != EINTR) continue;
    if (fds[0].revents & POLLIN) {
      uint64_t v;
      [[maybe_unused]] ssize_t n = ::read(wake_fd_, &v, sizeof v);
      wake_armed_ = false;
    }
    if (fd_ >= 0 && (fds[1].revents & (POLLIN | POLLHUP | POLLERR))) {
      for (int i = 0; i < kReadsPerTurn; ++i) {
        ssize_t n = ::recv(fd_, rbuf.data(), rbuf.size(), 0);
        if (n > 0) {
          {
            std::lock_guard l(mu_);
            session_.recycle(spent);
            session_.feed({rbuf.data(), size_t(n)}, Clock::now());
            session_.take_ready(ready);
          }
          run_ready(ready, &spent);
          if (size_t(n) < rbuf.size()) break;
          continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
        if (n < 0 && errno == EINTR) continue;
        std::lock_guard l(mu_);
        out.clear();
        cut(Clock::now(), n == 0 ? Error{0, "the broker closed the connection"} : os_error("recv", errno));
        break;
      }
    }
  }
  std::lock_guard l(mu_);
  if (fd_ >= 0) ::close(fd_), fd_ = -1;
}

// ---- Connection

std::unique_ptr<Connection> Connection::open(ConnectionOptions opts) {
  auto timeout = opts.connect_timeout + milliseconds(1000);
  auto core = std::make_shared<ConnectionCore>(std::move(opts));
  core->start();
  bool open = core->wait(timeout, [](Session& s) {
    return s.state() == Session::State::Open || s.state() == Session::State::Closed;
  });
  std::optional<Error> why;
  core->with([&](Session& s) {
    if (s.state() != Session::State::Open)
      why = s.closed_reason() ? *s.closed_reason() : Error{0, open ? "closed" : "the connection did not open in time"};
  });
  if (why) {
    core->stop();
    throw ClientError(*why);
  }
  return std::unique_ptr<Connection>(new Connection(std::move(core)));
}

Connection::~Connection() {
  try {
    close();
  } catch (...) {
  }
  core_->stop();
}

void Connection::close() {
  core_->with([](Session& s) { s.close(nullptr); });
  if (core_->on_io_thread()) return;  // from a callback: the loop finishes it
  core_->wait(milliseconds(5000), [](Session& s) { return s.state() == Session::State::Closed; });
}

bool Connection::wait_open(milliseconds timeout) {
  if (core_->on_io_thread()) throw ClientError({0, "wait_open from a callback would wait for ever"});
  core_->wait(timeout, [](Session& s) {
    return s.state() == Session::State::Open || s.state() == Session::State::Closed;
  });
  return is_open();
}

bool Connection::is_open() const {
  return core_->with([](Session& s) { return s.state() == Session::State::Open; });
}
uint64_t Connection::epoch() const {
  return core_->with([](Session& s) { return s.epoch(); });
}
uint32_t Connection::frame_max() const {
  return core_->with([](Session& s) { return s.frame_max(); });
}
uint16_t Connection::heartbeat() const {
  return core_->with([](Session& s) { return s.heartbeat(); });
}
void Connection::drop_transport_for_test() {
  uint64_t was = epoch();
  core_->drop_transport();
  if (!core_->on_io_thread())
    core_->wait(milliseconds(5000), [was](Session& s) { return s.epoch() != was || s.state() != Session::State::Open; });
}

void Connection::channel_async(ChannelEvents events,
                               std::function<void(const std::optional<Error>&, std::shared_ptr<Channel>)> done) {
  auto core = core_;
  auto id = std::make_shared<uint16_t>(0);
  core_->with([&](Session& s) {
    *id = s.open_channel(std::move(events), [core, id, done](const std::optional<Error>& err) {
      auto ch = std::make_shared<Channel>(core, *id);
      if (done) done(err, err ? nullptr : ch);
    });
  });
}

std::shared_ptr<Channel> Connection::channel(ChannelEvents events) {
  if (core_->on_io_thread()) throw ClientError({0, "Connection::channel from a callback: use channel_async"});
  auto p = std::make_shared<std::promise<std::optional<Error>>>();
  auto f = p->get_future();
  uint16_t id = core_->with([&](Session& s) {
    return s.open_channel(std::move(events), [p](const std::optional<Error>& err) { p->set_value(err); });
  });
  auto ch = std::make_shared<Channel>(core_, id);
  if (f.wait_for(std::chrono::seconds(30)) != std::future_status::ready)
    throw ClientError({0, "channel " + std::to_string(id) + " did not open within 30 s"});
  if (auto err = f.get()) throw ClientError(*err);
  return ch;
}

}  // namespace warren::client
