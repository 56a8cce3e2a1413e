// A semaphore's permit slots (rw_lock.hpp, "Permits"): each Shared grant of
// a lock with max_shared is for the lowest slot 1..max_shared that nobody
// holds or is offered, and every way a grant ends gives its slot back. A
// resource fences a semaphore per slot, so two holders of one slot at once
// would defeat it. Time is injected, as in rw_lock_test.cpp.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <vector>

#include "locks/rw_lock.hpp"

namespace warren::locks {
namespace {

using namespace std::chrono_literals;

const TimePoint kStart = TimePoint{} + std::chrono::hours(2);

Options semaphore(uint32_t permits) {
  Options o;
  o.policy = Policy::Fifo;
  o.request_timeout = 60s;
  o.confirm_timeout = 3s;
  o.max_shared = permits;
  return o;
}

// One lock and the grants it made, by owner.
struct Sem {
  explicit Sem(Options o) : lock(o) {}

  // The offers made since the last call.
  std::vector<Event> offers() {
    std::vector<Event> ev, out;
    lock.take_events(ev);
    for (const Event& e : ev)
      if (e.kind == Event::Kind::Offered) out.push_back(e);
    return out;
  }

  // owner asks; it must be offered at once, and it confirms. Its slot.
  Permit take(OwnerId owner, TimePoint now = kStart, Mode mode = Mode::Shared,
              std::optional<Duration> ttl = std::nullopt) {
    EXPECT_EQ(lock.request(owner, mode, ttl, now), Failure::None);
    std::vector<Event> ev = offers();
    if (ev.size() != 1 || ev[0].owner != owner) {
      ADD_FAILURE() << "owner " << owner << " was not offered at once";
      return 0;
    }
    tokens[owner] = ev[0].token;
    EXPECT_EQ(lock.confirm(owner, ev[0].token, now), Failure::None);
    EXPECT_EQ(lock.permit_of(ev[0].token), ev[0].permit);
    return ev[0].permit;
  }

  // Slots of the holders, by owner, from the snapshot.
  std::map<OwnerId, Permit> slots() const {
    std::map<OwnerId, Permit> out;
    for (const Snapshot::Holder& h : lock.snapshot().holders) out[h.owner] = h.permit;
    return out;
  }

  RwLock lock;
  std::map<OwnerId, Token> tokens;
};

TEST(SemaphorePermit, GrantsTakeTheLowestFreeSlot) {
  Sem s(semaphore(3));
  EXPECT_EQ(s.take(10), 1u);
  EXPECT_EQ(s.take(11), 2u);
  EXPECT_EQ(s.take(12), 3u);
  EXPECT_EQ(s.slots(), (std::map<OwnerId, Permit>{{10, 1}, {11, 2}, {12, 3}}));

  // Slot 2 frees: the next grant takes it, not a fourth slot.
  ASSERT_EQ(s.lock.release(11, s.tokens[11], kStart), Failure::None);
  EXPECT_EQ(s.take(13), 2u);
  // 1 and 3 free: the lower first, then the other.
  ASSERT_EQ(s.lock.release(12, s.tokens[12], kStart), Failure::None);
  ASSERT_EQ(s.lock.release(10, s.tokens[10], kStart), Failure::None);
  EXPECT_EQ(s.take(14), 1u);
  EXPECT_EQ(s.take(15), 3u);
}

TEST(SemaphorePermit, AWaiterGetsTheSlotItsPredecessorGaveBack) {
  Sem s(semaphore(2));
  s.take(1);
  s.take(2);
  ASSERT_EQ(s.lock.request(3, Mode::Shared, std::nullopt, kStart), Failure::None);
  EXPECT_TRUE(s.offers().empty());  // full: it waits
  ASSERT_EQ(s.lock.release(1, s.tokens[1], kStart + 1s), Failure::None);
  std::vector<Event> ev = s.offers();
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].owner, 3u);
  EXPECT_EQ(ev[0].permit, 1u);
}

