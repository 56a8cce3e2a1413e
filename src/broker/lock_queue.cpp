// LockQueue: the lock (locks::RwLock) behind a lock queue's calls. The
// queue's Op around each call runs the effects (deliveries, cancels) once
// the call is complete, as for any queue.
#include "broker/lock_queue.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "broker/queue.hpp"

namespace warren::broker {

namespace {

locks::Options lock_options(const LockArgs& a) {
  locks::Options o;
  o.policy = a.policy;
  o.request_timeout = locks::kForever;  // a consumer waits as long as it stays
  // An offer waits this long for its consumer's credit (a channel's
  // prefetch taken by other queues' deliveries) before the next waiter's turn.
  o.confirm_timeout = std::chrono::seconds(30);
  if (a.kind == LockKind::Semaphore) o.max_shared = a.permits;
  o.unsafe_double_grant = a.unsafe_double_grant;
  return o;
}

}  // namespace

std::optional<LockMode> parse_lock_mode(std::string_view s) {
  if (s == "shared" || s == "read") return LockMode::Shared;
  if (s == "exclusive" || s == "write") return LockMode::Exclusive;
  return std::nullopt;
}

LockQueue::LockQueue(Queue& q, const LockArgs& args, locks::Token* tokens)
    : q_(q), args_(args), lock_(lock_options(args)) {
  if (tokens) lock_.share_tokens(tokens);
}

Error LockQueue::check_consumer(const ConsumerSlot& slot) const {
  const std::string rs = resource("queue", q_.name(), q_.options().vhost);
  if (slot.consumer->settles_on_delivery())
    return Error::make(ErrorCode::PreconditionFailed,
                       fmt::format("{} is a lock: its grants must be acknowledged (no_ack is refused)", rs));
  if (args_.kind == LockKind::Mutex && slot.lock_mode == LockMode::Shared)
    return Error::make(ErrorCode::PreconditionFailed, fmt::format("{} is a mutex: x-lock-mode 'shared' is for an rwlock", rs));
  if (args_.kind == LockKind::Semaphore && slot.lock_mode == LockMode::Exclusive)
    return Error::make(ErrorCode::PreconditionFailed,
                       fmt::format("{} is a semaphore: a consumer takes one permit, x-lock-mode 'exclusive' is for an rwlock", rs));
  return Error::none();
}

Error LockQueue::check_get(bool no_ack) const {
  if (!no_ack) return Error::none();
  return Error::make(ErrorCode::PreconditionFailed,
                     fmt::format("{} is a lock: basic.get must acknowledge its grant (no_ack is refused)",
                                 resource("queue", q_.name(), q_.options().vhost)));
}

LockQueue::Member* LockQueue::member(Consumer* c) {
  auto it = std::find_if(members_.begin(), members_.end(), [&](const Member& m) { return m.consumer == c; });
  return it == members_.end() ? nullptr : &*it;
}

LockQueue::Member* LockQueue::member_of(locks::OwnerId owner) {
  auto it = std::find_if(members_.begin(), members_.end(), [&](const Member& m) { return m.owner == owner; });
  return it == members_.end() ? nullptr : &*it;
}

bool LockQueue::has_credit(const Consumer* c) const { return c->credit() > c->waiting_; }

void LockQueue::consumer_added(const ConsumerSlot& slot, TimePoint now) {
  last_now_ = now;
  locks::Mode mode = args_.kind == LockKind::Semaphore ? locks::Mode::Shared
                     : slot.lock_mode == LockMode::Shared ? locks::Mode::Shared
                                                          : locks::Mode::Exclusive;
  members_.push_back(Member{slot.consumer, next_owner_++, mode, slot.owner, slot.tag});
  ask(members_.back(), now);
  pump(now);
}

void LockQueue::ask(Member& m, TimePoint now) {
  if (m.state != Member::State::Idle || !has_credit(m.consumer)) return;
  if (lock_.request(m.owner, m.mode, args_.lease, now) == locks::Failure::None) m.state = Member::State::Waiting;
}

void LockQueue::consumer_removed(Consumer* c, TimePoint now) {
  last_now_ = now;
  Member* m = member(c);
  if (!m) return;
  const locks::OwnerId owner = m->owner;
  for (const auto& [seq, g] : grants_)
    if (g.owner == owner) tell(LockEvent::Kind::Released, g);
  std::erase_if(grants_, [&](const auto& g) { return g.second.owner == owner; });
  std::erase_if(members_, [&](const Member& x) { return x.owner == owner; });
  lock_.disconnect(owner, now);  // its request, offer and grant, at once
  pump(now);
}

void LockQueue::credit_changed(TimePoint now) {
  last_now_ = now;
  lock_.advance(now);
  for (Member& m : members_) {
    if (m.state == Member::State::Offered && has_credit(m.consumer)) deliver(m, now);
    else ask(m, now);
  }
  pump(now);
}

std::optional<Delivery> LockQueue::get(TimePoint now) {
  last_now_ = now;
  const locks::OwnerId owner = next_owner_++;
  const locks::Mode mode = args_.kind == LockKind::Semaphore ? locks::Mode::Shared : locks::Mode::Exclusive;
  getter_ = owner;
  got_ = 0;
  got_permit_ = 0;
  if (lock_.request(owner, mode, args_.lease, now) == locks::Failure::None) pump(now);
  getter_ = 0;
  if (!got_) {
    lock_.cancel(owner, now);  // queued behind others: a try-lock does not wait
    pump(now);
    return std::nullopt;
  }
  const uint64_t seq = q_.next_seq_++;
  const Grant& g = grants_.emplace(seq, Grant{owner, got_, mode, nullptr, got_permit_}).first->second;
  tell(LockEvent::Kind::Granted, g);
  return Delivery{q_.shared_from_this(), seq, grant_message(g)};
}

bool LockQueue::verify(const Message& msg, TimePoint now) {
  last_now_ = now;
  const Properties& p = msg.properties();
  const Value* v = p.headers ? find(*p.headers, "x-fencing-token") : nullptr;
  std::optional<int64_t> token = v ? v->as_int() : std::nullopt;
  bool held = token && lock_.renew(locks::Token(*token), now);
  pump(now);
  return held;
}

void LockQueue::release(uint64_t seq, TimePoint now) {
  last_now_ = now;
  auto it = grants_.find(seq);
  if (it == grants_.end()) return;  // ended already (lease, cancel)
  const Grant g = it->second;
  grants_.erase(it);
  tell(LockEvent::Kind::Released, g);
  lock_.release(g.owner, g.token, now);
  if (Member* m = member_of(g.owner)) {
    m->state = Member::State::Idle;
    ask(*m, now);  // a standing request: in line again, behind the others
  }
  pump(now);
}

void LockQueue::hand_over(effects::Deliver& d) {
  QueueEntry& e = d.entry;
  const bool kept = d.consumer->deliver(Delivery{d.queue, e.seq, std::move(e.msg), false, 0});
  if (kept) release(e.seq, last_now_);  // settled on receipt: held for no time
}

void LockQueue::close() {
  members_.clear();
  grants_.clear();
}

void LockQueue::advance(TimePoint now) {
  last_now_ = now;
  lock_.advance(now);
  pump(now);
}

void LockQueue::pump(TimePoint now) {
  while (lock_.has_events()) {
    lock_.take_events(events_);
    for (const locks::Event& e : events_) {
      switch (e.kind) {
        case locks::Event::Kind::Offered:
          if (e.owner == getter_) {
            if (lock_.confirm(e.owner, e.token, now) == locks::Failure::None) {
              got_ = e.token;
              got_permit_ = e.permit;
            }
          } else if (Member* m = member_of(e.owner)) {
            m->state = Member::State::Offered;
            m->token = e.token;
            m->permit = e.permit;
            if (has_credit(m->consumer)) deliver(*m, now);
          } else {
            lock_.reject(e.owner, e.token, now);  // its asker left meanwhile
          }
          break;
        case locks::Event::Kind::Failed:
          // An offer its consumer had no credit for timed out: it asks
          // again when it has some.
          if (Member* m = member_of(e.owner)) m->state = Member::State::Idle;
          break;
        case locks::Event::Kind::Expired: lease_ended(e.token); break;
      }
    }
  }
}

void LockQueue::deliver(Member& m, TimePoint now) {
  if (lock_.confirm(m.owner, m.token, now) != locks::Failure::None) {
    m.state = Member::State::Idle;
    return;
  }
  m.state = Member::State::Held;
  auto slot = std::find_if(q_.consumers_.begin(), q_.consumers_.end(),
                           [&](const ConsumerSlot& s) { return s.consumer == m.consumer; });
  const uint64_t seq = q_.next_seq_++;
  const Grant& g = grants_.emplace(seq, Grant{m.owner, m.token, m.mode, m.consumer, m.permit}).first->second;
  tell(LockEvent::Kind::Granted, g);
  QueuePtr self;
  q_.push_delivery(*slot, QueueEntry(grant_message(g), seq), false, self);
}

// The holder did not renew in time: its grant is gone, and so is its
// consumer (told by basic.cancel / detach), so that it does not go on
// believing it holds. A later ack of the delivery does nothing.
void LockQueue::lease_ended(locks::Token token) {
  auto it = std::find_if(grants_.begin(), grants_.end(), [&](const auto& g) { return g.second.token == token; });
  if (it == grants_.end()) return;
  Consumer* c = it->second.consumer;
  const locks::OwnerId owner = it->second.owner;
  tell(LockEvent::Kind::LeaseEnded, it->second);
  grants_.erase(it);
  if (!c) return;  // basic.get's grant: its channel keeps the tag
  std::erase_if(members_, [&](const Member& m) { return m.owner == owner; });
  if (q_.erase_consumer(c)) q_.outbox_.push(effects::Cancel{c});
}

void LockQueue::tell(LockEvent::Kind k, const Grant& g) {
  if (k == LockEvent::Kind::Granted) last_token_ = std::max(last_token_, g.token);
  if (!args_.observer) return;
  uint64_t connection = 0;
  std::string_view tag;
  for (const Member& m : members_)
    if (m.owner == g.owner) connection = m.connection, tag = m.tag;
  args_.observer->lock_event(
      LockEvent{k, q_.name(), connection, tag, g.token, g.mode == locks::Mode::Shared, g.permit});
}

LockQueue::View LockQueue::view() const {
  const locks::Snapshot ls = lock_.snapshot();
  View v;
  v.last_token = last_token_;
  auto party = [&](locks::OwnerId owner, locks::Mode mode, locks::Token token, locks::Permit permit) {
    Party p;
    p.shared = mode == locks::Mode::Shared;
    p.token = token;
    p.permit = permit;
    for (const Member& m : members_)
      if (m.owner == owner) p.connection = m.connection, p.tag = m.tag;
    for (const auto& [seq, g] : grants_)
      if (g.owner == owner && g.token == token) p.delivery = seq;
    return p;
  };
  for (const auto& h : ls.holders) v.holders.push_back(party(h.owner, h.mode, h.token, h.permit));
  if (ls.offer) {
    v.waiters.push_back(party(ls.offer->owner, ls.offer->mode, ls.offer->token, ls.offer->permit));
    v.waiters.back().offered = true;
  }
  for (const auto& w : ls.waiters) v.waiters.push_back(party(w.owner, w.mode, 0, 0));
  return v;
}

// What a grant carries: the token in a header (and as the body, for
// clients that only read bodies), the lock and the mode; a semaphore's
// grant, its permit slot (x-lock-permit, 1..x-permits), which a resource
// fences by: the highest token it accepted for that slot.
MessagePtr LockQueue::grant_message(const Grant& g) const {
  Properties p;
  p.headers = Table{{"x-fencing-token", Value(int64_t(g.token))},
                    {"x-lock", Value(std::string(q_.name()))},
                    {"x-lock-mode", Value(std::string(g.mode == locks::Mode::Shared ? "shared" : "exclusive"))}};
  if (g.permit) p.headers->emplace_back("x-lock-permit", Value(int64_t(g.permit)));
  p.content_type = "text/plain";
  p.delivery_mode = 1;
  return Message::built("", q_.name(), std::move(p), std::make_shared<const std::string>(fmt::format("{}", g.token)));
}

}  // namespace warren::broker
