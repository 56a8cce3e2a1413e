#include "broker/unsettled.hpp"

#include <algorithm>

namespace warren::broker {

Unsettled::~Unsettled() { settle_all(Outcome::Released, last_now_); }

uint64_t Unsettled::track(Delivery d, uint64_t consumer) {
  if (!outbox_ && d.queue) outbox_ = &d.queue->outbox();
  uint64_t tag = next_tag_++;
  tracked_.push_back(Tracked{tag, std::move(d), consumer, false});
  ++live_;
  return tag;
}

size_t Unsettled::index_of(uint64_t tag) const {
  auto it = std::lower_bound(tracked_.begin(), tracked_.end(), tag,
                             [](const Tracked& t, uint64_t value) { return t.tag < value; });
  return size_t(it - tracked_.begin());
}

Unsettled::Tracked* Unsettled::find(uint64_t tag) {
  size_t i = index_of(tag);
  if (i < tracked_.size() && tracked_[i].tag == tag && !tracked_[i].settled) return &tracked_[i];
  return nullptr;
}

void Unsettled::settle_one(Tracked& t, Outcome outcome, TimePoint now, std::vector<uint64_t>* settled) {
  t.settled = true;
  --live_;
  if (settled) settled->push_back(t.consumer);
  QueuePtr q = std::move(t.delivery.queue);
  const uint64_t seq = t.delivery.seq;
  t.delivery.message.reset();
  if (q) q->settle(seq, outcome, now);
}

bool Unsettled::settle(uint64_t tag, bool multiple, Outcome outcome, TimePoint now, std::vector<uint64_t>& settled) {
  last_now_ = now;
  if (multiple && tag == 0) {
    settle_all(outcome, now, &settled);
    return true;
  }
  Tracked* t = find(tag);
  if (!t) return false;  // like RabbitMQ, a bad tag settles nothing, even with `multiple`
  {
    Outbox::Operation op(outbox_);
    if (!multiple) {
      settle_one(*t, outcome, now, &settled);
    } else {
      const size_t last = index_of(tag);
      for (size_t i = 0; i <= last; ++i)
        if (!tracked_[i].settled) settle_one(tracked_[i], outcome, now, &settled);
    }
    trim();
  }
  return true;
}

void Unsettled::settle_range(uint64_t first, uint64_t last, Outcome outcome, TimePoint now,
                           std::vector<uint64_t>& settled) {
  last_now_ = now;
  if (first > last) return;
  Outbox::Operation op(outbox_);
  for (size_t i = index_of(first); i < tracked_.size() && tracked_[i].tag <= last; ++i)
    if (!tracked_[i].settled) settle_one(tracked_[i], outcome, now, &settled);
  trim();
}

// A Released delivery may come straight back to this session with a new
// tag, once this has returned: it is not released again.
void Unsettled::settle_all(Outcome outcome, TimePoint now, std::vector<uint64_t>* settled) {
  last_now_ = now;
  Outbox::Operation op(outbox_);
  for (Tracked& t : tracked_)
    if (!t.settled) settle_one(t, outcome, now, settled);
  trim();
}

void Unsettled::forget_queue(const Queue* q) {
  for (Tracked& t : tracked_) {
    if (t.settled || t.delivery.queue.get() != q) continue;
    t.settled = true;
    --live_;
    t.delivery.queue.reset();
    t.delivery.message.reset();
  }
  trim();
}

void Unsettled::trim() {
  while (!tracked_.empty() && tracked_.front().settled) tracked_.pop_front();
}

}  // namespace warren::broker
