#include "socketlock/client_core.hpp"

#include <fcntl.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

namespace warren::socketlock {

using locks::Mode;

namespace {
std::string default_client_id() {
  char host[64] = "host";
  gethostname(host, sizeof host - 1);
  for (char* p = host; *p; ++p)
    if (*p == ' ' || *p == '\t') *p = '-';
  return fmt::format("{}-{}-{:04x}", host, getpid(), std::random_device{}() & 0xffff);
}

ServerOptions server_options(const LockConfig& cfg) {
  ServerOptions o;
  o.lock.policy = cfg.policy;
  o.lock.request_timeout = cfg.request_timeout;
  o.lock.confirm_timeout = cfg.confirm_timeout;
  o.lock.max_ttl = cfg.max_ttl;
  return o;
}
}  // namespace

ClientCore::ClientCore(std::string path, LockConfig cfg)
    : path_(std::move(path)),
      cfg_(std::move(cfg)),
      base_id_(cfg_.client_id.empty() ? default_client_id() : cfg_.client_id),
      engine_timer_(loop_, [this] {
        if (!engine_) return;
        engine_->advance(loop_.now());
        pump();
      }) {
  client_id = base_id_;
  if (path_.size() >= sizeof(sockaddr_un::sun_path)) throw Error("socket path too long: " + path_);
}

ClientCore::~ClientCore() { close(false); }

milliseconds ClientCore::jitter(int lo_ms, int hi_ms) {
  return milliseconds(std::uniform_int_distribution<int>(lo_ms, hi_ms)(rng_));
}

// ---------------------------------------------------------------- user side

void ClientCore::start() {
  connect_deadline_ = Clock::now() + cfg_.connect_timeout;
  loop_.post([this] { connect_attempt(); });
  thread_ = std::thread([this] { loop_.run(); });
}

void ClientCore::wait_ready() {
  std::unique_lock lk(mu);
  bool ok = cv.wait_until(lk, connect_deadline_ + seconds(5), [&] { return ready || !fatal.empty(); });
  if (!fatal.empty()) throw Error(fatal);
  if (!ok) throw Error("no answer from the primary at " + path_);
}

AcquireResult ClientCore::acquire(Mode mode, const AcquireOptions& opts) {
  std::unique_lock lk(mu);
  if (closed) throw Error("client is closed");
  if (held && !held->lost) {
    if (mode == Mode::Exclusive && held->mode == Mode::Shared) throw Error("lock upgrade not supported");
    ++held->count;
    return {AcquireResult::State::Acquired, {}, held};
  }
  if (acquiring) throw Error("multiple lock requests");
  acquiring = true;
  result_ = {};
  std::optional<seconds> ttl = opts.ttl;
  loop_.post([this, mode, ttl] {
    want_ = Want{mode, ttl};
    send_want();
    pump();
  });
  // Without a local timeout, wait as long as the primary could take to answer.
  milliseconds limit = opts.timeout.value_or(cfg_.request_timeout + cfg_.confirm_timeout + cfg_.connect_timeout);
  if (!cv.wait_for(lk, limit, [&] { return result_.state != AcquireResult::State::Pending; })) {
    loop_.post([this] { cancel_want(); });
    cv.wait(lk, [&] { return result_.state != AcquireResult::State::Pending; });  // the I/O thread always answers
    if (result_.state == AcquireResult::State::Acquired) {
      // Granted as we gave up: hand it straight back.
      std::shared_ptr<HeldLock> h = result_.held;
      held = h;
      acquiring = false;
      lk.unlock();
      release(h);
      throw Error("timeout waiting for lock");
    }
    acquiring = false;
    cv.notify_all();
    throw Error("timeout waiting for lock");
  }
  acquiring = false;
  cv.notify_all();
  AcquireResult r = std::move(result_);
  if (r.state == AcquireResult::State::Acquired) held = r.held;
  return r;
}

void ClientCore::release(const std::shared_ptr<HeldLock>& h) {
  std::string id;
  {
    std::lock_guard g(mu);
    if (h->count == 0 || --h->count > 0) return;
    if (held == h) held.reset();
    cv.notify_all();
    if (h->lost || closed) return;  // nothing left to release on the server
    id = h->id;
  }
  loop_.post([this, id] {
    if (engine_ && engine_->holding() && engine_->held_id() == id) {
      engine_->release(loop_.now());
      pump();
    }
  });
}

void ClientCore::close(bool graceful) {
  {
    std::unique_lock lk(mu);
    if (closed) return;
    if (graceful) cv.wait(lk, [&] { return !held && !acquiring; });
    closed = true;
  }
  if (thread_.joinable()) {
    loop_.post([this, graceful] {
      if (connect_timer_) loop_.cancel_timer(connect_timer_);
      engine_timer_.cancel();
      if (graceful && engine_ && conn_) {
        engine_->eol(loop_.now());
        conn_->send(engine_->output());
        conn_->flush();
      }
      conn_.reset();
      engine_.reset();
      primary_.reset();  // stops the primary we serve, if no other client here uses it
      loop_.stop();
    });
    thread_.join();
  }
  std::lock_guard g(mu);
  if (held && !held->lost) {
    held->lost = true;
    held->why = "client closed";
  }
  ready = false;
}

std::vector<std::string> ClientCore::show() {
  std::unique_lock lk(mu);
  show_lines_.clear();
  show_done_ = false;
  loop_.post([this] {
    if (engine_ && engine_->show(loop_.now())) return pump();
    std::lock_guard g(mu);
    show_done_ = true;
    cv.notify_all();
  });
  if (!cv.wait_for(lk, seconds(5), [&] { return show_done_; })) throw Error("no answer to SHOW");
  return std::move(show_lines_);
}

std::vector<int> ClientCore::lock_descriptors() {
  std::vector<int> fds;
  bool done = false;
  {
    std::lock_guard g(mu);
    if (closed) return fds;
  }
  // The connection and the primary belong to the I/O thread: dup them there.
  loop_.post([this, &fds, &done] {
    auto dup = [&](int fd) {
      if (fd < 0) return;
      int copy = ::fcntl(fd, F_DUPFD_CLOEXEC, 3);
      if (copy >= 0) fds.push_back(copy);
    };
    if (conn_) dup(conn_->fd());
    if (primary_) dup(primary_->claim_fd());
    std::lock_guard g(mu);
    done = true;
    cv.notify_all();
  });
  std::unique_lock lk(mu);
  cv.wait(lk, [&] { return done; });
  return fds;
}

// ----------------------------------------------------------------- I/O side

void ClientCore::schedule_connect(milliseconds delay) {
  if (connect_timer_) loop_.cancel_timer(connect_timer_);
  connect_timer_ = loop_.add_timer(loop_.now() + delay, [this] {
    connect_timer_ = 0;
    connect_attempt();
  });
}

void ClientCore::connect_attempt() {
  int fd = net::Socket::connect_unix(path_);
  if (fd < 0 && (errno == ENOENT || errno == ECONNREFUSED) && cfg_.may_become_primary && !primary_) {
    try {
      primary_ = EmbeddedPrimary::get_or_start(path_, server_options(cfg_));
    } catch (const std::exception& e) {
      std::lock_guard g(mu);
      fatal = e.what();
      cv.notify_all();
      return;
    }
    if (primary_) fd = net::Socket::connect_unix(path_);
  }
  if (fd >= 0) return start_engine(fd);
  int err = errno;
  if (!connected_once_ && Clock::now() >= connect_deadline_) {
    std::lock_guard g(mu);
    fatal = fmt::format("cannot connect to {}: {}", path_, std::strerror(err));
    cv.notify_all();
    return;
  }
  // Someone else is becoming primary: it will listen within moments.
  schedule_connect(jitter(20, 120));
}

void ClientCore::start_engine(int fd) {
  conn_ = net::Socket::adopt(loop_, fd, this);
  ClientOptions o;
  o.client_id = base_id_;
  o.status_interval = cfg_.status_interval;
  o.heartbeat = cfg_.heartbeat;
  engine_ = std::make_unique<ClientEngine>(o);
  engine_->start(loop_.now());
  {
    std::lock_guard g(mu);
    is_primary = primary_ != nullptr;
  }
  pump();
}

void ClientCore::send_want() {
  if (want_ && !want_->sent && engine_ && engine_->ready() && engine_->acquire(want_->mode, want_->ttl, loop_.now()))
    want_->sent = true;
}

void ClientCore::cancel_want() {
  if (!want_) return;  // already answered
  if (!want_->sent || !engine_) {
    want_.reset();
    finish(AcquireResult::State::Cancelled, {}, nullptr);
    return;
  }
  want_->cancel = true;
  if (!engine_->cancel(loop_.now())) conn_->abort();  // the Go dialect cannot cancel: drop the connection
  pump();
}

void ClientCore::finish(AcquireResult::State st, std::string reason, std::shared_ptr<HeldLock> h) {
  {
    std::lock_guard g(mu);
    result_ = {st, std::move(reason), std::move(h)};
  }
  cv.notify_all();  // after unlocking: the woken thread must not block on `mu` again
}

void ClientCore::pump() {
  while (engine_) {
    engine_->take_events(events_);
    if (events_.empty()) break;
    handle_events();
  }
  if (!engine_ || !conn_) return;
  std::string& out = engine_->output();
  if (!out.empty()) {
    conn_->send(out);
    out.clear();
  }
  // One loop timer at the engine's next deadline, moved only when it changes.
  engine_timer_.arm(engine_->next_deadline());
}

void ClientCore::handle_events() {
  TimePoint now = loop_.now();
  for (ClientEvent& e : events_) {
    switch (e.kind) {
      case ClientEvent::Kind::Ready: {
        connected_once_ = true;
        std::lock_guard g(mu);
        ready = true;
        client_id = engine_->client_id();
        go_dialect = engine_->go_dialect();
        cv.notify_all();
        break;
      }
      case ClientEvent::Kind::Acquired: {
        if (!want_ || want_->cancel) {  // nobody waits for it any more
          engine_->release(now);
          if (want_) finish(AcquireResult::State::Cancelled, {}, nullptr);
          want_.reset();
          break;
        }
        want_.reset();
        auto h = std::make_shared<HeldLock>(HeldLock{e.mode, e.token, e.lock_id, e.expires});
        finish(AcquireResult::State::Acquired, {}, std::move(h));
        break;
      }
      case ClientEvent::Kind::AcquireFailed:
        want_.reset();
        finish(AcquireResult::State::Failed, e.text, nullptr);
        break;
      case ClientEvent::Kind::Cancelled:
        want_.reset();
        finish(AcquireResult::State::Cancelled, {}, nullptr);
        break;
      case ClientEvent::Kind::Lost:
        lose_held(e.text);
        break;
      case ClientEvent::Kind::Show: {
        std::lock_guard g(mu);
        show_lines_.push_back(e.text);
        break;
      }
      case ClientEvent::Kind::ShowEnd: {
        std::lock_guard g(mu);
        show_lines_.push_back("SHOWEND " + e.text);
        show_done_ = true;
        cv.notify_all();
        break;
      }
      case ClientEvent::Kind::Broken:
        if (conn_) conn_->abort();
        break;
    }
  }
  send_want();
}

void ClientCore::lose_held(const std::string& why) {
  std::function<void(locks::Token, const std::string&)> cb;
  locks::Token token = 0;
  {
    std::lock_guard g(mu);
    if (!held || held->lost) return;
    held->lost = true;
    held->why = why;
    token = held->token;
    cb = on_lost;
    cv.notify_all();
  }
  if (cb) cb(token, why);
}

void ClientCore::on_data(net::Socket&, std::string_view bytes) {
  if (!engine_) return;
  engine_->feed(bytes, loop_.now());
  pump();
}

void ClientCore::on_close(net::Socket&, int) {
  engine_timer_.cancel();
  engine_.reset();
  conn_.reset();  // allowed from inside on_close
  {
    std::lock_guard g(mu);
    ready = false;
  }
  lose_held("connection to the primary lost");
  bool voluntary = want_ && want_->cancel;
  if (want_) {
    if (want_->cancel) {
      want_.reset();
      finish(AcquireResult::State::Cancelled, {}, nullptr);
    } else {
      want_->sent = false;  // re-sent to whoever serves next
    }
  }
  {
    std::lock_guard g(mu);
    if (closed) return;
  }
  // The seed: wait 100-2100 ms after a failed primary, so that the survivors
  // do not all rush the socket at once.
  schedule_connect(voluntary ? milliseconds(0) : jitter(100, 2100));
}

}  // namespace warren::socketlock
