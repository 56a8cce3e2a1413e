// Queue: ready messages in per-priority lanes, consumers served by credit,
// unsettled deliveries by sequence number. Every call that hands control
// out (Consumer::deliver, QueueHost::dead_letter, cancelled_by_queue) is
// made with the queue in a consistent state, and loops re-check closed_
// afterwards: the callee may publish into this queue or close it.
#include "broker/queue.hpp"

#include <algorithm>

namespace warren::broker {

namespace {
constexpr Duration kMaxTtl{4294967295};  // RabbitMQ's ?MAX_EXPIRY_TIMER

struct FlagReset {
  bool& flag;
  ~FlagReset() { flag = false; }
};
}  // namespace

Queue::Queue(Options opts, QueueHost& host, TimePoint now)
    : opts_(std::move(opts)), host_(host), lanes_(size_t(opts_.args.max_priority) + 1), last_used_(now) {
  report_deadline();  // x-expires runs from creation
}

void Queue::report_deadline() {
  std::optional<TimePoint> d = next_deadline();
  if (d == reported_deadline_) return;
  std::optional<TimePoint> before = reported_deadline_;
  reported_deadline_ = d;
  host_.deadline_changed(*this, before, d);
}

void Queue::credit_changed(TimePoint now) {
  DeadlineWatch watch(*this);
  dispatch(now);
}

void Queue::touch(TimePoint now) {
  DeadlineWatch watch(*this);
  last_used_ = now;
}

std::deque<Queue::Entry>& Queue::lane(uint8_t priority) {
  return lanes_[std::min<size_t>(priority, lanes_.size() - 1)];
}

TimePoint Queue::expiry_for(const Message& m, TimePoint now) const {
  std::optional<Duration> ttl = opts_.args.message_ttl;
  if (auto t = m.ttl(); t && (!ttl || *t < *ttl)) ttl = t;
  if (!ttl) return kNever;
  return now + std::clamp(*ttl, Duration::zero(), kMaxTtl);
}

// ------------------------------------------------------------ ready lanes

void Queue::enqueue(Entry e) {
  ready_count_ += 1;
  ready_bytes_ += e.msg->size();
  lane(e.msg->priority()).push_back(std::move(e));
}

// Back where it was: lanes stay ordered by sequence number.
void Queue::requeue(Entry e) {
  ready_count_ += 1;
  ready_bytes_ += e.msg->size();
  auto& l = lane(e.msg->priority());
  auto pos = std::upper_bound(l.begin(), l.end(), e.seq, [](uint64_t seq, const Entry& x) { return seq < x.seq; });
  l.insert(pos, std::move(e));
}

void Queue::note_removed(const Entry& e) {
  ready_count_ -= 1;
  ready_bytes_ -= e.msg->size();
}

const Queue::Entry* Queue::peek_ready() const {
  for (size_t i = lanes_.size(); i-- > 0;)
    if (!lanes_[i].empty()) return &lanes_[i].front();
  return nullptr;
}

std::optional<Queue::Entry> Queue::pop_ready() {
  for (size_t i = lanes_.size(); i-- > 0;) {
    auto& l = lanes_[i];
    if (l.empty()) continue;
    Entry e = std::move(l.front());
    l.pop_front();
    note_removed(e);
    return e;
  }
  return std::nullopt;
}

std::optional<Queue::Entry> Queue::take_ready(uint64_t seq) {
  for (auto& l : lanes_) {
    for (auto it = l.end(); it != l.begin();) {
      --it;
      if (it->seq < seq) break;
      if (it->seq != seq) continue;
      Entry e = std::move(*it);
      l.erase(it);
      note_removed(e);
      return e;
    }
  }
  return std::nullopt;
}

bool Queue::over_limit(size_t extra_bytes, size_t extra_count) const {
  const QueueArgs& a = opts_.args;
  if (a.max_length && ready_count_ + extra_count > *a.max_length) return true;
  if (a.max_length_bytes && ready_bytes_ + extra_bytes > *a.max_length_bytes) return true;
  return false;
}

void Queue::discard(Entry e, DeadReason why, TimePoint now) {
  if (opts_.args.dead_letter_exchange) host_.dead_letter(*this, std::move(e.msg), why, now);
}

// Only heads expire (as in RabbitMQ): a message behind one without a TTL
// waits for it.
void Queue::drop_expired(TimePoint now) {
  for (size_t i = 0; i < lanes_.size() && !closed_; ++i) {
    while (!closed_ && !lanes_[i].empty()) {
      const Entry& head = lanes_[i].front();
      if (head.expires > now) break;
      Entry e = std::move(lanes_[i].front());
      lanes_[i].pop_front();
      note_removed(e);
      discard(std::move(e), DeadReason::Expired, now);
    }
  }
}

// drop-head: the oldest ready messages make room. The reject-publish modes
// refuse at the door instead (publish), so requeues never drop there.
void Queue::enforce_limits(TimePoint now) {
  if (opts_.args.overflow != Overflow::DropHead) return;
  while (!closed_ && over_limit(0, 0)) {
    std::optional<Entry> e = pop_ready();
    if (!e) break;
    discard(std::move(*e), DeadReason::MaxLen, now);
  }
}

// ------------------------------------------------------------- publishing

Queue::Accept Queue::publish(MessagePtr msg, TimePoint now) {
  DeadlineWatch watch(*this);
  if (closed_) return Accept::Enqueued;  // deleted while the message was on its way: gone with it
  drop_expired(now);
  if (opts_.args.overflow != Overflow::DropHead && over_limit(msg->size(), 1)) {
    if (opts_.args.overflow == Overflow::RejectPublishDlx) discard(Entry{std::move(msg), 0}, DeadReason::MaxLen, now);
    return Accept::Rejected;
  }
  Entry e{std::move(msg), next_seq_++};
  e.expires = expiry_for(*e.msg, now);
  const uint64_t seq = e.seq;
  const bool dies_now = e.expires <= now;
  enqueue(std::move(e));
  const uint64_t outer_fresh = fresh_seq_;  // publish can nest (a consumer publishing from deliver())
  fresh_seq_ = seq;
  dispatch(now);
  fresh_seq_ = outer_fresh;
  enforce_limits(now);
  if (dies_now && !closed_)
    if (std::optional<Entry> left = take_ready(seq)) discard(std::move(*left), DeadReason::Expired, now);
  return Accept::Enqueued;
}

std::optional<Delivery> Queue::get(bool no_ack, TimePoint now) {
  DeadlineWatch watch(*this);
  if (closed_) return std::nullopt;
  touch(now);
  drop_expired(now);
  if (closed_) return std::nullopt;
  std::optional<Entry> e = pop_ready();
  if (!e) return std::nullopt;
  Delivery d{weak_from_this().lock(), e->seq, e->msg, e->redelivered, e->delivery_count};
  if (!no_ack) unacked_.emplace(e->seq, std::move(*e));
  return d;
}

// -------------------------------------------------------------- consumers

Error Queue::add_consumer(ConsumerSlot slot, TimePoint now) {
  DeadlineWatch watch(*this);
  if (closed_) return Error::make(ErrorCode::NotFound, "no " + resource("queue", opts_.name, opts_.vhost));
  bool held = std::any_of(consumers_.begin(), consumers_.end(), [](const ConsumerSlot& s) { return s.exclusive; });
  if (held || (slot.exclusive && !consumers_.empty()))
    return Error::make(ErrorCode::AccessRefused, resource("queue", opts_.name, opts_.vhost) + " in exclusive use");
  touch(now);
  consumers_.push_back(std::move(slot));
  if (opts_.args.single_active_consumer && consumers_.size() == 1) consumers_.front().consumer->active_changed(true);
  dispatch(now);
  return Error::none();
}

void Queue::remove_consumer(Consumer* c, TimePoint now) {
  DeadlineWatch watch(*this);
  auto it = std::find_if(consumers_.begin(), consumers_.end(), [&](const ConsumerSlot& s) { return s.consumer == c; });
  if (it == consumers_.end()) return;
  const size_t index = size_t(it - consumers_.begin());
  consumers_.erase(it);
  if (round_robin_ > index) --round_robin_;
  if (round_robin_ >= consumers_.size()) round_robin_ = 0;
  if (closed_) return;
  if (consumers_.empty()) {
    last_used_ = now;  // x-expires counts from here
    if (opts_.auto_delete) return report_unused();
    return;
  }
  if (opts_.args.single_active_consumer && index == 0) consumers_.front().consumer->active_changed(true);
  dispatch(now);
}

void Queue::report_unused() {
  if (unused_reported_) return;
  unused_reported_ = true;
  host_.queue_unused(*this);
}

// The highest-priority consumer with credit; round robin among equals,
// starting after the last one served. With single active consumer, only
// the first registered.
ConsumerSlot* Queue::next_consumer() {
  if (consumers_.empty()) return nullptr;
  if (opts_.args.single_active_consumer) {
    ConsumerSlot& s = consumers_.front();
    return s.consumer->credit() > 0 ? &s : nullptr;
  }
  const size_t n = consumers_.size();
  size_t best = n;
  for (size_t i = 0; i < n; ++i) {
    size_t idx = (round_robin_ + i) % n;
    const ConsumerSlot& s = consumers_[idx];
    if (s.consumer->credit() == 0) continue;
    if (best == n || s.priority > consumers_[best].priority) best = idx;
  }
  if (best == n) return nullptr;
  round_robin_ = (best + 1) % n;
  return &consumers_[best];
}

void Queue::dispatch(TimePoint now) {
  if (dispatching_) {
    redispatch_ = true;
    return;
  }
  QueuePtr self = weak_from_this().lock();  // a deliver() may drop the last other reference
  dispatching_ = true;
  FlagReset reset{dispatching_};
  do {
    redispatch_ = false;
    while (!closed_ && ready_count_ > 0) {
      const Entry* head = peek_ready();
      if (head->expires <= now && head->seq != fresh_seq_) {
        std::optional<Entry> dead = pop_ready();
        discard(std::move(*dead), DeadReason::Expired, now);
        continue;
      }
      ConsumerSlot* slot = next_consumer();
      if (!slot) break;
      Consumer* c = slot->consumer;
      std::optional<Entry> e = pop_ready();
      const uint64_t seq = e->seq;
      Delivery d{self, seq, e->msg, e->redelivered, e->delivery_count};
      if (c->settles_on_delivery()) {
        // Kept unsent (parked): tracked, unless the queue closed meanwhile.
        if (!c->deliver(std::move(d)) && !closed_) unacked_.emplace(seq, std::move(*e));
        continue;
      }
      // Tracked before the call: the consumer may settle it from inside.
      unacked_.emplace(seq, std::move(*e));
      if (c->deliver(std::move(d))) unacked_.erase(seq);
    }
  } while (redispatch_ && !closed_);
}

// ------------------------------------------------------------- settlement

void Queue::settle(uint64_t seq, Outcome outcome, TimePoint now) {
  DeadlineWatch watch(*this);
  if (closed_) return;
  auto it = unacked_.find(seq);
  if (it == unacked_.end()) return;
  Entry e = std::move(it->second);
  unacked_.erase(it);
  switch (outcome) {
    case Outcome::Accepted: return;
    case Outcome::Rejected: return discard(std::move(e), DeadReason::Rejected, now);
    case Outcome::Modified: e.delivery_count = e.delivery_count + 1; [[fallthrough]];
    case Outcome::Released:
      e.redelivered = true;
      requeue(std::move(e));
      // As RabbitMQ's requeue_and_run: drop-head first, then expiry, then deliver.
      enforce_limits(now);
      drop_expired(now);
      dispatch(now);
      return;
  }
}

uint64_t Queue::purge(TimePoint now) {
  DeadlineWatch watch(*this);
  (void)now;
  uint64_t n = ready_count_;
  for (auto& l : lanes_) l.clear();
  ready_count_ = 0;
  ready_bytes_ = 0;
  return n;
}

void Queue::close() {
  DeadlineWatch watch(*this);
  if (closed_) return;
  closed_ = true;
  for (auto& l : lanes_) l.clear();
  ready_count_ = 0;
  ready_bytes_ = 0;
  unacked_.clear();
  std::vector<ConsumerSlot> gone;
  gone.swap(consumers_);
  round_robin_ = 0;
  for (ConsumerSlot& s : gone) s.consumer->cancelled_by_queue();
}

// ------------------------------------------------------------------- time

void Queue::advance(TimePoint now) {
  DeadlineWatch watch(*this);
  if (closed_) return;
  drop_expired(now);
  if (closed_) return;
  if (opts_.args.expires && consumers_.empty() && now >= last_used_ + *opts_.args.expires) report_unused();
}

std::optional<TimePoint> Queue::next_deadline() const {
  if (closed_) return std::nullopt;
  std::optional<TimePoint> d;
  for (const auto& l : lanes_)
    if (!l.empty() && l.front().expires != kNever && (!d || l.front().expires < *d)) d = l.front().expires;
  if (opts_.args.expires && consumers_.empty() && !unused_reported_) {
    TimePoint t = last_used_ + *opts_.args.expires;
    if (!d || t < *d) d = t;
  }
  return d;
}

}  // namespace warren::broker
