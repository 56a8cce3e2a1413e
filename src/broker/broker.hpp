#pragma once
// The broker: its virtual hosts. Front ends look vhosts up by name.
// Randomness and the wall clock come from the Env its owner passes in
// (env.hpp), which must outlive it.
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "broker/env.hpp"
#include "broker/vhost.hpp"

namespace warren::broker {

class Broker {
 public:
  Broker(Env& env, TimePoint now) : env_(env) { add_vhost("/", now); }

  VHost* vhost(std::string_view name) const {
    auto it = vhosts_.find(name);
    return it == vhosts_.end() ? nullptr : it->second.get();
  }
  VHost& add_vhost(const std::string& name, TimePoint now) {
    auto& v = vhosts_[name];
    if (!v) v = std::make_unique<VHost>(name, env_, now);
    return *v;
  }
  // Takes the vhost out: no lookup finds it from now on. Connections that
  // opened it may still point at it while they close, so it is freed only
  // once the last of them has closed, by the next advance() (never from
  // inside a connection's own call).
  bool remove_vhost(std::string_view name) {
    auto it = vhosts_.find(name);
    if (it == vhosts_.end()) return false;
    deleted_counts_ += it->second->deleted_queue_counts();
    for (const auto& [_, q] : it->second->queues()) deleted_counts_ += q->counts();
    deleted_publish_counts_ += it->second->publish_counts();
    retired_.push_back(std::move(it->second));
    vhosts_.erase(it);
    return true;
  }
  const std::map<std::string, std::unique_ptr<VHost>, std::less<>>& vhosts() const { return vhosts_; }
  // The counters of vhosts deleted so far (stats.hpp): with the live
  // vhosts', the node's totals, which never go down.
  const MessageCounts& deleted_vhost_counts() const { return deleted_counts_; }
  const PublishCounts& deleted_vhost_publish_counts() const { return deleted_publish_counts_; }
  // Every connection-owned thing (exclusive queues) goes with it.
  void connection_closed(uint64_t who, TimePoint now) {
    for (auto& [_, v] : vhosts_) v->connection_closed(who, now);
    for (auto& v : retired_) v->connection_closed(who, now);
  }
  void advance(TimePoint now) {
    for (auto& [_, v] : vhosts_) v->advance(now);
    std::erase_if(retired_, [](const std::unique_ptr<VHost>& v) { return v->connection_count() == 0; });
  }
  std::optional<TimePoint> next_deadline() const {
    for (const auto& v : retired_)
      if (v->connection_count() == 0) return TimePoint{};  // free it now
    std::optional<TimePoint> d;
    for (const auto& [_, v] : vhosts_)
      if (auto t = v->next_deadline(); t && (!d || *t < *d)) d = t;
    return d;
  }

 private:
  Env& env_;
  std::map<std::string, std::unique_ptr<VHost>, std::less<>> vhosts_;
  std::vector<std::unique_ptr<VHost>> retired_;  // removed, still open by closing connections
  MessageCounts deleted_counts_;
  PublishCounts deleted_publish_counts_;
};

}  // namespace warren::broker
