#pragma once
// What the read/write lock's tests share (rw_lock_test.cpp,
// rw_lock_timing_test.cpp, rw_lock_property_test.cpp): gtest printers for
// the lock's types, the owners and clock of every test, and the fixture
// that drives one lock. Time is injected: every test starts at t0 and adds
// durations; nothing sleeps.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "locks/rw_lock.hpp"

namespace warren::locks {

// Equality and printers for gtest. They live in the library's namespace so
// that argument-dependent lookup finds them.
inline bool operator==(const Event& a, const Event& b) {
  return a.kind == b.kind && a.owner == b.owner && a.token == b.token && a.mode == b.mode && a.reason == b.reason;
}
inline void PrintTo(Failure f, std::ostream* os) { *os << "Failure(" << to_string(f) << ")"; }
inline void PrintTo(Mode m, std::ostream* os) { *os << to_string(m); }
inline void PrintTo(Status s, std::ostream* os) {
  *os << (s == Status::Active ? "Active" : s == Status::Ended ? "Ended" : "Unknown");
}
inline void PrintTo(const Event& e, std::ostream* os) {
  const char* kind = e.kind == Event::Kind::Offered ? "Offered" : e.kind == Event::Kind::Failed ? "Failed" : "Expired";
  *os << kind << "{owner " << e.owner << ", token " << e.token << ", " << to_string(e.mode) << ", "
      << to_string(e.reason) << "}";
}

namespace test {

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

inline Options options(Policy policy = Policy::WriterPreferred, Duration max_ttl = Duration::zero()) {
  Options o;
  o.policy = policy;
  o.request_timeout = kRequestTimeout;
  o.confirm_timeout = kConfirmTimeout;
  o.max_ttl = max_ttl;
  return o;
}

inline Event offered(OwnerId o, Token t, Mode m) { return {Event::Kind::Offered, o, t, m, Failure::None}; }
inline Event failed(OwnerId o, Token t, Mode m, Failure why) { return {Event::Kind::Failed, o, t, m, why}; }
inline Event expired(OwnerId o, Token t, Mode m) { return {Event::Kind::Expired, o, t, m, Failure::None}; }

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


}  // namespace test
}  // namespace warren::locks
