// Unit tests for the protocol-independent read/write lock (rw_lock.hpp).
// Time is injected: every test starts at t0 and adds durations; nothing sleeps.
#include "locks/rw_lock.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <ostream>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace warren::locks {

// Equality and printers for gtest. They live in the library's namespace so
// that argument-dependent lookup finds them.
bool operator==(const Event& a, const Event& b) {
  return a.kind == b.kind && a.owner == b.owner && a.token == b.token && a.mode == b.mode && a.reason == b.reason;
}
void PrintTo(Failure f, std::ostream* os) { *os << "Failure(" << to_string(f) << ")"; }
void PrintTo(Mode m, std::ostream* os) { *os << to_string(m); }
void PrintTo(Status s, std::ostream* os) {
  *os << (s == Status::Active ? "Active" : s == Status::Ended ? "Ended" : "Unknown");
}
void PrintTo(const Event& e, std::ostream* os) {
  const char* kind = e.kind == Event::Kind::Offered ? "Offered" : e.kind == Event::Kind::Failed ? "Failed" : "Expired";
  *os << kind << "{owner " << e.owner << ", token " << e.token << ", " << to_string(e.mode) << ", "
      << to_string(e.reason) << "}";
}

namespace {

using namespace std::chrono_literals;
using Events = std::vector<Event>;
using Owners = std::vector<OwnerId>;

const TimePoint t0 = TimePoint{} + std::chrono::hours(1);

constexpr OwnerId A = 1, B = 2, C = 3, D = 4, E = 5;
constexpr Mode Shared = Mode::Shared;
constexpr Mode Exclusive = Mode::Exclusive;

// Distinct timeouts so a test can tell which one fired.
constexpr Duration kRequestTimeout = 10s;
constexpr Duration kConfirmTimeout = 5s;

Options options(Policy policy = Policy::WriterPreferred, Duration max_ttl = Duration::zero()) {
  Options o;
  o.policy = policy;
  o.request_timeout = kRequestTimeout;
  o.confirm_timeout = kConfirmTimeout;
  o.max_ttl = max_ttl;
  return o;
}

Event offered(OwnerId o, Token t, Mode m) { return {Event::Kind::Offered, o, t, m, Failure::None}; }
Event failed(OwnerId o, Token t, Mode m, Failure why) { return {Event::Kind::Failed, o, t, m, why}; }
Event expired(OwnerId o, Token t, Mode m) { return {Event::Kind::Expired, o, t, m, Failure::None}; }

class RwLockTest : public ::testing::Test {
 protected:
  void use(Options o, Token first_token = 1) { lock = RwLock(o, first_token); }

  Events events() {
    Events out;
    lock.take_events(out);
    return out;
  }

  // A request that must be accepted; returns the events it produced.
  Events request(OwnerId o, Mode m, TimePoint now = t0, std::optional<Duration> ttl = std::nullopt) {
    EXPECT_EQ(lock.request(o, m, ttl, now), Failure::None) << "owner " << o;
    return events();
  }

  // A request that must be offered at once; returns the offered token.
  Token offer(OwnerId o, Mode m, TimePoint now = t0, std::optional<Duration> ttl = std::nullopt) {
    Events ev = request(o, m, now, ttl);
    EXPECT_EQ(ev.size(), 1u) << "owner " << o << " expected exactly one offer";
    if (ev.size() != 1 || ev[0].kind != Event::Kind::Offered || ev[0].owner != o) {
      ADD_FAILURE() << "owner " << o << " was not offered the lock";
      return 0;
    }
    EXPECT_EQ(ev[0].mode, m);
    return token[o] = ev[0].token;
  }

  // A request that must be offered at once and is then confirmed.
  Token acquire(OwnerId o, Mode m, TimePoint now = t0, std::optional<Duration> ttl = std::nullopt) {
    Token t = offer(o, m, now, ttl);
    EXPECT_EQ(lock.confirm(o, t, now), Failure::None) << "owner " << o;
    return t;
  }

  // A request that must be queued without an offer.
  void wait(OwnerId o, Mode m, TimePoint now = t0, std::optional<Duration> ttl = std::nullopt) {
    EXPECT_EQ(request(o, m, now, ttl), Events{}) << "owner " << o << " should wait";
  }

  // Confirms every offer as soon as it is made; returns who got them, in order.
  Owners confirmOffers(TimePoint now = t0) {
    Owners granted;
    for (Events ev = events(); !ev.empty(); ev = events()) {
      EXPECT_EQ(ev.size(), 1u);
      EXPECT_EQ(ev[0].kind, Event::Kind::Offered);
      if (ev[0].kind != Event::Kind::Offered) break;
      token[ev[0].owner] = ev[0].token;
      EXPECT_EQ(lock.confirm(ev[0].owner, ev[0].token, now), Failure::None);
      granted.push_back(ev[0].owner);
    }
    return granted;
  }

  Owners grantedAfterRequest(OwnerId o, Mode m, TimePoint now = t0) {
    EXPECT_EQ(lock.request(o, m, std::nullopt, now), Failure::None);
    return confirmOffers(now);
  }

  // Releases the owner's last granted lock.
  Owners grantedAfterRelease(OwnerId o, TimePoint now = t0) {
    EXPECT_EQ(lock.release(o, token.at(o), now), Failure::None) << "owner " << o;
    return confirmOffers(now);
  }

  std::vector<OwnerId> waiters() const {
    std::vector<OwnerId> out;
    for (const auto& w : lock.snapshot().waiters) out.push_back(w.owner);
    return out;
  }

