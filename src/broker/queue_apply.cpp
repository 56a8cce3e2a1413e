// Queue::apply: the one place a queue's entries, counts, next seq and
// closed flag change, one op at a time (queue_op.hpp). Nothing here reads
// a clock or hands control out, so the same ops give the same state.
#include <algorithm>

#include "broker/queue.hpp"

namespace warren::broker {

void Queue::clear_ready() {
  for (Lane& l : lanes_) l = Lane{};
  ready_count_ = 0;
  ready_bytes_ = 0;
  paged_count_ = 0;
}

Queue::Lane& Queue::lane(uint8_t priority) { return lanes_[std::min<size_t>(priority, lanes_.size() - 1)]; }

// Deliveries, expiry and drop-head take a lane's head, so heads are looked
// at first, inline; a message published with a TTL of 0 may be further in.
template <class Take>
bool Queue::take_ready(uint64_t seq, Take&& take) {
  Lane* lane = nullptr;
  std::deque<Entry>* in = nullptr;
  std::deque<Entry>::iterator it;
  for (auto l = lanes_.rbegin(); l != lanes_.rend() && !lane; ++l)
    if (!l->head.empty() && l->head.front().seq == seq) lane = &*l, in = &l->head, it = l->head.begin();
  // Lanes are ordered by seq.
  auto find = [&](std::deque<Entry>& d) {
    it = std::lower_bound(d.begin(), d.end(), seq, [](const Entry& x, uint64_t s) { return x.seq < s; });
    return it != d.end() && it->seq == seq;
  };
  for (Lane& l : lanes_) {
    if (lane) break;
    if (find(l.head)) lane = &l, in = &l.head;
    else if (find(l.tail)) lane = &l, in = &l.tail;
  }
  if (!lane) return false;
  const size_t size = it->msg->size();
  ready_count_ -= 1;
  ready_bytes_ -= size;
  (in == &lane->head ? lane->head_bytes : lane->tail_bytes) -= size;
  take(std::move(*it));
  if (it == in->begin())
    in->pop_front();
  else
    in->erase(it);
  return true;
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
  Lane& l = lane(o.msg->priority());
  // Behind anything paged, or waiting to be: the order stays by seq.
  const bool to_tail = !l.paged.empty() || !l.tail.empty();
  (to_tail ? l.tail_bytes : l.head_bytes) += o.msg->size();
  Entry& e = (to_tail ? l.tail : l.head).emplace_back(std::move(o.msg), o.seq, o.expires);
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

// Back where it was: lanes stay ordered by sequence number. It came from
// a head, so it goes back into it, unless entries after it were paged out
// meanwhile (a head of requeued ones only, cut past the window): then
// after them, into the tail. One between paged ones goes to the head: a
// redelivery a little early, as RabbitMQ's "where possible".
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
  Lane& l = lane(e.msg->priority());
  const bool to_tail = !l.paged.empty() && e.seq > l.paged.back().seq;
  std::deque<Entry>& d = to_tail ? l.tail : l.head;
  (to_tail ? l.tail_bytes : l.head_bytes) += e.msg->size();
  auto pos = std::upper_bound(d.begin(), d.end(), e.seq, [](uint64_t seq, const Entry& x) { return seq < x.seq; });
  d.insert(pos, std::move(e));
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
  for (size_t i = lanes_.size(); i-- > 0;) {
    const Lane& l = lanes_[i];
    s.ready.insert(s.ready.end(), l.head.begin(), l.head.end());
    for (const PagedEntry& p : l.paged) {
      QueueEntry& e = s.ready.emplace_back(nullptr, p.seq, p.expires);  // its message is in the log
      e.redelivered = p.redelivered;
    }
    s.ready.insert(s.ready.end(), l.tail.begin(), l.tail.end());
  }
  for (const auto& [seq, e] : unacked_) s.unacked.push_back(e);
  s.next_seq = next_seq_;
  s.closed = closed_;
  return s;
}

}  // namespace warren::broker
