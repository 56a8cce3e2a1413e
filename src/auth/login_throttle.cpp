#include "auth/login_throttle.hpp"

#include <algorithm>

namespace warren::auth {

void LoginThrottle::refill(Bucket& b, TimePoint now) const {
  if (now <= b.at) return;
  const double gained = std::chrono::duration<double>(now - b.at) / std::chrono::duration<double>(opts_.refill);
  b.tokens = std::min(double(opts_.burst), b.tokens + gained);
  b.at = now;
}

bool LoginThrottle::allowed(std::string_view address, TimePoint now) {
  auto it = buckets_.find(std::string(address));
  if (it == buckets_.end()) return true;
  refill(it->second, now);
  return it->second.tokens >= 1;
}

void LoginThrottle::failed(std::string_view address, TimePoint now) {
  auto [it, fresh] = buckets_.try_emplace(std::string(address), Bucket{double(opts_.burst), now});
  refill(it->second, now);
  it->second.tokens = std::max(0.0, it->second.tokens - 1);
  if (fresh && buckets_.size() > opts_.max_addresses) prune(now);
}

// Many addresses failing (a distributed guesser, or a scan): forget those
// that have recovered; if that is not enough, start over rather than grow.
void LoginThrottle::prune(TimePoint now) {
  for (auto it = buckets_.begin(); it != buckets_.end();) {
    refill(it->second, now);
    it = it->second.tokens >= opts_.burst ? buckets_.erase(it) : std::next(it);
  }
  if (buckets_.size() > opts_.max_addresses) buckets_.clear();
}

}  // namespace warren::auth
