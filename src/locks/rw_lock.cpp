#include "locks/rw_lock.hpp"

#include <algorithm>
#include <cctype>
#include <iterator>

namespace warren::locks {

std::string_view to_string(Failure f) {
  switch (f) {
    case Failure::None: return "ok";
    case Failure::TimeoutWaitingForLock: return "timeout waiting for lock";
    case Failure::TimeoutWaitingForConfirm: return "timeout waiting for confirm";
    case Failure::TimeoutTooLong: return "timeout too long";
    case Failure::InvalidTtl: return "invalid ttl";
    case Failure::InvalidLockId: return "invalid lock id";
    case Failure::OfferRejected: return "offer rejected";
    case Failure::MultipleRequests: return "multiple lock requests";
    case Failure::Cancelled: return "request cancelled";
  }
  return "request failed";
}

std::string_view to_string(Mode m) { return m == Mode::Shared ? "read" : "write"; }

std::string_view to_string(Policy p) {
  switch (p) {
    case Policy::ReaderPreferred: return "ReaderPreferred";
    case Policy::WriterPreferred: return "WriterPreferred";
    case Policy::Fifo: return "FIFO";
  }
  return "?";
}

std::optional<Policy> parse_policy(std::string_view s) {
  for (Policy p : {Policy::ReaderPreferred, Policy::WriterPreferred, Policy::Fifo}) {
    std::string_view name = to_string(p);
    if (s.size() == name.size() &&
        std::equal(s.begin(), s.end(), name.begin(), [](char a, char b) { return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b)); }))
      return p;
  }
  return std::nullopt;
}

namespace {
// now + d without overflow: a TTL past the clock's range, or kForever, is never.
TimePoint after(TimePoint now, Duration d) {
  Duration room = std::chrono::duration_cast<Duration>(TimePoint::max() - now);
  return d < room ? now + d : TimePoint::max();
}
}  // namespace

RwLock::RwLock(Options opts, Token first_token) : opts_(opts), next_token_(first_token == 0 ? 1 : first_token) {}

Failure RwLock::request(OwnerId owner, Mode mode, std::optional<Duration> ttl, TimePoint now) {
  advance(now);
  if (ttl && *ttl <= Duration::zero()) return Failure::InvalidTtl;
  if (ttl && opts_.max_ttl > Duration::zero() && *ttl > opts_.max_ttl) return Failure::TimeoutTooLong;
  if (offer_ && offer_->owner == owner) return Failure::MultipleRequests;
  for (const Waiting& w : queue_)
    if (w.owner == owner) return Failure::MultipleRequests;
  queue_.push_back({owner, mode, ttl, now, after(now, opts_.request_timeout)});
  grant(now);
  return Failure::None;
}

Failure RwLock::confirm(OwnerId owner, Token token, TimePoint now) {
  advance(now);
  if (!offer_ || offer_->owner != owner || offer_->token != token) {
    Failure why = ended_reason(owner, token);
    // A late confirm of an offer that timed out says so; anything else is a bad id.
    return why == Failure::TimeoutWaitingForConfirm ? why : Failure::InvalidLockId;
  }
  std::optional<TimePoint> expires;
  if (offer_->ttl) expires = after(now, *offer_->ttl);
  held_.emplace(token, Held{owner, offer_->mode, now, expires, offer_->ttl, offer_->permit});
  if (offer_->mode == Mode::Exclusive) ++exclusive_held_;
  offer_.reset();
  grant(now);
  return Failure::None;
}

Failure RwLock::reject(OwnerId owner, Token token, TimePoint now) {
  advance(now);
  if (!offer_ || offer_->owner != owner || offer_->token != token) return Failure::InvalidLockId;
  end_token(owner, token, Failure::OfferRejected);
  free_permit(offer_->permit);
  offer_.reset();
  grant(now);
  return Failure::None;
}

