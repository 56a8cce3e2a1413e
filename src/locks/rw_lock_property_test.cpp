// The read/write lock against a model under random operations: every
// step's results and events, and the lock's snapshot, must match it.
#include "locks/rw_lock_test_fixture.hpp"

#include <random>
#include <set>

namespace warren::locks::test {
namespace {

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

INSTANTIATE_TEST_SUITE_P(AllPolicies, RwLockProperty,
                         ::testing::Values(Policy::WriterPreferred, Policy::ReaderPreferred, Policy::Fifo),
                         [](const auto& param_info) { return std::string(to_string(param_info.param)); });

}  // namespace
}  // namespace warren::locks::test
