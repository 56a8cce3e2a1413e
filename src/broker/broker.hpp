#pragma once
// The broker: its virtual hosts. Front ends look vhosts up by name.
// Randomness and the wall clock come from the Env its owner passes in
// (env.hpp), which must outlive it.
#include <map>
#include <memory>
#include <string>

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
  // Every connection-owned thing (exclusive queues) goes with it.
  void connection_closed(uint64_t who, TimePoint now) {
    for (auto& [_, v] : vhosts_) v->connection_closed(who, now);
  }
  void advance(TimePoint now) {
    for (auto& [_, v] : vhosts_) v->advance(now);
  }
  std::optional<TimePoint> next_deadline() const {
    std::optional<TimePoint> d;
    for (const auto& [_, v] : vhosts_)
      if (auto t = v->next_deadline(); t && (!d || *t < *d)) d = t;
    return d;
  }

 private:
  Env& env_;
  std::map<std::string, std::unique_ptr<VHost>, std::less<>> vhosts_;
};

}  // namespace warren::broker