bool RwLock::cancel(OwnerId owner, TimePoint now) {
  expire(now);  // not advance(): granting before withdrawing could offer to this very request
  if (offer_ && offer_->owner == owner) {
    end_token(owner, offer_->token, Failure::Cancelled);
    free_permit(offer_->permit);
    offer_.reset();
    grant(now);
    return true;
  }
  auto it = std::find_if(queue_.begin(), queue_.end(), [&](const Waiting& w) { return w.owner == owner; });
  if (it == queue_.end()) {
    grant(now);
    return false;
  }
  queue_.erase(it);
  grant(now);  // a writer at the head may have held back readers behind it
  return true;
}

Failure RwLock::release(OwnerId owner, Token token, TimePoint now) {
  advance(now);
  auto it = held_.find(token);
  if (it == held_.end() || it->second.owner != owner) return Failure::InvalidLockId;
  if (it->second.mode == Mode::Exclusive) --exclusive_held_;
  free_permit(it->second.permit);
  held_.erase(it);
  end_token(owner, token, Failure::None);
  grant(now);
  return Failure::None;
}

bool RwLock::renew(Token token, TimePoint now) {
  advance(now);
  auto it = held_.find(token);
  if (it == held_.end()) return false;
  if (it->second.ttl) it->second.expires = after(now, *it->second.ttl);
  return true;
}

uint32_t RwLock::available() const {
  if (exclusive_held_ > 0) return 0;
  if (opts_.max_shared == 0) return held_.empty() ? 1 : 0;
  return held_.size() >= opts_.max_shared ? 0 : uint32_t(opts_.max_shared - held_.size());
}

Status RwLock::status(OwnerId owner, Token token, TimePoint now) {
  advance(now);
  auto it = held_.find(token);
  if (it != held_.end()) return it->second.owner == owner ? Status::Active : Status::Unknown;
  if (offer_ && offer_->owner == owner && offer_->token == token) return Status::Ended;  // not active yet
  auto h = history_.find(owner);
  if (h != history_.end())
    for (const auto& [t, why] : h->second.ended)
      if (t == token) return Status::Ended;
  return Status::Unknown;
}

void RwLock::disconnect(OwnerId owner, TimePoint now) {
  expire(now);  // not advance(): granting before withdrawing could offer to the leaving owner
  if (offer_ && offer_->owner == owner) {
    free_permit(offer_->permit);
    offer_.reset();
  }
  std::erase_if(queue_, [&](const Waiting& w) { return w.owner == owner; });
  for (auto it = held_.begin(); it != held_.end();) {
    if (it->second.owner == owner) {
      if (it->second.mode == Mode::Exclusive) --exclusive_held_;
      free_permit(it->second.permit);
      it = held_.erase(it);
    } else {
      ++it;
    }
  }
  history_.erase(owner);
  grant(now);
}

void RwLock::advance(TimePoint now) {
  expire(now);
  grant(now);
}

void RwLock::expire(TimePoint now) {
  for (auto it = held_.begin(); it != held_.end();) {
    if (it->second.expires && *it->second.expires <= now) {
      const Held& h = it->second;
      if (h.mode == Mode::Exclusive) --exclusive_held_;
      emit(Event::Kind::Expired, h.owner, it->first, h.mode, Failure::None, h.permit);
      end_token(h.owner, it->first, Failure::None);
      free_permit(h.permit);
      it = held_.erase(it);
    } else {
      ++it;
    }
  }
  if (offer_ && offer_->deadline <= now) {
    emit(Event::Kind::Failed, offer_->owner, offer_->token, offer_->mode, Failure::TimeoutWaitingForConfirm,
         offer_->permit);
    end_token(offer_->owner, offer_->token, Failure::TimeoutWaitingForConfirm);
    free_permit(offer_->permit);
    offer_.reset();
  }
  for (auto it = queue_.begin(); it != queue_.end();) {
    if (it->deadline <= now) {
      emit(Event::Kind::Failed, it->owner, 0, it->mode, Failure::TimeoutWaitingForLock);
      it = queue_.erase(it);
    } else {
      ++it;
    }
  }
}

bool RwLock::compatible(Mode m) const {
  const size_t limit = opts_.unsafe_double_grant ? 2 : 1;
  if (exclusive_held_ >= limit) return false;
  if (m == Mode::Exclusive) return held_.size() < limit;
  if (exclusive_held_ > 0) return false;
  return opts_.max_shared == 0 || held_.size() < opts_.max_shared;
}