  RwLock lock{options()};
  std::map<OwnerId, Token> token;  // the last token offered to each owner
};

// ---------------------------------------------------------------- offers, tokens

TEST_F(RwLockTest, RequestOnIdleLockIsOfferedWithFirstToken) {
  EXPECT_EQ(lock.request(A, Shared, std::nullopt, t0), Failure::None);
  EXPECT_EQ(events(), Events{offered(A, 1, Shared)});
  Snapshot s = lock.snapshot();
  ASSERT_TRUE(s.offer);
  EXPECT_EQ(s.offer->owner, A);
  EXPECT_EQ(s.offer->token, 1u);
  EXPECT_EQ(s.offer->deadline, t0 + kConfirmTimeout);
  EXPECT_TRUE(s.holders.empty());
  EXPECT_TRUE(s.waiters.empty());
  EXPECT_EQ(lock.next_token(), 2u);
}

TEST_F(RwLockTest, OfferIsNotAHoldUntilConfirmed) {
  Token t = offer(A, Exclusive);
  EXPECT_EQ(lock.holders(), 0u);
  EXPECT_EQ(lock.confirm(A, t, t0 + 1s), Failure::None);
  EXPECT_EQ(lock.holders(), 1u);
  EXPECT_EQ(lock.status(A, t, t0 + 1s), Status::Active);
  EXPECT_FALSE(lock.snapshot().offer);
}

TEST_F(RwLockTest, TokensIncreaseInGrantOrderAcrossModesAndOwnersAndAreNeverReused) {
  std::vector<Token> issued;
  issued.push_back(acquire(A, Shared));
  issued.push_back(acquire(B, Shared));
  wait(C, Exclusive);
  lock.release(A, issued[0], t0);
  EXPECT_EQ(events(), Events{});
  lock.release(B, issued[1], t0);
  EXPECT_EQ(confirmOffers(), Owners{C});
  issued.push_back(token[C]);
  lock.release(C, token[C], t0);
  // Rejected, cancelled and timed-out offers consume their tokens too.
  Token rejected = offer(A, Exclusive);
  issued.push_back(rejected);
  EXPECT_EQ(lock.reject(A, rejected, t0), Failure::None);
  issued.push_back(offer(B, Shared));
  EXPECT_TRUE(lock.cancel(B, t0));
  issued.push_back(offer(D, Exclusive, t0));
  lock.advance(t0 + kConfirmTimeout);
  events();
  issued.push_back(offer(A, Shared, t0 + kConfirmTimeout));

  EXPECT_EQ(issued, (std::vector<Token>{1, 2, 3, 4, 5, 6, 7}));
  EXPECT_EQ(lock.next_token(), 8u);
}

TEST_F(RwLockTest, TokensContinueFromFirstTokenOfANewEpoch) {
  const Token first = (5ull << 32) + 1;
  use(options(), first);
  EXPECT_EQ(lock.next_token(), first);
  EXPECT_EQ(acquire(A, Shared), first);
  EXPECT_EQ(acquire(B, Shared), first + 1);
  wait(C, Exclusive);
  lock.release(A, first, t0);
  lock.release(B, first + 1, t0);
  EXPECT_EQ(events(), Events{offered(C, first + 2, Exclusive)});
  EXPECT_EQ(lock.snapshot().next_token, first + 3);
}

TEST_F(RwLockTest, FirstTokenZeroIsNeverIssued) {
  // Token 0 marks a failure of a request that was never offered.
  use(options(), 0);
  EXPECT_EQ(offer(A, Shared), 1u);
}

// ------------------------------------------------------- one offer at a time

TEST_F(RwLockTest, OutstandingOfferBlocksEvenACompatibleRequestUntilConfirmed) {
  Token a = offer(A, Shared);
  wait(B, Shared, t0 + 1s);
  lock.advance(t0 + kConfirmTimeout - 1ms);
  EXPECT_EQ(events(), Events{});
  EXPECT_EQ(waiters(), Owners{B});

  EXPECT_EQ(lock.confirm(A, a, t0 + 2s), Failure::None);
  EXPECT_EQ(events(), Events{offered(B, a + 1, Shared)});
}

TEST_F(RwLockTest, RejectedOfferGoesToTheNextWaiter) {
  Token a = offer(A, Shared);
  wait(B, Shared);
  EXPECT_EQ(lock.reject(A, a, t0 + 1s), Failure::None);
  EXPECT_EQ(events(), Events{offered(B, a + 1, Shared)});
  EXPECT_EQ(lock.holders(), 0u);
}

TEST_F(RwLockTest, UnconfirmedOfferTimesOutAndGoesToTheNextWaiter) {
  Token a = offer(A, Exclusive);
  wait(B, Shared, t0 + 1s);
  lock.advance(t0 + kConfirmTimeout - 1ms);
  EXPECT_EQ(events(), Events{});

  lock.advance(t0 + kConfirmTimeout);
  EXPECT_EQ(events(), (Events{failed(A, a, Exclusive, Failure::TimeoutWaitingForConfirm),
                              offered(B, a + 1, Shared)}));
  EXPECT_EQ(lock.snapshot().offer->deadline, t0 + kConfirmTimeout + kConfirmTimeout);
  EXPECT_EQ(lock.confirm(A, a, t0 + kConfirmTimeout), Failure::TimeoutWaitingForConfirm);
  EXPECT_EQ(lock.holders(), 0u);
}

TEST_F(RwLockTest, ConfirmJustBeforeTheConfirmTimeoutSucceeds) {
  Token a = offer(A, Exclusive);
  EXPECT_EQ(lock.confirm(A, a, t0 + kConfirmTimeout - 1ms), Failure::None);
  EXPECT_EQ(lock.status(A, a, t0 + kConfirmTimeout), Status::Active);
}

TEST_F(RwLockTest, ConfirmAtOrAfterTheConfirmTimeoutFails) {
  Token a = offer(A, Exclusive);
  EXPECT_EQ(lock.confirm(A, a, t0 + kConfirmTimeout), Failure::TimeoutWaitingForConfirm);
  EXPECT_EQ(events(), Events{failed(A, a, Exclusive, Failure::TimeoutWaitingForConfirm)});
  EXPECT_EQ(lock.holders(), 0u);

  Token b = offer(B, Exclusive, t0 + 6s);
  EXPECT_EQ(lock.confirm(B, b, t0 + 1h), Failure::TimeoutWaitingForConfirm);
  EXPECT_EQ(lock.status(B, b, t0 + 1h), Status::Ended);
}

// -------------------------------------------------------- sharing, exclusion

TEST_F(RwLockTest, SharedLocksCoexist) {
  Token a = acquire(A, Shared);
  Token b = acquire(B, Shared);
  Token c = acquire(C, Shared);
  EXPECT_EQ(lock.holders(), 3u);
  EXPECT_EQ(lock.status(A, a, t0), Status::Active);
  EXPECT_EQ(lock.status(B, b, t0), Status::Active);
  EXPECT_EQ(lock.status(C, c, t0), Status::Active);
}

TEST_F(RwLockTest, ExclusiveHolderBlocksReadersAndWritersUntilReleased) {
  Token a = acquire(A, Exclusive);
  wait(B, Shared);
  wait(C, Exclusive);
  lock.advance(t0 + 9s);
  EXPECT_EQ(events(), Events{});
  EXPECT_EQ(lock.release(A, a, t0 + 9s), Failure::None);
  EXPECT_EQ(events(), Events{offered(C, a + 1, Exclusive)});  // WriterPreferred
}

TEST_F(RwLockTest, ExclusiveRequestWaitsForEveryReaderToLeave) {
  Token a = acquire(A, Shared);
  Token b = acquire(B, Shared);
  wait(C, Exclusive);
  EXPECT_EQ(lock.release(A, a, t0 + 1s), Failure::None);
  EXPECT_EQ(events(), Events{});
  EXPECT_EQ(lock.release(B, b, t0 + 2s), Failure::None);
  EXPECT_EQ(events(), Events{offered(C, b + 1, Exclusive)});
}

TEST_F(RwLockTest, ExclusiveLockIsOfferedOnlyWhenNothingIsHeld) {
  acquire(A, Exclusive);
  EXPECT_EQ(grantedAfterRequest(B, Exclusive), Owners{});
  EXPECT_EQ(grantedAfterRelease(A), Owners{B});
  EXPECT_EQ(lock.holders(), 1u);
}

// ------------------------------------------------------------------ policies
// Owners named for their role: R readers, W writers, numbered in queue order.
constexpr OwnerId R0 = 10, W1 = 11, R2 = 12, W3 = 13, R4 = 14, X = 15;
using Step = std::pair<OwnerId, Mode>;

TEST_F(RwLockTest, WriterPreferredWaitingWriterKeepsNewReadersOut) {
  use(options(Policy::WriterPreferred));
  acquire(R0, Shared);
  EXPECT_EQ(grantedAfterRequest(W1, Exclusive), Owners{});
  EXPECT_EQ(grantedAfterRequest(R2, Shared), Owners{});  // compatible with R0, but W1 waits
  EXPECT_EQ(grantedAfterRequest(W3, Exclusive), Owners{});
  EXPECT_EQ(grantedAfterRequest(R4, Shared), Owners{});
  EXPECT_EQ(grantedAfterRelease(R0), Owners{W1});
  EXPECT_EQ(grantedAfterRelease(W1), Owners{W3});
  EXPECT_EQ(grantedAfterRelease(W3), (Owners{R2, R4}));
}

TEST_F(RwLockTest, WriterPreferredServesWritersInQueueOrderBeforeEarlierReaders) {
  use(options(Policy::WriterPreferred));
  acquire(X, Exclusive);
  for (auto [o, m] : {Step{R0, Shared}, Step{W1, Exclusive}, Step{R2, Shared}, Step{W3, Exclusive}})
    EXPECT_EQ(grantedAfterRequest(o, m), Owners{});
  EXPECT_EQ(grantedAfterRelease(X), Owners{W1});
  EXPECT_EQ(grantedAfterRelease(W1), Owners{W3});
  EXPECT_EQ(grantedAfterRelease(W3), (Owners{R0, R2}));
}

TEST_F(RwLockTest, ReaderPreferredAdmitsReadersWhileReadersHoldDespiteEarlierWriter) {
  use(options(Policy::ReaderPreferred));
  acquire(R0, Shared);
  EXPECT_EQ(grantedAfterRequest(W1, Exclusive), Owners{});
  EXPECT_EQ(grantedAfterRequest(R2, Shared), Owners{R2});
  EXPECT_EQ(grantedAfterRequest(W3, Exclusive), Owners{});
  EXPECT_EQ(grantedAfterRequest(R4, Shared), Owners{R4});
  EXPECT_EQ(grantedAfterRelease(R0), Owners{});
  EXPECT_EQ(grantedAfterRelease(R2), Owners{});
  EXPECT_EQ(grantedAfterRelease(R4), Owners{W1});
  EXPECT_EQ(grantedAfterRelease(W1), Owners{W3});
}

TEST_F(RwLockTest, ReaderPreferredOffersWriterOnlyWhenNoReaderWaitsOrHolds) {
  use(options(Policy::ReaderPreferred));
  acquire(X, Exclusive);
  for (auto [o, m] : {Step{W1, Exclusive}, Step{R2, Shared}, Step{W3, Exclusive}, Step{R4, Shared}})
    EXPECT_EQ(grantedAfterRequest(o, m), Owners{});
  EXPECT_EQ(grantedAfterRelease(X), (Owners{R2, R4}));
  EXPECT_EQ(grantedAfterRelease(R2), Owners{});
  EXPECT_EQ(grantedAfterRelease(R4), Owners{W1});
  EXPECT_EQ(grantedAfterRelease(W1), Owners{W3});
}

TEST_F(RwLockTest, FifoReaderBehindWaitingWriterWaitsEvenThoughAReaderHolds) {
  use(options(Policy::Fifo));
  acquire(R0, Shared);
  EXPECT_EQ(grantedAfterRequest(W1, Exclusive), Owners{});
  EXPECT_EQ(grantedAfterRequest(R2, Shared), Owners{});
  EXPECT_EQ(grantedAfterRequest(W3, Exclusive), Owners{});
  EXPECT_EQ(grantedAfterRequest(R4, Shared), Owners{});
  EXPECT_EQ(grantedAfterRelease(R0), Owners{W1});
  EXPECT_EQ(grantedAfterRelease(W1), Owners{R2});
  EXPECT_EQ(grantedAfterRelease(R2), Owners{W3});
  EXPECT_EQ(grantedAfterRelease(W3), Owners{R4});
}

TEST_F(RwLockTest, FifoAdmitsConsecutiveReadersAtTheHeadTogether) {
  use(options(Policy::Fifo));
  acquire(X, Exclusive);
  for (auto [o, m] : {Step{R0, Shared}, Step{R2, Shared}, Step{W1, Exclusive}, Step{R4, Shared}})
    EXPECT_EQ(grantedAfterRequest(o, m), Owners{});
  EXPECT_EQ(grantedAfterRelease(X), (Owners{R0, R2}));
  EXPECT_EQ(grantedAfterRelease(R0), Owners{});
  EXPECT_EQ(grantedAfterRelease(R2), Owners{W1});
  EXPECT_EQ(grantedAfterRelease(W1), Owners{R4});
}

// ------------------------------------------------------------------ failures

TEST_F(RwLockTest, SecondRequestWhileQueuedFailsWithMultipleRequests) {
  acquire(A, Exclusive);
  wait(B, Shared);
  EXPECT_EQ(lock.request(B, Shared, std::nullopt, t0), Failure::MultipleRequests);
  EXPECT_EQ(lock.request(B, Exclusive, 5s, t0), Failure::MultipleRequests);
  EXPECT_EQ(waiters(), Owners{B});
}

TEST_F(RwLockTest, SecondRequestWhileOfferOutstandingFailsWithMultipleRequests) {
  Token a = offer(A, Shared);
  EXPECT_EQ(lock.request(A, Shared, std::nullopt, t0), Failure::MultipleRequests);
  EXPECT_EQ(events(), Events{});
  EXPECT_TRUE(waiters().empty());
  EXPECT_EQ(lock.confirm(A, a, t0), Failure::None);
}

TEST_F(RwLockTest, OwnerHoldingALockMayRequestAgain) {
  Token first = acquire(A, Shared);
  Token second = acquire(A, Shared);
  EXPECT_GT(second, first);
  EXPECT_EQ(lock.holders(), 2u);
  // Its own readers keep its exclusive request waiting, like anyone's.
  wait(A, Exclusive);
}

TEST_F(RwLockTest, TtlAboveMaxTtlFailsWithTimeoutTooLong) {
  use(options(Policy::WriterPreferred, 10s));
  EXPECT_EQ(lock.request(A, Shared, 10s + 1ms, t0), Failure::TimeoutTooLong);
  EXPECT_EQ(events(), Events{});
  EXPECT_TRUE(waiters().empty());
  EXPECT_FALSE(lock.snapshot().offer);
  offer(A, Shared, t0, 10s);  // exactly max_ttl is allowed
}

TEST_F(RwLockTest, AnyTtlIsAcceptedWhenMaxTtlIsZero) {
  Token a = acquire(A, Shared, t0, std::chrono::hours(24 * 365));
  EXPECT_EQ(lock.snapshot().holders.at(0).expires, t0 + std::chrono::hours(24 * 365));
  EXPECT_EQ(lock.status(A, a, t0 + std::chrono::hours(24 * 364)), Status::Active);
}

TEST_F(RwLockTest, NonPositiveTtlFailsWithInvalidTtl) {
  use(options(Policy::WriterPreferred, 10s));
  EXPECT_EQ(lock.request(A, Shared, 0ms, t0), Failure::InvalidTtl);
  EXPECT_EQ(lock.request(A, Exclusive, -1ms, t0), Failure::InvalidTtl);
  EXPECT_EQ(lock.request(A, Exclusive, -1h, t0), Failure::InvalidTtl);
  EXPECT_EQ(events(), Events{});
  EXPECT_TRUE(waiters().empty());
  EXPECT_EQ(lock.next_token(), 1u);
}

TEST_F(RwLockTest, UnknownTokensAreInvalidLockIds) {
  EXPECT_EQ(lock.confirm(A, 1, t0), Failure::InvalidLockId);
  EXPECT_EQ(lock.reject(A, 1, t0), Failure::InvalidLockId);
  EXPECT_EQ(lock.release(A, 1, t0), Failure::InvalidLockId);
  Token a = acquire(A, Shared);
  EXPECT_EQ(lock.confirm(A, a + 7, t0), Failure::InvalidLockId);
  EXPECT_EQ(lock.reject(A, a + 7, t0), Failure::InvalidLockId);
  EXPECT_EQ(lock.release(A, a + 7, t0), Failure::InvalidLockId);
  EXPECT_EQ(lock.release(A, 0, t0), Failure::InvalidLockId);
  EXPECT_EQ(lock.status(A, a, t0), Status::Active);
}

TEST_F(RwLockTest, AnotherOwnersHeldTokenIsInvalidAndStaysActive) {
  Token a = acquire(A, Exclusive);
  EXPECT_EQ(lock.confirm(B, a, t0), Failure::InvalidLockId);
  EXPECT_EQ(lock.reject(B, a, t0), Failure::InvalidLockId);
  EXPECT_EQ(lock.release(B, a, t0), Failure::InvalidLockId);
  EXPECT_EQ(lock.status(A, a, t0), Status::Active);
  EXPECT_EQ(lock.holders(), 1u);
  EXPECT_EQ(events(), Events{});
}

TEST_F(RwLockTest, AnotherOwnersOfferIsInvalidAndStaysOffered) {
  Token a = offer(A, Exclusive);
  EXPECT_EQ(lock.confirm(B, a, t0), Failure::InvalidLockId);
  EXPECT_EQ(lock.reject(B, a, t0), Failure::InvalidLockId);
  EXPECT_EQ(lock.release(B, a, t0), Failure::InvalidLockId);
  EXPECT_EQ(lock.holders(), 0u);
  ASSERT_TRUE(lock.snapshot().offer);
  EXPECT_EQ(lock.snapshot().offer->owner, A);
  EXPECT_EQ(lock.confirm(A, a, t0), Failure::None);
}

TEST_F(RwLockTest, ReleasingAnOfferBeforeConfirmingIsInvalid) {
  Token a = offer(A, Exclusive);
  EXPECT_EQ(lock.release(A, a, t0), Failure::InvalidLockId);
  EXPECT_EQ(lock.confirm(A, a, t0), Failure::None);
}

TEST_F(RwLockTest, ConfirmOrRejectOfAHeldTokenIsInvalidAndKeepsItActive) {
  Token a = acquire(A, Exclusive);
  EXPECT_EQ(lock.confirm(A, a, t0), Failure::InvalidLockId);
  EXPECT_EQ(lock.reject(A, a, t0), Failure::InvalidLockId);
  EXPECT_EQ(lock.status(A, a, t0), Status::Active);
  EXPECT_EQ(lock.holders(), 1u);
}

TEST_F(RwLockTest, RejectingFreesTheLockAndTheTokenCannotBeConfirmedAfterwards) {
  Token a = offer(A, Exclusive);
  EXPECT_EQ(lock.reject(A, a, t0), Failure::None);
  EXPECT_EQ(events(), Events{});  // the caller answers the reject itself
  EXPECT_EQ(lock.confirm(A, a, t0), Failure::InvalidLockId);
  EXPECT_EQ(lock.reject(A, a, t0), Failure::InvalidLockId);
  EXPECT_EQ(lock.holders(), 0u);
  EXPECT_FALSE(lock.snapshot().offer);
  offer(B, Exclusive);
}

TEST_F(RwLockTest, ReleaseTwiceIsInvalid) {
  Token a = acquire(A, Shared);
  EXPECT_EQ(lock.release(A, a, t0), Failure::None);
  EXPECT_EQ(lock.release(A, a, t0), Failure::InvalidLockId);
}

TEST_F(RwLockTest, FailureTextsUseTheSeedsWording) {
  EXPECT_EQ(to_string(Failure::TimeoutWaitingForLock), "timeout waiting for lock");
  EXPECT_EQ(to_string(Failure::TimeoutWaitingForConfirm), "timeout waiting for confirm");
  EXPECT_EQ(to_string(Failure::TimeoutTooLong), "timeout too long");
  EXPECT_EQ(to_string(Failure::InvalidTtl), "invalid ttl");
  EXPECT_EQ(to_string(Failure::InvalidLockId), "invalid lock id");
  EXPECT_EQ(to_string(Failure::OfferRejected), "offer rejected");
  // The seed's client reports "socketlock: multiple lock requests".
  EXPECT_EQ(to_string(Failure::MultipleRequests), "multiple lock requests");
}

TEST_F(RwLockTest, EveryFailureHasItsOwnText) {
  const Failure all[] = {Failure::None,           Failure::TimeoutWaitingForLock, Failure::TimeoutWaitingForConfirm,
                         Failure::TimeoutTooLong, Failure::InvalidTtl,            Failure::InvalidLockId,
                         Failure::OfferRejected,  Failure::MultipleRequests,      Failure::Cancelled};
  std::set<std::string> texts;
  for (Failure f : all) {
    EXPECT_FALSE(to_string(f).empty());
    texts.emplace(to_string(f));
  }
  EXPECT_EQ(texts.size(), std::size(all));
}

TEST_F(RwLockTest, ModeTextsAreReadAndWrite) {
  EXPECT_EQ(to_string(Mode::Shared), "read");
  EXPECT_EQ(to_string(Mode::Exclusive), "write");
}

// ------------------------------------------------------------------ timeouts

TEST_F(RwLockTest, QueuedRequestFailsExactlyAtTheRequestTimeout) {
  Token a = acquire(A, Exclusive);
  wait(B, Shared);
  lock.advance(t0 + kRequestTimeout - 1ms);
  EXPECT_EQ(events(), Events{});
  EXPECT_EQ(waiters(), Owners{B});

  lock.advance(t0 + kRequestTimeout);
  EXPECT_EQ(events(), Events{failed(B, 0, Shared, Failure::TimeoutWaitingForLock)});
  EXPECT_TRUE(waiters().empty());
  EXPECT_EQ(lock.release(A, a, t0 + kRequestTimeout), Failure::None);
  EXPECT_EQ(events(), Events{});  // B is no longer waiting
  EXPECT_EQ(lock.request(B, Shared, std::nullopt, t0 + kRequestTimeout), Failure::None);
}

TEST_F(RwLockTest, RequestTimeoutCountsFromTheRequestNotFromTheLockBeingTaken) {
  acquire(A, Exclusive);
  wait(B, Exclusive, t0 + 3s);
  wait(C, Exclusive, t0 + 4s);
  lock.advance(t0 + 3s + kRequestTimeout);
  EXPECT_EQ(events(), Events{failed(B, 0, Exclusive, Failure::TimeoutWaitingForLock)});
  lock.advance(t0 + 4s + kRequestTimeout);
  EXPECT_EQ(events(), Events{failed(C, 0, Exclusive, Failure::TimeoutWaitingForLock)});
}

TEST_F(RwLockTest, AnOfferStopsTheRequestTimeout) {
  acquire(A, Exclusive);
  wait(B, Exclusive);
  lock.release(A, token[A], t0 + kRequestTimeout - 1ms);
  EXPECT_EQ(confirmOffers(t0 + kRequestTimeout + 1s), Owners{B});
  EXPECT_EQ(lock.status(B, token[B], t0 + kRequestTimeout + 1s), Status::Active);
}

TEST_F(RwLockTest, TtlExpiryEmitsExpiredAndStatusEndsTheLock) {
  Token a = acquire(A, Shared, t0, 3s);
  EXPECT_EQ(lock.status(A, a, t0 + 3s - 1ms), Status::Active);
  EXPECT_EQ(events(), Events{});
  lock.advance(t0 + 3s);
  EXPECT_EQ(events(), Events{expired(A, a, Shared)});
  EXPECT_EQ(lock.status(A, a, t0 + 3s), Status::Ended);
  EXPECT_EQ(lock.holders(), 0u);
  EXPECT_EQ(lock.release(A, a, t0 + 3s), Failure::InvalidLockId);
}

TEST_F(RwLockTest, TtlBeyondTheClocksRangeNeverExpires) {
  // With no max_ttl any TTL is accepted; now + ttl must not overflow.
  const auto century = std::chrono::hours(24 * 365 * 100);
  for (Duration ttl : {Duration(std::chrono::hours(24 * 365 * 400)), Duration::max()}) {
    use(options());
    Token a = acquire(A, Exclusive, t0, ttl);
    std::optional<TimePoint> expires = lock.snapshot().holders.at(0).expires;
    EXPECT_TRUE(!expires || *expires > t0 + 2 * century);
    EXPECT_EQ(lock.status(A, a, t0 + 2 * century), Status::Active);
    EXPECT_EQ(events(), Events{});
  }
}

TEST_F(RwLockTest, StatusItselfNoticesAnExpiredTtl) {
  Token a = acquire(A, Exclusive, t0, 3s);
  EXPECT_EQ(lock.status(A, a, t0 + 1h), Status::Ended);
  EXPECT_EQ(events(), Events{expired(A, a, Exclusive)});
}

TEST_F(RwLockTest, TtlStartsAtConfirmTimeNotRequestTime) {
  Token a = offer(A, Exclusive, t0, 3s);
  EXPECT_EQ(lock.confirm(A, a, t0 + 2s), Failure::None);
  EXPECT_EQ(lock.snapshot().holders.at(0).expires, t0 + 5s);
  EXPECT_EQ(lock.snapshot().holders.at(0).since, t0 + 2s);
  EXPECT_EQ(lock.status(A, a, t0 + 5s - 1ms), Status::Active);
  EXPECT_EQ(lock.status(A, a, t0 + 5s), Status::Ended);
}

TEST_F(RwLockTest, ExpiredLockLetsTheNextWaiterIn) {
  Token a = acquire(A, Exclusive, t0, 3s);
  wait(B, Exclusive, t0 + 1s);
  lock.advance(t0 + 3s);
  EXPECT_EQ(events(), (Events{expired(A, a, Exclusive), offered(B, a + 1, Exclusive)}));
}

TEST_F(RwLockTest, LockWithoutTtlNeverExpires) {
  Token a = acquire(A, Exclusive);
  lock.advance(t0 + std::chrono::hours(24 * 365));
  EXPECT_EQ(events(), Events{});
  EXPECT_EQ(lock.status(A, a, t0 + std::chrono::hours(24 * 365)), Status::Active);
}

TEST_F(RwLockTest, SimultaneousExpiriesAllReport) {
  Token a = acquire(A, Shared, t0, 3s);
  Token b = acquire(B, Shared, t0 + 1s, 2s);
  Token c = acquire(C, Shared, t0 + 1s, 1h);
  lock.advance(t0 + 3s);
  Events ev = events();
  std::sort(ev.begin(), ev.end(), [](const Event& x, const Event& y) { return x.token < y.token; });
  EXPECT_EQ(ev, (Events{expired(A, a, Shared), expired(B, b, Shared)}));
  EXPECT_EQ(lock.status(C, c, t0 + 3s), Status::Active);
}

TEST_F(RwLockTest, NextDeadlineIsNothingWhenIdleOrOnlyUntimedLocksAreHeld) {
  EXPECT_EQ(lock.next_deadline(), std::nullopt);
  acquire(A, Shared);
  EXPECT_EQ(lock.next_deadline(), std::nullopt);
}

TEST_F(RwLockTest, NextDeadlineIsTheEarliestOfOfferRequestAndTtl) {
  Token a = offer(A, Exclusive, t0, 20s);
  EXPECT_EQ(lock.next_deadline(), t0 + kConfirmTimeout);
  ASSERT_EQ(lock.confirm(A, a, t0 + 1s), Failure::None);
  EXPECT_EQ(lock.next_deadline(), t0 + 21s);  // the TTL
  wait(B, Exclusive, t0 + 2s);
  EXPECT_EQ(lock.next_deadline(), t0 + 2s + kRequestTimeout);
  wait(C, Exclusive, t0 + 3s);
  EXPECT_EQ(lock.next_deadline(), t0 + 2s + kRequestTimeout);
  ASSERT_EQ(lock.release(A, a, t0 + 4s), Failure::None);
  EXPECT_EQ(events(), Events{offered(B, a + 1, Exclusive)});
  EXPECT_EQ(lock.next_deadline(), t0 + 4s + kConfirmTimeout);  // B's offer
  ASSERT_EQ(lock.confirm(B, a + 1, t0 + 4s), Failure::None);
  EXPECT_EQ(lock.next_deadline(), t0 + 3s + kRequestTimeout);  // C's request

  lock.advance(*lock.next_deadline());
  EXPECT_EQ(events(), Events{failed(C, 0, Exclusive, Failure::TimeoutWaitingForLock)});
  EXPECT_EQ(lock.next_deadline(), std::nullopt);
}

// -------------------------------------------------------------------- status

TEST_F(RwLockTest, StatusIsActiveOnlyForTheOwnersHeldLock) {
  Token a = acquire(A, Shared);
  EXPECT_EQ(lock.status(A, a, t0), Status::Active);
  EXPECT_EQ(lock.status(B, a, t0), Status::Unknown);
  EXPECT_EQ(lock.status(A, a + 1, t0), Status::Unknown);  // never issued
  EXPECT_EQ(lock.status(A, 0, t0), Status::Unknown);
}

TEST_F(RwLockTest, StatusOfAnUnconfirmedOfferIsEnded) {
  Token a = offer(A, Shared);
  EXPECT_EQ(lock.status(A, a, t0), Status::Ended);
  EXPECT_EQ(lock.status(B, a, t0), Status::Unknown);
}

TEST_F(RwLockTest, StatusIsEndedForTheOwnersFinishedTokens) {
  Token released = acquire(A, Shared);
  lock.release(A, released, t0);
  Token rejected = offer(A, Shared);
  lock.reject(A, rejected, t0);
  Token timed_out = offer(A, Shared);
  lock.advance(t0 + kConfirmTimeout);
  EXPECT_EQ(events(), Events{failed(A, timed_out, Shared, Failure::TimeoutWaitingForConfirm)});
  Token expired_token = acquire(A, Shared, t0 + kConfirmTimeout, 1s);
  lock.advance(t0 + kConfirmTimeout + 1s);

  const TimePoint now = t0 + kConfirmTimeout + 1s;
  for (Token t : {released, rejected, timed_out, expired_token}) {
    EXPECT_EQ(lock.status(A, t, now), Status::Ended) << "token " << t;
    EXPECT_EQ(lock.status(B, t, now), Status::Unknown) << "token " << t;
  }
}

// -------------------------------------------------------------------- cancel

TEST_F(RwLockTest, CancelWithdrawsAQueuedRequestSilently) {
  Token a = acquire(A, Exclusive);
  wait(B, Shared);
  EXPECT_TRUE(lock.cancel(B, t0 + 1s));
  EXPECT_EQ(events(), Events{});
  EXPECT_TRUE(waiters().empty());
  lock.release(A, a, t0 + 2s);
  EXPECT_EQ(events(), Events{});  // nobody is left to offer to
  offer(B, Shared, t0 + 2s);       // and B may ask again
}

TEST_F(RwLockTest, CancelWithdrawsAnOfferAndOffersTheNextWaiter) {
  Token a = offer(A, Exclusive);
  wait(B, Exclusive);
  EXPECT_TRUE(lock.cancel(A, t0 + 1s));
  EXPECT_EQ(events(), Events{offered(B, a + 1, Exclusive)});
  EXPECT_EQ(lock.confirm(A, a, t0 + 1s), Failure::InvalidLockId);
  EXPECT_EQ(lock.status(A, a, t0 + 1s), Status::Ended);
}

TEST_F(RwLockTest, CancellingTheWaitingWriterLetsReadersBehindItIn) {
  acquire(R0, Shared);
  wait(W1, Exclusive);
  wait(R2, Shared);
  EXPECT_TRUE(lock.cancel(W1, t0));
  EXPECT_EQ(confirmOffers(), Owners{R2});
}

TEST_F(RwLockTest, CancelWithNothingToCancelReturnsFalse) {
  EXPECT_FALSE(lock.cancel(A, t0));
  Token a = acquire(A, Shared);
  EXPECT_FALSE(lock.cancel(A, t0));  // a held lock is released, not cancelled
  EXPECT_EQ(lock.status(A, a, t0), Status::Active);
  EXPECT_EQ(events(), Events{});
}

TEST_F(RwLockTest, CancelAtTheMomentTheLockFreesWithdrawsTheRequestWithoutOfferingIt) {
  Token a = acquire(A, Exclusive, t0, 3s);
  wait(B, Exclusive, t0 + 1s);
  wait(C, Exclusive, t0 + 2s);
  EXPECT_TRUE(lock.cancel(B, t0 + 3s));  // A's TTL ends at this very moment
  EXPECT_EQ(events(), (Events{expired(A, a, Exclusive), offered(C, a + 1, Exclusive)}));
}

TEST_F(RwLockTest, CancelWithNothingToCancelStillLetsDueWaitersIn) {
  Token a = acquire(A, Exclusive, t0, 3s);
  wait(B, Exclusive, t0 + 1s);
  EXPECT_FALSE(lock.cancel(C, t0 + 3s));
  EXPECT_EQ(events(), (Events{expired(A, a, Exclusive), offered(B, a + 1, Exclusive)}));
}

// ---------------------------------------------------------------- disconnect

TEST_F(RwLockTest, DisconnectReleasesAllHeldLocksAndWithdrawsTheRequestSilently) {
  Token a1 = acquire(A, Shared);
  Token a2 = acquire(A, Shared);
  wait(A, Exclusive);  // held back by A's own readers
  wait(B, Exclusive, t0 + 1s);
  lock.disconnect(A, t0 + 2s);
  EXPECT_EQ(events(), Events{offered(B, a2 + 1, Exclusive)});
  EXPECT_EQ(lock.holders(), 0u);
  EXPECT_EQ(waiters(), Owners{});
  EXPECT_NE(lock.status(A, a1, t0 + 2s), Status::Active);
  EXPECT_NE(lock.status(A, a2, t0 + 2s), Status::Active);
}

TEST_F(RwLockTest, DisconnectWithdrawsAnOfferSilentlyAndOffersTheNextWaiter) {
  Token a = offer(A, Exclusive);
  wait(B, Shared);
  lock.disconnect(A, t0 + 1s);
  EXPECT_EQ(events(), Events{offered(B, a + 1, Shared)});
  EXPECT_EQ(lock.confirm(A, a, t0 + 1s), Failure::InvalidLockId);
}

TEST_F(RwLockTest, DisconnectAtTheMomentTheLockFreesDoesNotOfferToTheLeavingOwner) {
  Token a = acquire(A, Exclusive, t0, 3s);
  wait(B, Exclusive, t0 + 1s);
  wait(C, Exclusive, t0 + 2s);
  lock.disconnect(B, t0 + 3s);  // A's TTL ends at this very moment
  EXPECT_EQ(events(), (Events{expired(A, a, Exclusive), offered(C, a + 1, Exclusive)}));
}

TEST_F(RwLockTest, DisconnectLeavesOtherOwnersAlone) {
  Token a = acquire(A, Shared);
  Token b = acquire(B, Shared);
  wait(C, Exclusive);
  lock.disconnect(B, t0);
  EXPECT_EQ(events(), Events{});
  EXPECT_EQ(lock.status(A, a, t0), Status::Active);
  EXPECT_NE(lock.status(B, b, t0), Status::Active);
  EXPECT_EQ(waiters(), Owners{C});
  lock.disconnect(D, t0);  // never seen: nothing happens
  EXPECT_EQ(events(), Events{});
  EXPECT_EQ(lock.holders(), 1u);
}

// ------------------------------------------------------------------ snapshot

TEST_F(RwLockTest, SnapshotShowsHoldersOfferAndWaitersInOrder) {
  use(options(Policy::ReaderPreferred));
  Token a = offer(A, Shared, t0, 7s);
  lock.confirm(A, a, t0 + 1s);
  Token b = acquire(B, Shared, t0 + 1s);
  Token c = offer(C, Shared, t0 + 2s);
  wait(D, Exclusive, t0 + 3s);
  wait(E, Exclusive, t0 + 4s);

  Snapshot s = lock.snapshot();
  ASSERT_EQ(s.holders.size(), 2u);
  EXPECT_EQ(s.holders[0].owner, A);
  EXPECT_EQ(s.holders[0].token, a);
  EXPECT_EQ(s.holders[0].mode, Shared);
  EXPECT_EQ(s.holders[0].since, t0 + 1s);
  EXPECT_EQ(s.holders[0].expires, t0 + 8s);
  EXPECT_EQ(s.holders[1].owner, B);
  EXPECT_EQ(s.holders[1].token, b);
  EXPECT_EQ(s.holders[1].expires, std::nullopt);

  ASSERT_TRUE(s.offer);
  EXPECT_EQ(s.offer->owner, C);
  EXPECT_EQ(s.offer->token, c);
  EXPECT_EQ(s.offer->mode, Shared);
  EXPECT_EQ(s.offer->deadline, t0 + 2s + kConfirmTimeout);

  ASSERT_EQ(s.waiters.size(), 2u);
  EXPECT_EQ(s.waiters[0].owner, D);
  EXPECT_EQ(s.waiters[0].mode, Exclusive);
  EXPECT_EQ(s.waiters[0].since, t0 + 3s);
  EXPECT_EQ(s.waiters[0].deadline, t0 + 3s + kRequestTimeout);
  EXPECT_EQ(s.waiters[1].owner, E);
  EXPECT_EQ(s.waiters[1].since, t0 + 4s);
  EXPECT_EQ(s.next_token, c + 1);
}

TEST_F(RwLockTest, SnapshotSortsManyHoldersByToken) {
  std::vector<Token> tokens;
  for (OwnerId o = 100; o < 140; ++o) tokens.push_back(acquire(o, Shared));
  for (size_t i = 0; i < tokens.size(); i += 3) lock.release(100 + i, tokens[i], t0);  // leave gaps
  for (OwnerId o = 140; o < 150; ++o) acquire(o, Shared);

  Snapshot s = lock.snapshot();
  EXPECT_EQ(s.holders.size(), lock.holders());
  EXPECT_TRUE(std::is_sorted(s.holders.begin(), s.holders.end(),
                             [](const auto& x, const auto& y) { return x.token < y.token; }));
  for (size_t i = 1; i < s.holders.size(); ++i) EXPECT_LT(s.holders[i - 1].token, s.holders[i].token);
}

// -------------------------------------------------------------- parse_policy

TEST(ParsePolicy, AcceptsTheNamesInAnyCase) {
  EXPECT_EQ(parse_policy("ReaderPreferred"), Policy::ReaderPreferred);
  EXPECT_EQ(parse_policy("readerpreferred"), Policy::ReaderPreferred);
  EXPECT_EQ(parse_policy("READERPREFERRED"), Policy::ReaderPreferred);
  EXPECT_EQ(parse_policy("WriterPreferred"), Policy::WriterPreferred);
  EXPECT_EQ(parse_policy("writerPREFERRED"), Policy::WriterPreferred);
  EXPECT_EQ(parse_policy("FIFO"), Policy::Fifo);
  EXPECT_EQ(parse_policy("fifo"), Policy::Fifo);
  EXPECT_EQ(parse_policy("Fifo"), Policy::Fifo);
}

TEST(ParsePolicy, RejectsAnythingElse) {
  for (const char* s : {"", "FIF", "FIFOS", " FIFO", "FIFO ", "LIFO", "Reader", "ReaderPreferredX", "reader-preferred",
                        "reader_preferred", "writer preferred", "\xC3\x89IFO"})
    EXPECT_EQ(parse_policy(s), std::nullopt) << '"' << s << '"';
}

TEST(ParsePolicy, RoundTripsItsOwnNames) {
  for (Policy p : {Policy::ReaderPreferred, Policy::WriterPreferred, Policy::Fifo})
    EXPECT_EQ(parse_policy(to_string(p)), p);
}

// ------------------------------------------------------- randomized property
// Drives the lock with random operations and tracks what it must look like
// from the outside (API results and events only), then checks the lock's own
// snapshot against that after every step.

class Model {
 public:
  explicit Model(Policy policy) : policy_(policy) {}

