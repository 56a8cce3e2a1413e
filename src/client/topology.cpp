#include "client/topology.hpp"

#include <algorithm>

namespace warren::client {

namespace {
template <class V, class P>
void erase_if_(V& v, P pred) {
  v.erase(std::remove_if(v.begin(), v.end(), pred), v.end());
}
}  // namespace

void Topology::declare_exchange(const ExchangeSpec& e) {
  auto it = std::find_if(exchanges_.begin(), exchanges_.end(), [&](const ExchangeSpec& x) { return x.name == e.name; });
  if (it != exchanges_.end())
    *it = e;
  else
    exchanges_.push_back(e);
}

void Topology::delete_exchange(const std::string& name) {
  erase_if_(exchanges_, [&](const ExchangeSpec& x) { return x.name == name; });
  erase_if_(bindings_, [&](const BindingSpec& b) { return b.source == name || (b.to_exchange && b.destination == name); });
}

void Topology::declare_queue(const QueueSpec& q, const std::string& named) {
  Queue rec{q, q.name.empty()};
  rec.spec.name = named;
  auto it = std::find_if(queues_.begin(), queues_.end(), [&](const Queue& x) { return x.spec.name == named; });
  if (it != queues_.end())
    *it = rec;
  else
    queues_.push_back(rec);
}

void Topology::delete_queue(const std::string& name) {
  erase_if_(queues_, [&](const Queue& x) { return x.spec.name == name; });
  erase_if_(bindings_, [&](const BindingSpec& b) { return !b.to_exchange && b.destination == name; });
}

void Topology::bind(const BindingSpec& b) {
  if (std::find(bindings_.begin(), bindings_.end(), b) == bindings_.end()) bindings_.push_back(b);
}

void Topology::unbind(const BindingSpec& b) {
  erase_if_(bindings_, [&](const BindingSpec& x) { return x == b; });
}

void Topology::rename_queue(const std::string& from, const std::string& to) {
  for (auto& q : queues_)
    if (q.spec.name == from) q.spec.name = to;
  for (auto& b : bindings_)
    if (!b.to_exchange && b.destination == from) b.destination = to;
}

std::vector<Topology::Step> Topology::steps() const {
  std::vector<Step> s;
  for (size_t i = 0; i < exchanges_.size(); ++i) s.push_back({Step::Exchange, i});
  for (size_t i = 0; i < queues_.size(); ++i) s.push_back({Step::Queue, i});
  for (size_t i = 0; i < bindings_.size(); ++i) s.push_back({Step::Binding, i});
  return s;
}

}  // namespace warren::client
