#include "broker/outcomes.hpp"

#include <algorithm>

namespace warren::broker {

PublisherId PendingOutcomes::add_publisher(Publisher& p) {
  const PublisherId id = next_publisher_++;
  publishers_.emplace(id, &p);
  return id;
}

void PendingOutcomes::remove_publisher(PublisherId id) {
  if (publishers_.erase(id) == 0) return;
  std::erase_if(entries_, [id](const auto& e) { return e.second.publisher == id; });
  std::erase_if(done_, [id](const Done& d) { return d.publisher == id; });
}

OutcomeTicket PendingOutcomes::open(const PublishWaiter& w) {
  const OutcomeTicket t = next_ticket_++;
  entries_.emplace(t, Entry{w.publisher, w.cookie});
  return t;
}

bool PendingOutcomes::seal(OutcomeTicket t, bool ok) {
  auto it = entries_.find(t);
  if (it == entries_.end()) return true;
  if (!ok || it->second.parts == 0) {
    entries_.erase(it);
    return true;
  }
  it->second.sealed = true;
  return false;
}

void PendingOutcomes::complete(OutcomeTicket t, bool ok) {
  auto it = entries_.find(t);
  if (it == entries_.end()) return;
  Entry& e = it->second;
  e.ok = e.ok && ok;
  if (e.parts > 0) --e.parts;
  if (e.parts == 0 && e.sealed) finish(it);
}

void PendingOutcomes::finish(std::unordered_map<OutcomeTicket, Entry>::iterator it) {
  done_.push_back(Done{it->second.publisher, Completion{it->second.cookie, it->second.ok}});
  entries_.erase(it);
}

// One call per publisher, its outcomes in completion order. A publisher may
// remove itself or others from inside its call (later groups look theirs up
// again), and outcomes completed meanwhile wait for the next deliver().
void PendingOutcomes::deliver() {
  if (done_.empty()) return;
  std::vector<Done> delivering;
  delivering.swap(done_);
  std::stable_sort(delivering.begin(), delivering.end(),
                   [](const Done& a, const Done& b) { return a.publisher < b.publisher; });
  std::vector<Completion> group;
  for (size_t i = 0; i < delivering.size();) {
    const PublisherId id = delivering[i].publisher;
    group.clear();
    for (; i < delivering.size() && delivering[i].publisher == id; ++i) group.push_back(delivering[i].completion);
    auto p = publishers_.find(id);
    if (p != publishers_.end()) p->second->outcomes_ready(group);
  }
}

}  // namespace warren::broker
