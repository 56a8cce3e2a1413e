// Unit tests for the protocol-independent read/write lock (rw_lock.hpp):
// offers and tokens, one offer at a time, sharing and exclusion, the
// policies, failures. The fixture: rw_lock_test_fixture.hpp.
#include "locks/rw_lock_test_fixture.hpp"

namespace warren::locks::test {
namespace {

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

}  // namespace
}  // namespace warren::locks::test