  struct Held { OwnerId owner; Mode mode; };
  struct Offer { OwnerId owner; Token token; Mode mode; };
  struct Request { OwnerId owner; Mode mode; };

  std::map<Token, Held> held;
  std::optional<Offer> offer;
  std::vector<Request> queue;  // in request order
  Token last_offered = 0;
  std::set<std::pair<OwnerId, Token>> confirm_timed_out;
  std::map<Event::Kind, int> seen;

  bool waits_or_offered(OwnerId o) const {
    return (offer && offer->owner == o) || std::any_of(queue.begin(), queue.end(), [&](auto& r) { return r.owner == o; });
  }
  bool compatible(Mode m) const {
    bool exclusive_held = std::any_of(held.begin(), held.end(), [](auto& h) { return h.second.mode == Exclusive; });
    return !exclusive_held && (m == Shared || held.empty());
  }
  // The waiter the policy must offer next, whether or not it fits now.
  std::optional<size_t> candidate() const {
    auto first = [&](Mode m) -> std::optional<size_t> {
      for (size_t i = 0; i < queue.size(); ++i)
        if (queue[i].mode == m) return i;
      return std::nullopt;
    };
    if (queue.empty()) return std::nullopt;
    switch (policy_) {
      case Policy::Fifo: return 0;
      case Policy::WriterPreferred: return first(Exclusive) ? first(Exclusive) : first(Shared);
      case Policy::ReaderPreferred: return first(Shared) ? first(Shared) : first(Exclusive);
    }
    return std::nullopt;
  }

