// The read/write lock over time and its owners' comings and goings:
// timeouts and leases, status, cancel, disconnect, the snapshot, policy
// names, and what AMQP lock queues add (a semaphore, renewed leases, waits
// without end, shared tokens).
#include "locks/rw_lock_test_fixture.hpp"

namespace warren::locks::test {
namespace {

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

}  // namespace
}  // namespace warren::locks::test