// Which waiter the policy offers next, if any may be offered now.
std::optional<size_t> RwLock::pick() const {
  if (queue_.empty() || exclusive_held_ >= (opts_.unsafe_double_grant ? 2u : 1u)) return std::nullopt;
  auto first = [&](Mode m) -> std::optional<size_t> {
    for (size_t i = 0; i < queue_.size(); ++i)
      if (queue_[i].mode == m) return i;
    return std::nullopt;
  };
  std::optional<size_t> i;
  switch (opts_.policy) {
    case Policy::Fifo: i = 0; break;
    case Policy::WriterPreferred: i = first(Mode::Exclusive); if (!i) i = first(Mode::Shared); break;
    case Policy::ReaderPreferred: i = first(Mode::Shared); if (!i) i = first(Mode::Exclusive); break;
  }
  if (i && compatible(queue_[*i].mode)) return i;
  return std::nullopt;
}

void RwLock::grant(TimePoint now) {
  if (offer_) return;  // an outstanding offer blocks every other grant
  std::optional<size_t> i = pick();
  if (!i) return;
  Waiting w = queue_[*i];
  queue_.erase(queue_.begin() + static_cast<std::ptrdiff_t>(*i));
  Token token = tokens_ ? (*tokens_)++ : next_token_++;
  const Permit permit = take_permit(w.mode);
  offer_ = Offered{w.owner, token, w.mode, w.ttl, now + opts_.confirm_timeout, permit};
  emit(Event::Kind::Offered, w.owner, token, w.mode, Failure::None, permit);
}

Permit RwLock::take_permit(Mode m) {
  if (opts_.max_shared == 0 || m != Mode::Shared) return 0;
  if (!permits_free_.empty()) return permits_free_.extract(permits_free_.begin()).value();
  return ++permits_top_;
}

void RwLock::free_permit(Permit p) {
  if (p == 0) return;
  if (p != permits_top_) {
    permits_free_.insert(p);
    return;
  }
  // The top slot: shrink past every free slot under it, so that the set
  // holds only slots below the top.
  --permits_top_;
  while (!permits_free_.empty() && *permits_free_.rbegin() == permits_top_) {
    permits_free_.erase(std::prev(permits_free_.end()));
    --permits_top_;
  }
}

Permit RwLock::permit_of(Token token) const {
  auto it = held_.find(token);
  return it == held_.end() ? 0 : it->second.permit;
}

void RwLock::end_token(OwnerId owner, Token token, Failure why) {
  auto& ended = history_[owner].ended;
  ended.emplace_back(token, why);
  if (ended.size() > kHistory) ended.pop_front();
}

Failure RwLock::ended_reason(OwnerId owner, Token token) const {
  auto h = history_.find(owner);
  if (h == history_.end()) return Failure::InvalidLockId;
  for (const auto& [t, why] : h->second.ended)
    if (t == token) return why;
  return Failure::InvalidLockId;
}

std::optional<TimePoint> RwLock::next_deadline() const {
  std::optional<TimePoint> d;
  auto consider = [&](TimePoint t) { if (!d || t < *d) d = t; };
  for (const auto& [t, h] : held_)
    if (h.expires) consider(*h.expires);
  if (offer_) consider(offer_->deadline);
  for (const Waiting& w : queue_)
    if (w.deadline != TimePoint::max()) consider(w.deadline);
  return d;
}

void RwLock::take_events(std::vector<Event>& out) {
  out.clear();
  out.swap(events_);
}

Snapshot RwLock::snapshot() const {
  Snapshot s;
  for (const auto& [t, h] : held_) s.holders.push_back({h.owner, t, h.mode, h.since, h.expires, h.permit});
  std::sort(s.holders.begin(), s.holders.end(), [](auto& a, auto& b) { return a.token < b.token; });
  if (offer_) s.offer = Snapshot::Offer{offer_->owner, offer_->token, offer_->mode, offer_->deadline, offer_->permit};
  for (const Waiting& w : queue_) s.waiters.push_back({w.owner, w.mode, w.since, w.deadline});
  s.next_token = next_token();
  return s;
}

}  // namespace warren::locks
