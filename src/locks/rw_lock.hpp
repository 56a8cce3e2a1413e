#pragma once
// A read/write lock resource with offers, leases and fencing tokens,
// independent of any wire protocol and of the clock.
//
// Life of a request: request() queues it; when the policy picks it, the lock
// *offers* it (an Offered event carrying a fresh fencing token); the owner
// must confirm() before the confirm timeout or the offer is withdrawn. While
// an offer is outstanding no other request is granted. A confirmed lock is
// held until release(), its TTL passes, or its owner disconnects.
//
// Time is an input: every call takes `now`, and the caller asks
// next_deadline() when to call advance() again. Nothing here sleeps.
//
// The same class is a mutex (every request Exclusive), a read/write lock,
// and a counting semaphore (every request Shared, max_shared permits).
//
// Permits: with max_shared > 0, each Shared grant is for a permit slot
// 1..max_shared, the lowest not held and not under the outstanding offer,
// free again when the grant ends (release, expiry, disconnect, reject,
// cancel, confirm timeout). A resource fences a semaphore per permit: the
// highest token it accepted for that slot (docs/locks.md). Permit 0: not a
// semaphore's permit (Exclusive grants, Shared ones without max_shared).
#include <chrono>
#include <cstdint>
#include <deque>
#include <optional>
#include <set>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/time.hpp"

namespace warren::locks {

enum class Mode : uint8_t { Shared, Exclusive };
enum class Policy : uint8_t { ReaderPreferred, WriterPreferred, Fifo };

// Whoever holds or waits: a connection, a session. Opaque to the lock.
using OwnerId = uint64_t;
// A lock id. Strictly increasing in grant order, never reused: a fencing token.
using Token = uint64_t;
// A semaphore's permit slot, 1..max_shared; 0: none.
using Permit = uint32_t;

enum class Failure : uint8_t {
  None,
  TimeoutWaitingForLock,
  TimeoutWaitingForConfirm,
  TimeoutTooLong,
  InvalidTtl,
  InvalidLockId,
  OfferRejected,
  MultipleRequests,
  Cancelled,
};
// The REQFAIL text of socketlock (the seed's wording where it has one).
std::string_view to_string(Failure f);
std::string_view to_string(Mode m);
std::string_view to_string(Policy p);
std::optional<Policy> parse_policy(std::string_view s);

struct Options {
  Policy policy = Policy::WriterPreferred;
  Duration request_timeout = std::chrono::seconds(30);  // time to get an offer; kForever: none
  Duration confirm_timeout = std::chrono::seconds(30);  // time to confirm it
  Duration max_ttl = Duration::zero();                  // zero: no limit
  uint32_t max_shared = 0;                              // Shared holders at once; 0: no limit
  // A planted bug for the prover's selftest: two exclusive holders at once.
  bool unsafe_double_grant = false;
};
// A timeout that never ends (an AMQP consumer waits as long as it stays).
inline constexpr Duration kForever = Duration::max();

struct Event {
  enum class Kind : uint8_t {
    Offered,  // owner may confirm `token` in `mode`
    Failed,   // owner's request or offer ended with `reason` (token set for offers)
    Expired,  // owner's held lock `token` passed its TTL and is gone
  };
  Kind kind;
  OwnerId owner;
  Token token;  // 0 when the failure concerns a request never offered
  Mode mode;
  Failure reason;
  Permit permit = 0;  // Offered (and Failed/Expired of a grant): its slot
};

enum class Status : uint8_t {
  Active,   // held by this owner
  Ended,    // was this owner's (offered, released, expired): LOCKTIMEOUT
  Unknown,  // never this owner's, or too long ago: invalid lock id
};

// What `socketlock status` shows.
struct Snapshot {
  struct Holder { OwnerId owner; Token token; Mode mode; TimePoint since; std::optional<TimePoint> expires; Permit permit = 0; };
  struct Offer { OwnerId owner; Token token; Mode mode; TimePoint deadline; Permit permit = 0; };
  struct Waiter { OwnerId owner; Mode mode; TimePoint since; TimePoint deadline; };
  std::vector<Holder> holders;
  std::optional<Offer> offer;
  std::vector<Waiter> waiters;
  Token next_token;
};

class RwLock {
 public:
  explicit RwLock(Options opts, Token first_token = 1);

