#include "socketlock/embedded_primary.hpp"

#include <map>
#include <mutex>

namespace warren::socketlock {

namespace {
std::mutex registry_mu;
std::map<std::string, std::weak_ptr<EmbeddedPrimary>> registry;
}  // namespace

std::shared_ptr<EmbeddedPrimary> EmbeddedPrimary::get_or_start(const std::string& path, const ServerOptions& opts) {
  std::lock_guard g(registry_mu);
  if (auto live = registry[path].lock()) return live;
  std::shared_ptr<EmbeddedPrimary> p(new EmbeddedPrimary());
  // Set up before the loop thread starts, so no other thread touches the loop yet.
  p->primary_ = Primary::start(p->loop_, path, opts);
  if (!p->primary_) return nullptr;
  p->thread_ = std::thread([raw = p.get()] { raw->loop_.run(); });
  registry[path] = p;
  return p;
}

EmbeddedPrimary::~EmbeddedPrimary() {
  if (!thread_.joinable()) return;
  loop_.post([this] {
    primary_.reset();  // unlinks the socket, then releases the claim
    loop_.stop();
  });
  thread_.join();
}

}  // namespace warren::socketlock