TEST(SemaphorePermit, AnOutstandingOfferKeepsItsSlot) {
  Sem s(semaphore(3));
  s.take(1);  // slot 1
  ASSERT_EQ(s.lock.request(2, Mode::Shared, std::nullopt, kStart), Failure::None);
  std::vector<Event> offered = s.offers();
  ASSERT_EQ(offered.size(), 1u);
  EXPECT_EQ(offered[0].permit, 2u);
  ASSERT_TRUE(s.lock.snapshot().offer);
  EXPECT_EQ(s.lock.snapshot().offer->permit, 2u);
  // Slot 1 frees while 2 is offered; the offer keeps 2, the next grant gets 1.
  ASSERT_EQ(s.lock.release(1, s.tokens[1], kStart), Failure::None);
  ASSERT_EQ(s.lock.confirm(2, offered[0].token, kStart), Failure::None);
  EXPECT_EQ(s.take(3), 1u);
  EXPECT_EQ(s.take(4), 3u);
}

TEST(SemaphorePermit, ALeaseThatEndsGivesItsSlotBack) {
  Sem s(semaphore(2));
  s.take(1, kStart, Mode::Shared, 5s);  // slot 1, leased
  s.take(2);                            // slot 2
  s.lock.advance(kStart + 5s);
  std::vector<Event> ev;
  s.lock.take_events(ev);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].kind, Event::Kind::Expired);
  EXPECT_EQ(ev[0].permit, 1u);
  EXPECT_EQ(s.take(3, kStart + 5s), 1u);
}

TEST(SemaphorePermit, ADisconnectGivesBackHeldAndOfferedSlots) {
  Sem s(semaphore(3));
  s.take(1);
  s.take(2);
  ASSERT_EQ(s.lock.request(3, Mode::Shared, std::nullopt, kStart), Failure::None);
  ASSERT_EQ(s.offers().at(0).permit, 3u);  // offered, not confirmed
  s.lock.disconnect(3, kStart);
  s.lock.disconnect(1, kStart);
  EXPECT_EQ(s.take(4), 1u);
  EXPECT_EQ(s.take(5), 3u);
}

TEST(SemaphorePermit, RejectCancelAndAConfirmTimeoutGiveTheOfferedSlotBack) {
  Sem s(semaphore(2));
  s.take(1);
  auto offer = [&](OwnerId o, TimePoint now) {
    EXPECT_EQ(s.lock.request(o, Mode::Shared, std::nullopt, now), Failure::None);
    std::vector<Event> ev = s.offers();
    EXPECT_EQ(ev.size(), 1u);
    return ev.empty() ? Event{} : ev[0];
  };
  Event e = offer(2, kStart);
  EXPECT_EQ(e.permit, 2u);
  ASSERT_EQ(s.lock.reject(2, e.token, kStart), Failure::None);
  e = offer(3, kStart);
  EXPECT_EQ(e.permit, 2u);
  ASSERT_TRUE(s.lock.cancel(3, kStart));
  e = offer(4, kStart);
  EXPECT_EQ(e.permit, 2u);
  s.lock.advance(kStart + 3s);  // not confirmed in time
  std::vector<Event> ev;
  s.lock.take_events(ev);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].reason, Failure::TimeoutWaitingForConfirm);
  EXPECT_EQ(ev[0].permit, 2u);
  EXPECT_EQ(s.take(5, kStart + 3s), 2u);
}

TEST(SemaphorePermit, MutexesAndRwLocksHaveNoPermits) {
  Options rw = semaphore(0);
  Sem readers(rw);
  EXPECT_EQ(readers.take(1), 0u);
  EXPECT_EQ(readers.take(2), 0u);
  Sem writer(rw);
  EXPECT_EQ(writer.take(1, kStart, Mode::Exclusive), 0u);
  // An Exclusive grant of a lock with permits takes no slot either.
  Sem mixed(semaphore(2));
  EXPECT_EQ(mixed.take(1, kStart, Mode::Exclusive), 0u);
  ASSERT_EQ(mixed.lock.release(1, mixed.tokens[1], kStart), Failure::None);
  EXPECT_EQ(mixed.take(2), 1u);
}