  // Queues a request. Immediate failures: MultipleRequests (the owner already
  // waits or has an offer), TimeoutTooLong (ttl > max_ttl), InvalidTtl (<= 0).
  Failure request(OwnerId owner, Mode mode, std::optional<Duration> ttl, TimePoint now);
  // Makes the owner's outstanding offer `token` active.
  Failure confirm(OwnerId owner, Token token, TimePoint now);
  // Declines the owner's outstanding offer `token`.
  Failure reject(OwnerId owner, Token token, TimePoint now);
  // Withdraws the owner's queued request or outstanding offer, if any.
  bool cancel(OwnerId owner, TimePoint now);
  Failure release(OwnerId owner, Token token, TimePoint now);
  // Whoever holds `token` keeps it: a lease starts again from `now`
  // (leases keep their TTL). False when `token` is not held.
  bool renew(Token token, TimePoint now);
  Status status(OwnerId owner, Token token, TimePoint now);
  // The owner is gone: its locks, offer and request all end, silently.
  void disconnect(OwnerId owner, TimePoint now);

  // Expires requests, offers and leases due at `now`, then grants.
  void advance(TimePoint now);
  std::optional<TimePoint> next_deadline() const;

  // Events produced since the last call, in order.
  void take_events(std::vector<Event>& out);
  bool has_events() const { return !events_.empty(); }

  Snapshot snapshot() const;
  const Options& options() const { return opts_; }
  Token next_token() const { return tokens_ ? *tokens_ : next_token_; }
  // Tokens come from `*next` from now on, shared with other locks (AMQP
  // locks of one vhost draw from one counter, so a lock deleted and
  // declared again never repeats a token). Not owned; must outlive this.
  void share_tokens(Token* next) { tokens_ = next; }
  size_t holders() const { return held_.size(); }
  // Permits free now (max_shared minus Shared holders); 0 while held
  // exclusively. Without max_shared: 1 when free, else 0.
  uint32_t available() const;
  // The permit slot of held `token` (0: not held, or no permit).
  Permit permit_of(Token token) const;

 private:
  struct Waiting { OwnerId owner; Mode mode; std::optional<Duration> ttl; TimePoint since; TimePoint deadline; };
  struct Offered { OwnerId owner; Token token; Mode mode; std::optional<Duration> ttl; TimePoint deadline; Permit permit; };
  struct Held { OwnerId owner; Mode mode; TimePoint since; std::optional<TimePoint> expires; std::optional<Duration> ttl; Permit permit; };
  // Tokens an owner recently had, so STATUS/CONFIRM can answer precisely.
  struct History { std::deque<std::pair<Token, Failure>> ended; };
  static constexpr size_t kHistory = 16;

  void expire(TimePoint now);
  void grant(TimePoint now);
  std::optional<size_t> pick() const;
  bool compatible(Mode m) const;
  void end_token(OwnerId owner, Token token, Failure why);
  Failure ended_reason(OwnerId owner, Token token) const;
  void emit(Event::Kind k, OwnerId o, Token t, Mode m, Failure f, Permit p = 0) { events_.push_back({k, o, t, m, f, p}); }
  // The lowest free slot for a grant in `m` (0: no slot for this grant),
  // and a slot given back.
  Permit take_permit(Mode m);
  void free_permit(Permit p);

  Options opts_;
  Token next_token_;
  Token* tokens_ = nullptr;  // shared counter, when set (share_tokens)
  std::deque<Waiting> queue_;
  std::optional<Offered> offer_;
  std::unordered_map<Token, Held> held_;
  size_t exclusive_held_ = 0;
  // Slots 1..permits_top_ have been taken; those of them in permits_free_
  // are free again. So the lowest free slot is the set's first, or top + 1.
  Permit permits_top_ = 0;
  std::set<Permit> permits_free_;
  std::unordered_map<OwnerId, History> history_;
  std::vector<Event> events_;
};

}  // namespace warren::locks
