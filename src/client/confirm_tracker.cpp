#include "client/confirm_tracker.hpp"

#include <algorithm>
#include <cassert>

namespace warren::client {

uint64_t ConfirmTracker::add(ConfirmCallback cb, bool mandatory, std::string_view exchange,
                             std::string_view routing_key, std::string_view message_id) {
  uint64_t seq = next_++;
  if (entries_.empty()) base_ = seq;
  entries_.push_back(Entry{std::move(cb), false, mandatory, false});
  ++pending_;
  if (mandatory) returns_.push_back(ReturnKey{seq, std::string(exchange), std::string(routing_key), std::string(message_id)});
  return seq;
}

void ConfirmTracker::complete(uint64_t seq, Outcome o, std::vector<Completion>& out) {
  Entry& e = entries_[seq - base_];
  if (e.done) return;  // a multiple ack over one acked singly before
  e.done = true;
  --pending_;
  if (o == Outcome::Acked && e.returned) o = Outcome::Returned;
  out.push_back(Completion{std::move(e.callback), o});
  e.callback = nullptr;
  if (e.mandatory) {
    auto it = std::find_if(returns_.begin(), returns_.end(), [&](const ReturnKey& k) { return k.seq == seq; });
    if (it != returns_.end()) returns_.erase(it);
  }
}

void ConfirmTracker::trim() {
  while (!entries_.empty() && entries_.front().done) {
    entries_.pop_front();
    ++base_;
  }
}

bool ConfirmTracker::settle(uint64_t tag, bool multiple, bool nack, std::vector<Completion>& out) {
  if (tag >= next_ || (tag == 0 && !multiple)) return false;
  Outcome o = nack ? Outcome::Nacked : Outcome::Acked;
  if (multiple) {
    // tag 0 with multiple: every outstanding publish (spec 1.8.3.13)
    uint64_t last = tag == 0 ? next_ - 1 : tag;
    for (uint64_t s = base_; s <= last && s - base_ < entries_.size(); ++s) complete(s, o, out);
  } else if (tag >= base_) {
    complete(tag, o, out);
  }
  trim();
  return true;
}

void ConfirmTracker::returned(std::string_view exchange, std::string_view routing_key, std::string_view message_id) {
  auto mark = [&](auto pred) {
    for (auto& k : returns_) {
      Entry& e = entries_[k.seq - base_];
      if (!e.returned && pred(k)) {
        e.returned = true;
        return true;
      }
    }
    return false;
  };
  if (!message_id.empty() && mark([&](const ReturnKey& k) { return k.message_id == message_id; })) return;
  mark([&](const ReturnKey& k) { return k.exchange == exchange && k.routing_key == routing_key; });
}

void ConfirmTracker::fail_all(std::vector<Completion>& out) {
  for (uint64_t s = base_; s - base_ < entries_.size(); ++s) complete(s, Outcome::Unknown, out);
  entries_.clear();
  returns_.clear();
  pending_ = 0;
  base_ = next_;
}

void ConfirmTracker::restart() {
  assert(pending_ == 0);
  entries_.clear();
  returns_.clear();
  next_ = base_ = 1;
}

}  // namespace warren::client
