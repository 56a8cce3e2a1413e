#include "client/pool.hpp"

#include <future>

namespace warren::client {

ChannelPool::Lease::~Lease() {
  if (pool_ && ch_) pool_->give_back(std::move(ch_));
}

ChannelPool::ChannelPool(Connection& conn, size_t max_channels, milliseconds timeout)
    : conn_(conn), max_(max_channels), timeout_(timeout) {}

ChannelPool::~ChannelPool() = default;

ChannelPool::Lease ChannelPool::get() {
  auto deadline = Clock::now() + timeout_;
  for (;;) {
    if (!conn_.wait_open(std::chrono::duration_cast<milliseconds>(deadline - Clock::now())))
      throw ClientError({0, "no open connection for the channel pool"});
    std::unique_lock l(mu_);
    while (!idle_.empty()) {
      auto ch = std::move(idle_.front());
      idle_.pop_front();
      if (ch->closed_for_good()) {
        --owned_;
        continue;
      }
      if (ch->is_open()) return Lease(this, std::move(ch));
      idle_.push_back(std::move(ch));  // recovering: let the others go first
      break;
    }
    if (owned_ < max_) {
      ++owned_;
      l.unlock();
      try {
        auto ch = conn_.channel();
        auto done = std::make_shared<std::promise<std::optional<Error>>>();
        auto f = done->get_future();
        ch->confirm_select([done](const std::optional<Error>& e) { done->set_value(e); });
        if (f.wait_until(deadline) != std::future_status::ready) throw ClientError({0, "confirm.select timed out"});
        if (auto e = f.get()) throw ClientError(*e);
        return Lease(this, std::move(ch));
      } catch (...) {
        std::lock_guard g(mu_);
        --owned_;
        throw;
      }
    }
    if (!cv_.wait_until(l, deadline, [&] { return !idle_.empty() || owned_ < max_; }))
      throw ClientError({0, "no channel came back to the pool in time"});
  }
}

void ChannelPool::give_back(std::shared_ptr<Channel> ch) {
  std::lock_guard l(mu_);
  if (ch->closed_for_good())
    --owned_;  // dropped: closing it is the handle's destructor's business
  else
    idle_.push_back(std::move(ch));
  cv_.notify_one();
}

size_t ChannelPool::size() const {
  std::lock_guard l(mu_);
  return owned_;
}

size_t ChannelPool::idle() const {
  std::lock_guard l(mu_);
  return idle_.size();
}

}  // namespace warren::client
