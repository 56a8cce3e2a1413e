// Queue: ready messages in per-priority lanes, consumers served by credit,
// unsettled deliveries by sequence number. This file decides: it reads the
// state and `now`, and changes the state only by apply() (queue_apply.cpp).
// It calls nobody while it does: deliveries, cancellations, dead letters
// and unused reports are effects in the outbox (outbox.hpp), run when the
// operation is complete. So no loop here can find the queue changed under
// it by a callee.
#include "broker/queue.hpp"

#include <algorithm>

#include "broker/lock_queue.hpp"

namespace warren::broker {

namespace {
constexpr Duration kMaxTtl{4294967295};  // RabbitMQ's ?MAX_EXPIRY_TIMER
}  // namespace

Queue::Queue(Options opts, QueueHost& host, TimePoint now)
    : opts_(std::move(opts)),
      host_(host),
      outbox_(host.outbox()),
      lanes_(size_t(opts_.args.max_priority) + 1),
      last_used_(now) {
  if (opts_.args.type == QueueType::Lock) lock_ = std::make_unique<LockQueue>(*this, opts_.args.lock, opts_.lock_tokens);
  report_deadline();  // x-expires runs from creation
}

Queue::~Queue() = default;

uint64_t Queue::ready_count() const { return lock_ ? lock_->available() : ready_count_; }
uint64_t Queue::unacked_count() const { return lock_ ? lock_->holders() : unacked_.size(); }

Error Queue::check_get(bool no_ack) const { return lock_ ? lock_->check_get(no_ack) : Error::none(); }

void Queue::report_deadline() {
  std::optional<TimePoint> d = next_deadline();
  if (d == reported_deadline_) return;
  std::optional<TimePoint> before = reported_deadline_;
  reported_deadline_ = d;
  host_.deadline_changed(*this, before, d);
}

void Queue::credit_changed(TimePoint now) {
  Op op(*this);
  if (lock_) return lock_->credit_changed(now);
  dispatch(now);
}

void Queue::touch(TimePoint now) {
  Op op(*this);
  last_used_ = now;
}

Queue::Entry* Queue::peek_ready() {
  for (size_t i = lanes_.size(); i-- > 0;) {
    Lane& l = lanes_[i];
    if (Entry* e = lane_front(l)) return e;
    if (!l.paged.empty()) return nullptr;  // a higher priority waits for its read
  }
  return nullptr;
}

Queue::Entry* Queue::lane_front(Lane& l) {
  if (l.head.empty() && l.paged.empty() && !l.tail.empty()) {
    std::swap(l.head, l.tail);
    std::swap(l.head_bytes, l.tail_bytes);
  }
  return l.head.empty() ? nullptr : &l.head.front();
}

TimePoint Queue::expiry_for(const Message& m, TimePoint now) const {
  std::optional<Duration> ttl = opts_.args.message_ttl;
  if (auto t = m.ttl(); t && (!ttl || *t < *ttl)) ttl = t;
  if (!ttl) return kNever;
  return now + std::clamp(*ttl, Duration::zero(), kMaxTtl);
}

// ---------------------------------------------------------------- limits

bool Queue::over_limit(size_t extra_bytes, size_t extra_count) const {
  const QueueArgs& a = opts_.args;
  if (a.max_length && ready_count_ + extra_count > *a.max_length) return true;
  if (a.max_length_bytes && ready_bytes_ + extra_bytes > *a.max_length_bytes) return true;
  return false;
}

void Queue::dead_letter(MessagePtr msg, DeadReason why, TimePoint now) {
  if (opts_.args.dead_letter_exchange)
    outbox_.push(effects::DeadLetter{shared_from_this(), std::move(msg), why, now});
}

void Queue::drop(uint64_t seq, Removal why, TimePoint now) {
  std::optional<Entry> gone;
  if (!apply(ops::Remove{seq, why}, &gone)) return;
  dead_letter(std::move(gone->msg),
              why == Removal::Rejected  ? DeadReason::Rejected
              : why == Removal::Expired ? DeadReason::Expired
                                        : DeadReason::MaxLen,
              now);
}

// Only heads expire (as in RabbitMQ): a message behind one without a TTL
// waits for it.
void Queue::drop_expired(TimePoint now) {
  for (Lane& l : lanes_) {
    for (Entry* e; (e = lane_front(l)) && e->expires <= now;) drop(e->seq, Removal::Expired, now);
  }
}

// drop-head: the oldest ready messages make room. The reject-publish modes
// refuse at the door instead (publish), so requeues never drop there.
void Queue::enforce_limits(TimePoint now) {
  if (opts_.args.overflow != Overflow::DropHead) return;
  while (over_limit(0, 0)) {
    const Entry* head = peek_ready();
    if (!head) break;  // or paged: once read back
    drop(head->seq, Removal::MaxLen, now);
  }
}

// ------------------------------------------------------------- publishing

Queue::Accept Queue::publish(MessagePtr msg, TimePoint now) {
  Op op(*this);
  if (closed_) return Accept::Enqueued;  // deleted while the message was on its way: gone with it
  if (lock_) return lock_->verify(*msg, now) ? Accept::Enqueued : Accept::Rejected;
  drop_expired(now);
  if (opts_.args.overflow != Overflow::DropHead && over_limit(msg->size(), 1)) {
    if (opts_.args.overflow == Overflow::RejectPublishDlx) dead_letter(std::move(msg), DeadReason::MaxLen, now);
    return Accept::Rejected;
  }
  const uint64_t seq = next_seq_;
  const TimePoint expires = expiry_for(*msg, now);
  apply(ops::Enqueue{seq, std::move(msg), expires});
  ++counts_.publish;
  fresh_seq_ = seq;
  dispatch(now);
  fresh_seq_ = 0;
  enforce_limits(now);
  if (expires <= now) drop(seq, Removal::Expired, now);  // if still ready
  return Accept::Enqueued;
}

std::optional<Delivery> Queue::get(bool no_ack, TimePoint now) {
  Op op(*this);
  if (closed_) return std::nullopt;
  touch(now);
  if (lock_) return no_ack ? std::nullopt : lock_->get(now);
  drop_expired(now);
  const Entry* head = peek_ready();
  while (!head && paged_count_) {
    // The head is out, its read not back yet: read it now rather than
    // answer empty.
    Lane* l = nullptr;
    for (size_t i = lanes_.size(); i-- > 0 && !l;)
      if (lanes_[i].head.empty() && !lanes_[i].paged.empty()) l = &lanes_[i];
    if (!l || !page_in_now(*l, now)) break;
    drop_expired(now);
    head = peek_ready();
  }
  if (!head) {
    ++counts_.get_empty;
    return std::nullopt;
  }
  const uint64_t seq = head->seq;
  ++(no_ack ? counts_.get_no_ack : counts_.get);
  if (head->redelivered) ++counts_.redeliver;
  if (no_ack) {
    std::optional<Entry> e;
    apply(ops::Remove{seq, Removal::Consumed}, &e);
    return Delivery{weak_from_this().lock(), seq, std::move(e->msg), e->redelivered, e->delivery_count};
  }
  Delivery d{weak_from_this().lock(), seq, head->msg, head->redelivered, head->delivery_count};
  apply(ops::Acquire{seq});
  return d;
}

// -------------------------------------------------------------- consumers

Error Queue::add_consumer(ConsumerSlot slot, TimePoint now) {
  Op op(*this);
  if (closed_) return Error::make(ErrorCode::NotFound, "no " + resource("queue", opts_.name, opts_.vhost));
  bool held = std::any_of(consumers_.begin(), consumers_.end(), [](const ConsumerSlot& s) { return s.exclusive; });
  if (held || (slot.exclusive && !consumers_.empty()))
    return Error::make(ErrorCode::AccessRefused, resource("queue", opts_.name, opts_.vhost) + " in exclusive use");
  if (lock_)
    if (Error e = lock_->check_consumer(slot)) return e;
  touch(now);
  consumers_.push_back(std::move(slot));
  if (lock_) {
    lock_->consumer_added(consumers_.back(), now);
    return Error::none();
  }
  if (opts_.args.single_active_consumer && consumers_.size() == 1)
    outbox_.push(effects::Activate{consumers_.front().consumer, true});
  dispatch(now);
  return Error::none();
}

void Queue::remove_consumer(Consumer* c, TimePoint now) {
  Op op(*this);
  // What was decided for it and not yet run is withdrawn, whether or not
  // it is still here (a closed queue dropped it already): the front end
  // may destroy it once this returns. Its deliveries come back.
  std::vector<effects::Deliver> back;
  outbox_.withdraw(c, back);
  if (!closed_)
    for (effects::Deliver& d : back) lock_ ? lock_->release(d.entry.seq, now) : take_back(d);
  if (lock_ && !closed_) lock_->consumer_removed(c, now);
  std::optional<size_t> index = erase_consumer(c);
  if (!index) return;
  if (closed_) return;
  if (consumers_.empty()) {
    last_used_ = now;  // x-expires counts from here
    if (opts_.auto_delete) return report_unused();
    return;
  }
  if (lock_) return;
  if (opts_.args.single_active_consumer && index == 0) outbox_.push(effects::Activate{consumers_.front().consumer, true});
  dispatch(now);
}

std::optional<size_t> Queue::erase_consumer(Consumer* c) {
  auto it = std::find_if(consumers_.begin(), consumers_.end(), [&](const ConsumerSlot& s) { return s.consumer == c; });
  if (it == consumers_.end()) return std::nullopt;
  const size_t index = size_t(it - consumers_.begin());
  consumers_.erase(it);
  if (round_robin_ > index) --round_robin_;
  if (round_robin_ >= consumers_.size()) round_robin_ = 0;
  return index;
}

void Queue::report_unused() {
  if (unused_reported_) return;
  unused_reported_ = true;
  outbox_.push(effects::Unused{shared_from_this()});
}

// The highest-priority consumer with credit; round robin among equals,
// starting after the last one served. With single active consumer, only
// the first registered.
ConsumerSlot* Queue::next_consumer() {
  if (consumers_.empty()) return nullptr;
  if (opts_.args.single_active_consumer) {
    ConsumerSlot& s = consumers_.front();
    return s.consumer->credit() > s.consumer->waiting_ ? &s : nullptr;
  }
  const size_t n = consumers_.size();
  size_t best = n;
  for (size_t i = 0; i < n; ++i) {
    size_t idx = (round_robin_ + i) % n;
    const ConsumerSlot& s = consumers_[idx];
    if (s.consumer->credit() <= s.consumer->waiting_) continue;
    if (best == n || s.priority > consumers_[best].priority) best = idx;
  }
  if (best == n) return nullptr;
  round_robin_ = (best + 1) % n;
  return &consumers_[best];
}

void Queue::dispatch(TimePoint now) {
  QueuePtr self;  // one lookup per dispatch, copied into each delivery
  while (!closed_ && ready_count_ > 0) {
    const Entry* head = peek_ready();
    if (!head) break;  // paged out: dispatched again when read back
    const uint64_t seq = head->seq;
    if (head->expires <= now && seq != fresh_seq_) {
      drop(seq, Removal::Expired, now);
      continue;
    }
    ConsumerSlot* slot = next_consumer();
    if (!slot) break;
    if (slot->consumer->settles_on_delivery()) {
      std::optional<Entry> e;
      apply(ops::Remove{seq, Removal::Consumed}, &e);
      push_delivery(*slot, std::move(*e), true, self);
    } else {
      Entry e = *head;
      apply(ops::Acquire{seq});
      push_delivery(*slot, std::move(e), false, self);
    }
  }
}

void Queue::push_delivery(ConsumerSlot& slot, QueueEntry&& entry, bool settled, QueuePtr& self) {
  if (!self) self = shared_from_this();
  ++(settled ? counts_.deliver_no_ack : counts_.deliver);
  if (entry.redelivered) ++counts_.redeliver;
  slot.consumer->waiting_ += 1;
  outbox_.emplace<effects::Deliver>(self, slot.consumer, std::move(entry), settled);
}

// Not while the queue is deleted meanwhile: its entries went with it.
// Park and Remove change no deadline and push no effect: no Op.
void Queue::hand_over(effects::Deliver& d) {
  if (closed_) return;
  if (lock_) return lock_->hand_over(d);
  QueueEntry& e = d.entry;
  // A tracked entry keeps its own message in the unacked: this one is
  // the consumer's. A settled one may still be parked, and keeps it.
  MessagePtr msg = d.settled ? e.msg : std::move(e.msg);
  const bool kept = d.consumer->deliver(Delivery{d.queue, e.seq, std::move(msg), e.redelivered, e.delivery_count});
  if (closed_) return;
  if (d.settled) {
    if (!kept) apply(ops::Park{std::move(d.entry)});  // unsent: tracked until its consumer settles it
  } else if (kept) {
    apply(ops::Remove{d.entry.seq, Removal::Acked});  // settled on receipt, if still unacked
  }
}

void Queue::take_back(effects::Deliver& d) {
  if (d.settled && !apply(ops::Park{d.entry})) return;
  apply(ops::Requeue{d.entry.seq, d.entry.delivery_count});
}

// ------------------------------------------------------------- settlement

void Queue::settle(uint64_t seq, Outcome outcome, TimePoint now) {
  Op op(*this);
  if (closed_) return;
  if (lock_) return lock_->release(seq, now);  // a grant ends however it is settled
  switch (outcome) {
    case Outcome::Accepted:
      if (apply(ops::Remove{seq, Removal::Acked})) ++counts_.ack;
      return;
    case Outcome::Rejected: return drop(seq, Removal::Rejected, now);
    case Outcome::Modified:
    case Outcome::Released: {
      auto it = unacked_.find(seq);
      if (it == unacked_.end()) return;
      const uint32_t count = it->second.delivery_count + (outcome == Outcome::Modified ? 1 : 0);
      apply(ops::Requeue{seq, count});
      // As RabbitMQ's requeue_and_run: drop-head first, then expiry, then deliver.
      enforce_limits(now);
      drop_expired(now);
      dispatch(now);
      return;
    }
  }
}

uint64_t Queue::purge(TimePoint now) {
  Op op(*this);
  (void)now;
  const uint64_t n = ready_count_;
  if (n > 0) apply(ops::Purge{});
  return n;
}

void Queue::close() {
  Op op(*this);
  if (closed_) return;
  apply(ops::Close{});
  if (lock_) lock_->close();
  for (ConsumerSlot& s : consumers_) outbox_.push(effects::Cancel{s.consumer});
  consumers_.clear();
  round_robin_ = 0;
}

// ------------------------------------------------------------------- time

void Queue::advance(TimePoint now) {
  Op op(*this);
  if (closed_) return;
  if (lock_) lock_->advance(now);
  drop_expired(now);
  if (opts_.args.expires && consumers_.empty() && now >= last_used_ + *opts_.args.expires) report_unused();
}

std::optional<TimePoint> Queue::next_deadline() const {
  if (closed_) return std::nullopt;
  std::optional<TimePoint> d;
  for (const Lane& l : lanes_) {
    // A paged head's expiry is looked at once it is read back.
    const Entry* front = !l.head.empty() ? &l.head.front() : l.paged.empty() && !l.tail.empty() ? &l.tail.front() : nullptr;
    if (front && front->expires != kNever && (!d || front->expires < *d)) d = front->expires;
  }
  if (lock_)
    if (auto t = lock_->next_deadline(); t && (!d || *t < *d)) d = t;
  if (opts_.args.expires && consumers_.empty() && !unused_reported_) {
    TimePoint t = last_used_ + *opts_.args.expires;
    if (!d || t < *d) d = t;
  }
  return d;
}

}  // namespace warren::broker