  void apply(const Event& e) {
    ++seen[e.kind];
    switch (e.kind) {
      case Event::Kind::Offered: {
        ASSERT_FALSE(offer) << "a second offer while owner " << offer->owner << " has one";
        ASSERT_GT(e.token, last_offered) << "tokens must strictly increase";
        ASSERT_EQ(e.reason, Failure::None);
        std::optional<size_t> want = candidate();
        ASSERT_TRUE(want) << "offer with nobody waiting";
        ASSERT_EQ(queue[*want].owner, e.owner) << "policy picked the wrong waiter";
        ASSERT_EQ(queue[*want].mode, e.mode);
        ASSERT_TRUE(compatible(e.mode)) << "offered " << to_string(e.mode) << " while incompatible locks are held";
        queue.erase(queue.begin() + static_cast<std::ptrdiff_t>(*want));
        offer = Offer{e.owner, e.token, e.mode};
        last_offered = e.token;
        break;
      }
      case Event::Kind::Failed:
        if (e.token == 0) {
          ASSERT_EQ(e.reason, Failure::TimeoutWaitingForLock);
          auto it = std::find_if(queue.begin(), queue.end(), [&](auto& r) { return r.owner == e.owner; });
          ASSERT_NE(it, queue.end()) << "request timeout for owner " << e.owner << " who does not wait";
          ASSERT_EQ(it->mode, e.mode);
          queue.erase(it);
        } else {
          ASSERT_EQ(e.reason, Failure::TimeoutWaitingForConfirm);
          ASSERT_TRUE(offer && offer->owner == e.owner && offer->token == e.token && offer->mode == e.mode);
          confirm_timed_out.emplace(e.owner, e.token);
          offer.reset();
        }
        break;
      case Event::Kind::Expired: {
        auto it = held.find(e.token);
        ASSERT_NE(it, held.end()) << "expiry of a token not held";
        ASSERT_EQ(it->second.owner, e.owner);
        ASSERT_EQ(it->second.mode, e.mode);
        held.erase(it);
        break;
      }
    }
  }

