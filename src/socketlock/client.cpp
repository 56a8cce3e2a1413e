#include "socketlock/client.hpp"

#include "socketlock/client_core.hpp"

namespace warren::socketlock {

// ------------------------------------------------------------------ Lock

Lock& Lock::operator=(Lock&& other) noexcept {
  if (this != &other) {
    release();
    core_ = std::move(other.core_);
    held_ = std::move(other.held_);
  }
  return *this;
}

Lock::~Lock() { release(); }

void Lock::release() {
  if (!held_) return;
  core_->release(held_);
  held_.reset();
  core_.reset();
}

locks::Token Lock::token() const { return held_ ? held_->token : 0; }
locks::Mode Lock::mode() const { return held_ ? held_->mode : locks::Mode::Shared; }

bool Lock::valid() const {
  if (!held_) return false;
  std::lock_guard g(core_->mu);
  if (held_->lost) return false;
  return !held_->expires || warren::Clock::now() < *held_->expires;
}

std::optional<warren::TimePoint> Lock::expires() const {
  if (!held_) return std::nullopt;
  std::lock_guard g(core_->mu);
  return held_->expires;
}

std::string Lock::lost_reason() const {
  if (!held_) return "released";
  std::lock_guard g(core_->mu);
  if (held_->lost) return held_->why;
  if (held_->expires && warren::Clock::now() >= *held_->expires) return "lock ttl expired";
  return {};
}

void Lock::check() const {
  if (!valid()) throw LockLost(lost_reason());
}

// ---------------------------------------------------------------- Client

std::unique_ptr<Client> Client::connect(const std::string& path, LockConfig cfg) {
  auto core = std::make_shared<ClientCore>(path, std::move(cfg));
  core->start();
  core->wait_ready();
  return std::unique_ptr<Client>(new Client(std::move(core)));
}

Client::~Client() {
  if (core_) core_->close(false);
}

Lock Client::acquire(locks::Mode mode, AcquireOptions opts) {
  AcquireResult r = core_->acquire(mode, opts);
  switch (r.state) {
    case AcquireResult::State::Acquired: return Lock(core_, std::move(r.held));
    case AcquireResult::State::Failed: throw Error(r.reason);
    default: throw Error("request cancelled");
  }
}

Lock Client::acquire_read(AcquireOptions opts) { return acquire(locks::Mode::Shared, opts); }
Lock Client::acquire_write(AcquireOptions opts) { return acquire(locks::Mode::Exclusive, opts); }

void Client::close() { core_->close(true); }
std::vector<std::string> Client::show() { return core_->show(); }

void Client::on_lost(std::function<void(locks::Token, const std::string&)> fn) {
  std::lock_guard g(core_->mu);
  core_->on_lost = std::move(fn);
}

std::vector<int> Client::lock_descriptors() { return core_->lock_descriptors(); }

bool Client::is_primary() const {
  std::lock_guard g(core_->mu);
  return core_->is_primary;
}

std::string Client::client_id() const {
  std::lock_guard g(core_->mu);
  return core_->client_id;
}

bool Client::go_dialect() const {
  std::lock_guard g(core_->mu);
  return core_->go_dialect;
}

}  // namespace warren::socketlock
