// Queue::apply: the one place a queue's entries, counts, next seq and
// closed flag change, one op at a time (queue_op.hpp). Nothing here reads
// a clock or hands control out, so the same ops give the same state.
#include <algorithm>

#include "broker/queue.hpp"

namespace warren::broker {

void Queue::clear_ready() {
  for (auto& l : lanes_) l.clear();
  ready_count_ = 0;
  ready_bytes_ = 0;
}

std::deque<Queue::Entry>& Queue::lane(uint8_t priority) {
  return lanes_[std::min<size_t>(priority, lanes_.size() - 1)];
}

// Deliveries, expiry and drop-head take a lane's head, so heads are looked
// at first, inline; a message published with a TTL of 0 may be further in.
template <class Take>
bool Queue::take_ready(uint64_t seq, Take&& take) {
  std::deque<Entry>* lane = nullptr;
  std::deque<Entry>::iterator it;
  for (auto l = lanes_.rbegin(); l != lanes_.rend() && !lane; ++l)
    if (!l->empty() && l->front().seq == seq) lane = &*l, it = l->begin();
  if (!lane && !find_inside(seq, lane, it)) return false;
  ready_count_ -= 1;
  ready_bytes_ -= it->msg->size();
  take(std::move(*it));
  if (it == lane->begin())
    lane->pop_front();
  else
    lane->erase(it);
  return true;
}

// Lanes are ordered by seq.
bool Queue::find_inside(uint64_t seq, std::deque<Entry>*& lane, std::deque<Entry>::iterator& it) {
  for (auto& l : lanes_) {
    it = std::lower_bound(l.begin(), l.end(), seq, [](const Entry& x, uint64_t s) { return x.seq < s; });
    if (it != l.end() && it->seq == seq) return lane = &l, true;
  }
  return false;
}

bool Queue::replay(QueueOp op) {
  Op scope(*this);
  return apply(std::move(op));
}

bool Queue::apply(QueueOp op) {
  return std::visit([&](auto& o) { return apply(std::move(o)); }, op);
}

bool Queue::apply(ops::Enqueue o) {
  if (o.seq < next_seq_) return false;  // lanes must stay ordered by seq
  record(o, o.msg.get());
  ready_count_ += 1;
  ready_bytes_ += o.msg->size();
  next_seq_ = o.seq + 1;
  Entry& e = lane(o.msg->priority()).emplace_back(std::move(o.msg), o.seq, o.expires);
  e.redelivered = o.redelivered;
  return true;
}

bool Queue::apply(ops::Acquire o) {
  return take_ready(o.seq, [&](Entry&& e) {
    record(o, e.msg.get());
    // Seqs mostly come in order: the hint makes most inserts constant time.
    unacked_.emplace_hint(unacked_.end(), o.seq, std::move(e));
  });
}

bool Queue::apply(ops::Remove o, std::optional<Entry>* removed) {
  if (settles(o.why)) {
    auto u = unacked_.find(o.seq);
    if (u == unacked_.end()) return false;
    record(o, u->second.msg.get());
    if (removed) removed->emplace(std::move(u->second));
    unacked_.erase(u);
    return true;
  }
  return take_ready(o.seq, [&](Entry&& e) {
    record(o, e.msg.get());
    if (removed) removed->emplace(std::move(e));
  });
}

// Back where it was: lanes stay ordered by sequence number.
bool Queue::apply(ops::Requeue o) {
  auto u = unacked_.find(o.seq);
  if (u == unacked_.end()) return false;
  record(o, u->second.msg.get());
  Entry e = std::move(u->second);
  unacked_.erase(u);
  e.redelivered = true;
  e.delivery_count = o.delivery_count;
  ready_count_ += 1;
  ready_bytes_ += e.msg->size();
  std::deque<Entry>& l = lane(e.msg->priority());
  auto pos = std::upper_bound(l.begin(), l.end(), e.seq, [](uint64_t seq, const Entry& x) { return seq < x.seq; });
  l.insert(pos, std::move(e));
  return true;
}

bool Queue::apply(ops::Park o) {
  if (unacked_.contains(o.entry.seq)) return false;
  record(o, o.entry.msg.get());
  unacked_.emplace(o.entry.seq, std::move(o.entry));
  return true;
}

bool Queue::apply(ops::Purge o) {
  record(o, nullptr);
  clear_ready();
  return true;
}

bool Queue::apply(ops::Close o) {
  record(o, nullptr);
  closed_ = true;
  clear_ready();
  unacked_.clear();
  return true;
}

QueueState Queue::state() const {
  QueueState s;
  s.ready.reserve(ready_count_);
  for (size_t i = lanes_.size(); i-- > 0;) s.ready.insert(s.ready.end(), lanes_[i].begin(), lanes_[i].end());
  for (const auto& [seq, e] : unacked_) s.unacked.push_back(e);
  s.next_seq = next_seq_;
  s.closed = closed_;
  return s;
}

}  // namespace warren::broker