  void confirmed(OwnerId o, Token t) {
    held.emplace(t, Held{o, offer->mode});
    offer.reset();
  }
  // The owner's request or offer goes; its held locks stay.
  void withdraw(OwnerId o) {
    if (offer && offer->owner == o) offer.reset();
    std::erase_if(queue, [&](auto& r) { return r.owner == o; });
  }
  void disconnected(OwnerId o) {
    withdraw(o);
    std::erase_if(held, [&](auto& h) { return h.second.owner == o; });
  }

  // The lock's own view must match, and the invariants must hold.
  void check(const RwLock& lock) const {
    Snapshot s = lock.snapshot();
    ASSERT_EQ(s.holders.size(), held.size());
    ASSERT_EQ(lock.holders(), held.size());
    size_t exclusive = 0;
    auto it = held.begin();
    for (const auto& h : s.holders) {
      EXPECT_EQ(h.token, it->first);
      EXPECT_EQ(h.owner, it->second.owner);
      EXPECT_EQ(h.mode, it->second.mode);
      exclusive += h.mode == Exclusive;
      ++it;
    }
    EXPECT_TRUE(exclusive == 0 || s.holders.size() == 1) << "an exclusive holder shares the lock";

    ASSERT_EQ(s.offer.has_value(), offer.has_value());
    if (offer) {
      EXPECT_EQ(s.offer->owner, offer->owner);
      EXPECT_EQ(s.offer->token, offer->token);
      EXPECT_EQ(s.offer->mode, offer->mode);
    }

    ASSERT_EQ(s.waiters.size(), queue.size());
    std::set<OwnerId> pending;
    if (offer) pending.insert(offer->owner);
    for (size_t i = 0; i < queue.size(); ++i) {
      EXPECT_EQ(s.waiters[i].owner, queue[i].owner);
      EXPECT_EQ(s.waiters[i].mode, queue[i].mode);
      EXPECT_TRUE(pending.insert(queue[i].owner).second) << "owner " << queue[i].owner << " has two requests";
    }
    EXPECT_EQ(s.next_token, last_offered + 1);

    // Nothing grantable is left waiting.
    if (!offer) {
      std::optional<size_t> want = candidate();
      EXPECT_FALSE(want && compatible(queue[*want].mode)) << "owner " << queue[*want].owner << " should be offered";
    }
  }