TEST(SemaphorePermit, ThePlantedDoubleGrantLeavesPermitsAlone) {
  Options o = semaphore(2);
  o.unsafe_double_grant = true;
  Sem s(o);
  EXPECT_EQ(s.take(1), 1u);
  EXPECT_EQ(s.take(2), 2u);
  ASSERT_EQ(s.lock.request(3, Mode::Shared, std::nullopt, kStart), Failure::None);
  EXPECT_TRUE(s.offers().empty());  // still two permits
  // And the planted bug itself: two writers, neither with a slot.
  Options m = semaphore(0);
  m.unsafe_double_grant = true;
  Sem mutex(m);
  EXPECT_EQ(mutex.take(1, kStart, Mode::Exclusive), 0u);
  EXPECT_EQ(mutex.take(2, kStart, Mode::Exclusive), 0u);
  EXPECT_EQ(mutex.lock.holders(), 2u);
}

// Random requests, confirms, rejects, cancels, releases, disconnects and
// lease ends: every offer is for the lowest slot free at that moment, no
// slot is ever held or offered twice, and tokens strictly increase. Time
// moves only in advance(), which ends whatever is due: so the holders
// after a call are those the call's offer (its last act) saw.
TEST(SemaphorePermit, RandomOperationsNeverShareASlot) {
  constexpr uint32_t kPermits = 3;
  constexpr OwnerId kOwners = 7;
  for (uint64_t seed = 1; seed <= 4; ++seed) {
    Sem s(semaphore(kPermits));
    std::mt19937_64 rng(seed);
    TimePoint now = kStart;
    Token last = 0;
    std::vector<Event> ev;
    for (int step = 0; step < 1500; ++step) {
      const OwnerId o = 1 + rng() % kOwners;
      const Snapshot before = s.lock.snapshot();
      Token held = 0;
      for (const Snapshot::Holder& h : before.holders)
        if (h.owner == o) held = h.token;
      switch (rng() % 7) {
        case 0:
        case 1:
          s.lock.request(o, Mode::Shared, rng() % 3 ? std::nullopt : std::optional<Duration>(200ms), now);
          break;
        case 2:
          if (before.offer && rng() % 4) s.lock.confirm(before.offer->owner, before.offer->token, now);
          else if (before.offer) s.lock.reject(before.offer->owner, before.offer->token, now);
          break;
        case 3:
          if (held) s.lock.release(o, held, now);
          break;
        case 4: s.lock.cancel(o, now); break;
        case 5: s.lock.disconnect(o, now); break;
        case 6:
          now += std::chrono::milliseconds(rng() % 150);
          s.lock.advance(now);
          break;
      }
      const Snapshot after = s.lock.snapshot();
      std::set<Permit> taken;
      for (const Snapshot::Holder& h : after.holders) {
        EXPECT_GE(h.permit, 1u);
        EXPECT_LE(h.permit, kPermits);
        EXPECT_TRUE(taken.insert(h.permit).second) << "slot " << h.permit << " held twice, seed " << seed;
      }
      s.lock.take_events(ev);
      for (const Event& e : ev) {
        if (e.kind != Event::Kind::Offered) continue;
        Permit lowest = 1;
        while (taken.contains(lowest)) ++lowest;
        EXPECT_EQ(e.permit, lowest) << "seed " << seed << " step " << step;
        EXPECT_GT(e.token, last) << "seed " << seed;
        last = e.token;
        ASSERT_TRUE(after.offer);
        EXPECT_EQ(after.offer->permit, e.permit);
      }
      if (after.offer) {
        EXPECT_FALSE(taken.contains(after.offer->permit)) << "seed " << seed;
      }
    }
  }
}

}  // namespace
}  // namespace warren::locks