 private:
  Policy policy_;
};

class RwLockProperty : public ::testing::TestWithParam<Policy> {};

TEST_P(RwLockProperty, RandomOperationsKeepTheInvariants) {
  constexpr OwnerId kOwners = 6;
  constexpr int kSteps = 20000;
  Options o = options(GetParam(), 15s);
  RwLock lock(o);
  Model model(GetParam());
  std::mt19937_64 rng(0x5eed'1234);
  auto below = [&](uint64_t n) { return rng() % n; };
  TimePoint now = t0;
  std::map<Failure, int> results;

  auto drain = [&] {
    Events ev;
    lock.take_events(ev);
    for (const Event& e : ev) {
      model.apply(e);
      if (::testing::Test::HasFailure()) return;
    }
  };
  // For cancel() and disconnect(): the lock first ends what is due by `now`
  // (those events come first), then withdraws the owner, then grants; the
  // owner being withdrawn must not be offered the lock on its way out.
  auto withdrawing = [&](OwnerId owner, auto withdraw) {
    Events ev;
    lock.take_events(ev);
    auto is_offer = [](const Event& e) { return e.kind == Event::Kind::Offered; };
    auto grants = std::find_if(ev.begin(), ev.end(), is_offer);
    ASSERT_TRUE(std::all_of(grants, ev.end(), is_offer)) << "an offer came before an expiry";
    for (auto it = ev.begin(); it != grants; ++it) model.apply(*it);
    withdraw();
    for (auto it = grants; it != ev.end(); ++it) {
      EXPECT_NE(it->owner, owner) << "offered to owner " << owner << " while withdrawing it";
      model.apply(*it);
    }
  };
  auto any_token = [&] { return static_cast<Token>(below(model.last_offered + 3)); };
  auto held_token = [&]() -> std::optional<std::pair<OwnerId, Token>> {
    if (model.held.empty()) return std::nullopt;
    auto it = model.held.begin();
    std::advance(it, static_cast<std::ptrdiff_t>(below(model.held.size())));
    return std::pair{it->second.owner, it->first};
  };

  for (int step = 0; step < kSteps && !::testing::Test::HasFailure(); ++step) {
    SCOPED_TRACE("step " + std::to_string(step));
    OwnerId owner = 1 + below(kOwners);
    uint64_t op = below(100);
    if (op < 25) {  // request
      Mode mode = below(2) ? Shared : Exclusive;
      std::optional<Duration> ttl;
      uint64_t kind = below(10);
      if (kind < 5) ttl = Duration(1 + below(20000));
      else if (kind == 5) ttl = Duration(-static_cast<int64_t>(below(2)));
      Failure want = ttl && *ttl <= Duration::zero()  ? Failure::InvalidTtl
                     : ttl && *ttl > o.max_ttl        ? Failure::TimeoutTooLong
                     : model.waits_or_offered(owner) ? Failure::MultipleRequests
                                                      : Failure::None;
      Failure got = lock.request(owner, mode, ttl, now);
      ++results[got];
      ASSERT_EQ(got, want);
      if (got == Failure::None) model.queue.push_back({owner, mode});
    } else if (op < 45) {  // confirm, mostly the right one
      Token t = any_token();
      if (model.offer && below(10) < 8) std::tie(owner, t) = std::pair{model.offer->owner, model.offer->token};
      bool valid = model.offer && model.offer->owner == owner && model.offer->token == t;
      Failure got = lock.confirm(owner, t, now);
      if (valid) {
        ASSERT_EQ(got, Failure::None);
        model.confirmed(owner, t);
      } else if (got != Failure::InvalidLockId) {
        ASSERT_EQ(got, Failure::TimeoutWaitingForConfirm);
        ASSERT_TRUE(model.confirm_timed_out.count({owner, t})) << "token " << t << " did not time out";
      }
    } else if (op < 50) {  // reject
      Token t = any_token();
      if (model.offer && below(2)) std::tie(owner, t) = std::pair{model.offer->owner, model.offer->token};
      bool valid = model.offer && model.offer->owner == owner && model.offer->token == t;
      ASSERT_EQ(lock.reject(owner, t, now), valid ? Failure::None : Failure::InvalidLockId);
      if (valid) model.offer.reset();
    } else if (op < 68) {  // release, mostly a held one
      Token t = any_token();
      if (auto h = held_token(); h && below(10) < 8) std::tie(owner, t) = *h;
      auto it = model.held.find(t);
      bool valid = it != model.held.end() && it->second.owner == owner;
      ASSERT_EQ(lock.release(owner, t, now), valid ? Failure::None : Failure::InvalidLockId);
      if (valid) model.held.erase(it);
    } else if (op < 73) {  // cancel, sometimes at a moment that has not been advanced to yet
      if (below(2)) now += Duration(below(2500));
      bool cancelled = lock.cancel(owner, now);
      withdrawing(owner, [&] {
        ASSERT_EQ(cancelled, model.waits_or_offered(owner));
        model.withdraw(owner);
      });
    } else if (op < 78) {  // status
      Token t = any_token();
      if (auto h = held_token(); h && below(2)) t = h->second;
      auto it = model.held.find(t);
      Status got = lock.status(owner, t, now);
      if (it != model.held.end()) {
        EXPECT_EQ(got, it->second.owner == owner ? Status::Active : Status::Unknown);
      } else {
        EXPECT_NE(got, Status::Active);
        if (t > model.last_offered || t == 0) {
          EXPECT_EQ(got, Status::Unknown) << "token " << t << " was never issued";
        }
      }
    } else if (op < 80) {  // disconnect, sometimes at a moment not advanced to yet
      if (below(2)) now += Duration(below(2500));
      lock.disconnect(owner, now);
      withdrawing(owner, [&] { model.disconnected(owner); });
    } else {  // time passes
      now += Duration(below(2500));
      lock.advance(now);
    }
    drain();
    model.check(lock);
    if (auto d = lock.next_deadline()) {
      ASSERT_GT(*d, now) << "a deadline at or before now was not processed";
    }
  }

  // The run must have exercised every path, or it proves little.
  if (HasFailure()) return;
  EXPECT_GT(model.seen[Event::Kind::Offered], 1000);
  EXPECT_GT(model.seen[Event::Kind::Failed], 100);
  EXPECT_GT(model.seen[Event::Kind::Expired], 100);
  EXPECT_GT(model.confirm_timed_out.size(), 20u);
  EXPECT_GT(results[Failure::MultipleRequests], 100);
  EXPECT_GT(results[Failure::TimeoutTooLong], 50);
  EXPECT_GT(results[Failure::InvalidTtl], 50);
}

// --- a semaphore, leases renewed, waits without end, shared tokens (AMQP lock queues)

TEST_F(RwLockTest, MaxSharedMakesACountingSemaphore) {
  Options o = options(Policy::Fifo);
  o.max_shared = 2;
  use(o);
  EXPECT_EQ(lock.available(), 2u);
  acquire(A, Shared);
  acquire(B, Shared);
  EXPECT_EQ(lock.available(), 0u);
  wait(C, Shared);
  EXPECT_EQ(grantedAfterRelease(A), Owners{C});
  EXPECT_EQ(lock.available(), 0u);
  EXPECT_EQ(grantedAfterRelease(B), Owners{});
  EXPECT_EQ(lock.available(), 1u);
}

TEST_F(RwLockTest, WithoutMaxSharedAvailableSaysFreeOrNot) {
  EXPECT_EQ(lock.available(), 1u);
  acquire(A, Shared);
  acquire(B, Shared);
  EXPECT_EQ(lock.available(), 0u);
}

TEST_F(RwLockTest, RenewRestartsALeaseAndOnlyForAHeldToken) {
  Token t = acquire(A, Exclusive, t0, 10s);
  EXPECT_TRUE(lock.renew(t, t0 + 8s));
  EXPECT_EQ(lock.next_deadline(), t0 + 18s);
  lock.advance(t0 + 12s);
  EXPECT_EQ(events(), Events{});
  lock.advance(t0 + 18s);
  EXPECT_EQ(events(), Events{expired(A, t, Exclusive)});
  EXPECT_FALSE(lock.renew(t, t0 + 18s));
  EXPECT_FALSE(lock.renew(t + 1, t0 + 18s));
  Token u = acquire(B, Exclusive, t0 + 19s);  // no lease: renew says held, sets nothing
  EXPECT_TRUE(lock.renew(u, t0 + 20s));
  EXPECT_EQ(lock.next_deadline(), std::nullopt);
}

TEST_F(RwLockTest, AForeverRequestTimeoutNeverExpiresOrShowsAsADeadline) {
  Options o = options(Policy::Fifo);
  o.request_timeout = kForever;
  use(o);
  acquire(A, Exclusive);
  wait(B, Exclusive);
  EXPECT_EQ(lock.next_deadline(), std::nullopt);
  lock.advance(t0 + std::chrono::hours(24 * 365 * 50));
  EXPECT_EQ(events(), Events{});
  EXPECT_EQ(waiters(), Owners{B});
}

TEST_F(RwLockTest, SharedTokensComeFromOneCounter) {
  Token next = 100;
  RwLock other(options());
  lock.share_tokens(&next);
  other.share_tokens(&next);
  EXPECT_EQ(acquire(A, Exclusive), 100u);
  EXPECT_EQ(other.request(B, Exclusive, std::nullopt, t0), Failure::None);
  Events ev;
  other.take_events(ev);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].token, 101u);
  EXPECT_EQ(lock.next_token(), 102u);
  EXPECT_EQ(lock.snapshot().next_token, 102u);
}

TEST_F(RwLockTest, ThePlantedDoubleGrantLetsTwoWritersInAndOnlyTwo) {
  Options o = options(Policy::Fifo);
  o.unsafe_double_grant = true;  // the prover's selftest plants this
  use(o);
  acquire(A, Exclusive);
  acquire(B, Exclusive);
  wait(C, Exclusive);
  EXPECT_EQ(grantedAfterRelease(A), Owners{C});
}

INSTANTIATE_TEST_SUITE_P(AllPolicies, RwLockProperty,
                         ::testing::Values(Policy::WriterPreferred, Policy::ReaderPreferred, Policy::Fifo),
                         [](const auto& param_info) { return std::string(to_string(param_info.param)); });

}  // namespace
}  // namespace warren::locks
