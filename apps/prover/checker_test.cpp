// The checkers on histories written by hand: each property's violation is
// found, and the histories that keep it are passed.
#include "checker.hpp"
#include "ledger.hpp"

#include <gtest/gtest.h>

#include <algorithm>

namespace warren::prover {
namespace {

constexpr int64_t ms = 1000;

struct Builder {
  History h;
  Builder& op(int64_t t, int p, Type type, Fn f, uint64_t value = 0, std::string detail = {}) {
    h.push_back(Op{t * ms, p, type, f, value, std::move(detail)});
    return *this;
  }
  // A whole fenced cycle: asked at t, granted at t+1, writes, released at t+4.
  Builder& cycle(int64_t t, int p, uint64_t token) {
    return op(t, p, Type::Invoke, Fn::Acquire)
        .op(t + 1, p, Type::Ok, Fn::Acquire, token)
        .op(t + 2, p, Type::Ok, Fn::Write, token, "begin")
        .op(t + 3, p, Type::Ok, Fn::Write, token, "end")
        .op(t + 4, p, Type::Invoke, Fn::Release)
        .op(t + 5, p, Type::Ok, Fn::Release);
  }
};

std::vector<std::string> kinds(const Verdict& v) {
  std::vector<std::string> out;
  for (const Violation& x : v.violations) out.push_back(x.kind);
  return out;
}

LockCheck until(int64_t end_ms, uint32_t permits = 1) { return LockCheck{permits, 20'000 * ms, end_ms * ms}; }

TEST(Checker, TakingTurnsIsClean) {
  Builder b;
  b.cycle(0, 0, 10).cycle(10, 1, 11).cycle(20, 0, 12);
  Verdict v = check_locks(b.h, until(100));
  EXPECT_TRUE(v.violations.empty()) << v.violations[0].text;
  EXPECT_EQ(v.operations, 6u);
  EXPECT_EQ(v.acquired, 3u);
  EXPECT_EQ(v.writes_accepted, 6u);
  EXPECT_EQ(summary_line(v), "6 operations, 0 violations");
}

TEST(Checker, TwoHoldersWithNoFaultIsADoubleGrant) {
  Builder b;
  b.op(0, 0, Type::Invoke, Fn::Acquire).op(1, 0, Type::Ok, Fn::Acquire, 10);
  b.op(2, 1, Type::Invoke, Fn::Acquire).op(3, 1, Type::Ok, Fn::Acquire, 11);
  b.op(4, 0, Type::Invoke, Fn::Release).op(5, 1, Type::Invoke, Fn::Release);
  Verdict v = check_locks(b.h, until(100));
  EXPECT_EQ(kinds(v), std::vector<std::string>{"double-grant"});
  EXPECT_EQ(v.violations[0].processes, (std::vector<int>{0, 1}));
  EXPECT_EQ(summary_line(v), "4 operations, 1 violations");
}

TEST(Checker, AnOverlapDuringAFaultIsExplainedAndCounted) {
  Builder b;
  b.op(0, 0, Type::Invoke, Fn::Acquire).op(1, 0, Type::Ok, Fn::Acquire, 10);
  b.op(2, -1, Type::Info, Fn::Fault, 0, "stop");
  b.h.back().process = 0;
  b.op(3, 1, Type::Invoke, Fn::Acquire).op(4, 1, Type::Ok, Fn::Acquire, 11);
  b.op(5, 0, Type::Info, Fn::Heal, 0, "stop");
  b.op(6, 0, Type::Invoke, Fn::Release).op(7, 1, Type::Invoke, Fn::Release);
  Verdict v = check_locks(b.h, until(100));
  EXPECT_TRUE(v.violations.empty());
  EXPECT_EQ(v.belief_overlaps, 1u);
}

// What warren-recipe-single-queue showed under pauses (2026-12-07): client 0
// was stopped while it waited, the broker declared it dead and passed the
// token on; woken, it read the grant its socket had buffered and believed
// it until its release failed. Within the aftermath of the heal that is the
// fault's doing; past it, a double grant.
TEST(Checker, AWokenClientsStaleGrantIsTheFaultsAftermath) {
  auto run = [](int64_t aftermath_ms) {
    Builder b;
    b.op(0, 0, Type::Invoke, Fn::Acquire);
    b.op(1, -1, Type::Info, Fn::Fault, 0, "stop");
    b.h.back().process = 0;
    b.op(50, 0, Type::Info, Fn::Heal, 0, "stop");
    b.op(51, 0, Type::Ok, Fn::Acquire, 0);  // the buffered grant
    b.op(60, 1, Type::Invoke, Fn::Acquire).op(61, 1, Type::Ok, Fn::Acquire, 0);
    b.op(80, 0, Type::Invoke, Fn::Release).op(81, 0, Type::Info, Fn::Release, 0, "connection lost");
    b.op(90, 1, Type::Invoke, Fn::Release);
    LockCheck c = until(200);
    c.aftermath_us = aftermath_ms * ms;
    return check_locks(b.h, c);
  };
  EXPECT_TRUE(run(20).violations.empty());
  EXPECT_EQ(run(20).belief_overlaps, 1u);
  EXPECT_EQ(kinds(run(0)), std::vector<std::string>{"double-grant"});
}

TEST(Checker, AFencedStaleWriteIsNoViolationButAnUnfencedOneIs) {
  // Client 0 is paused holding token 10; client 1 takes token 11 and writes;
  // client 0 wakes and writes "end".
  auto run = [](uint64_t t0, uint64_t t1, bool refused) {
    Builder b;
    b.op(0, 0, Type::Invoke, Fn::Acquire).op(1, 0, Type::Ok, Fn::Acquire, t0).op(2, 0, Type::Ok, Fn::Write, t0, "begin");
    b.op(3, 1, Type::Invoke, Fn::Acquire).op(4, 1, Type::Ok, Fn::Acquire, t1).op(5, 1, Type::Ok, Fn::Write, t1, "begin");
    b.op(6, 0, refused ? Type::Fail : Type::Ok, Fn::Write, t0, "end");
    b.op(7, 1, Type::Ok, Fn::Write, t1, "end");
    return check_locks(b.h, until(100));
  };
  Verdict fenced = run(10, 11, true);
  EXPECT_EQ(fenced.writes_fenced, 1u);
  EXPECT_EQ(kinds(fenced), std::vector<std::string>{"double-grant"});  // no fault recorded: the beliefs overlap too
  Verdict unfenced = run(0, 0, false);
  EXPECT_EQ(kinds(unfenced), (std::vector<std::string>{"double-grant", "resource"}));
}

TEST(Checker, ASemaphoreAllowsItsPermits) {
  Builder b;
  for (int p = 0; p < 3; ++p) b.op(p, p, Type::Invoke, Fn::Acquire).op(10 + p, p, Type::Ok, Fn::Acquire, 100 + p);
  for (int p = 0; p < 3; ++p) b.op(20 + p, p, Type::Invoke, Fn::Release);
  EXPECT_TRUE(check_locks(b.h, until(100, 3)).violations.empty());
  EXPECT_EQ(kinds(check_locks(b.h, until(100, 2))), std::vector<std::string>{"double-grant"});
}

// The resource's view of a semaphore of 2 fenced per permit slot: a
// session is its begin and end writes, with the token and the slot.
TEST(Checker, ASemaphoreSessionSharingItsSlotIsAResourceViolation) {
  struct Session { int p; uint64_t token; uint32_t permit; int64_t from, to; };
  auto check = [](std::vector<Session> sessions) {
    Builder b;
    for (const Session& x : sessions) {
      b.op(x.from, x.p, Type::Ok, Fn::Write, x.token, "begin").h.back().permit = x.permit;
      b.op(x.to, x.p, Type::Ok, Fn::Write, x.token, "end").h.back().permit = x.permit;
    }
    std::stable_sort(b.h.begin(), b.h.end(), [](const Op& a, const Op& z) { return a.t_us < z.t_us; });
    return check_locks(b.h, until(100, 2));
  };
  // Two holders of two slots at once: what a semaphore of 2 is for.
  EXPECT_TRUE(check({{0, 10, 1, 0, 8}, {1, 11, 2, 2, 9}}).violations.empty());
  // Two of one slot: the paused holder of slot 1 wrote on after the slot
  // went to another (the ledger would have refused it).
  Verdict v = check({{0, 10, 1, 0, 8}, {1, 12, 1, 2, 9}});
  EXPECT_EQ(kinds(v), std::vector<std::string>{"resource"});
  EXPECT_NE(v.violations[0].text.find("permit 1"), std::string::npos) << v.violations[0].text;
  // Three at once, each with its own slot: more than the permits.
  EXPECT_EQ(kinds(check({{0, 10, 1, 0, 8}, {1, 11, 2, 1, 9}, {2, 12, 3, 2, 9}})), std::vector<std::string>{"resource"});
  // Slot 1 again once its first holder is done: no overlap.
  EXPECT_TRUE(check({{0, 10, 1, 0, 3}, {1, 12, 1, 3, 9}}).violations.empty());
  // A recipe without slots (permit 0) is counted, as before, only beyond the permits.
  EXPECT_TRUE(check({{0, 10, 0, 0, 8}, {1, 11, 0, 2, 9}}).violations.empty());
}

// The holders' view: two beliefs in one slot with no fault on either is a
// double grant even within the permits.
TEST(Checker, TwoHoldersOfOneSlotWithNoFaultIsADoubleGrant) {
  Builder b;
  b.op(0, 0, Type::Invoke, Fn::Acquire).op(1, 0, Type::Ok, Fn::Acquire, 10).h.back().permit = 1;
  b.op(2, 1, Type::Invoke, Fn::Acquire).op(3, 1, Type::Ok, Fn::Acquire, 11).h.back().permit = 1;
  b.op(4, 0, Type::Invoke, Fn::Release).op(5, 1, Type::Invoke, Fn::Release);
  EXPECT_EQ(kinds(check_locks(b.h, until(100, 2))), std::vector<std::string>{"double-grant"});
  b.h[3].permit = 2;
  EXPECT_TRUE(check_locks(b.h, until(100, 2)).violations.empty());
}

TEST(Ledger, AMutexIsFencedByOneHighestToken) {
  Ledger l(true);
  EXPECT_TRUE(l.write(10));
  EXPECT_TRUE(l.write(12));
  EXPECT_FALSE(l.write(11));
  EXPECT_TRUE(l.write(12));  // the holder's own "end"
}

TEST(Ledger, ASemaphoreIsFencedPerPermitSlot) {
  Ledger l(false);
  EXPECT_TRUE(l.write(10, 1));
  EXPECT_TRUE(l.write(11, 2));
  EXPECT_TRUE(l.write(10, 1));   // an older token in another slot than the newest: accepted
  EXPECT_TRUE(l.write(12, 1));   // slot 1 went to a newer holder
  EXPECT_FALSE(l.write(10, 1));  // its old holder is stale now
  EXPECT_TRUE(l.write(11, 2));   // and slot 2 is not concerned
  // Writes without a slot to a semaphore (a recipe without permits): recorded, never refused.
  EXPECT_TRUE(l.write(5, 0));
  EXPECT_TRUE(l.write(3, 0));
}

TEST(Checker, TokensMustFollowRealTime) {
  Builder b;
  b.cycle(0, 0, 20).cycle(10, 1, 19);
  EXPECT_EQ(kinds(check_locks(b.h, until(100))), std::vector<std::string>{"token-order"});
  Builder again;
  again.cycle(0, 0, 20).cycle(10, 1, 20);
  EXPECT_EQ(kinds(check_locks(again.h, until(100))), (std::vector<std::string>{"token-repeat", "token-order"}));
  // Concurrent asks may be granted in either order.
  Builder concurrent;
  concurrent.op(0, 0, Type::Invoke, Fn::Acquire).op(1, 1, Type::Invoke, Fn::Acquire);
  concurrent.op(2, 1, Type::Ok, Fn::Acquire, 30).op(3, 1, Type::Invoke, Fn::Release);
  concurrent.op(4, 0, Type::Ok, Fn::Acquire, 31).op(5, 0, Type::Invoke, Fn::Release);
  EXPECT_TRUE(check_locks(concurrent.h, until(100)).violations.empty());
}

// The recipes count a semaphore's tokens per permit slot: tokens of two
// slots are not ordered, those of one slot are, and one token may be given
// once per slot.
TEST(Checker, SemaphoreTokensAreOrderedPerSlot) {
  auto grant = [](Builder& b, int64_t t, int p, uint64_t token, uint32_t permit) {
    b.op(t, p, Type::Invoke, Fn::Acquire).op(t + 1, p, Type::Ok, Fn::Acquire, token).h.back().permit = permit;
    b.op(t + 2, p, Type::Invoke, Fn::Release);
  };
  Builder slots;
  grant(slots, 0, 0, 7, 1);
  grant(slots, 10, 1, 3, 2);  // lower than slot 1's, in another slot
  grant(slots, 20, 2, 7, 2);  // slot 1's number, in slot 2
  grant(slots, 30, 0, 8, 1);
  EXPECT_TRUE(check_locks(slots.h, until(100, 2)).violations.empty());
  Builder stale;
  grant(stale, 0, 0, 7, 1);
  grant(stale, 10, 1, 6, 1);
  EXPECT_EQ(kinds(check_locks(stale.h, until(100, 2))), std::vector<std::string>{"token-order"});
  Builder repeat;
  grant(repeat, 0, 0, 7, 2);
  grant(repeat, 10, 1, 7, 2);
  EXPECT_EQ(kinds(check_locks(repeat.h, until(100, 2))), (std::vector<std::string>{"token-repeat", "token-order"}));
}

TEST(Checker, AClientNeverServedAfterTheFaultsHealIsALivenessViolation) {
  Builder b;
  b.op(0, 0, Type::Invoke, Fn::Acquire).op(1, 0, Type::Ok, Fn::Acquire, 1);
  b.op(2, 1, Type::Invoke, Fn::Acquire);
  Verdict v = check_locks(b.h, LockCheck{1, 10 * ms, 100 * ms});
  EXPECT_EQ(kinds(v), std::vector<std::string>{"liveness"});
  // Within the bound at the end of the run: not yet a violation.
  EXPECT_TRUE(check_locks(b.h, LockCheck{1, 10 * ms, 11 * ms}).violations.empty());
}

TEST(Checker, AKilledHolderStopsBelievingAtItsDeath) {
  Builder b;
  b.op(0, 0, Type::Invoke, Fn::Acquire).op(1, 0, Type::Ok, Fn::Acquire, 10);
  b.op(2, 0, Type::Info, Fn::Fault, 0, "kill");
  b.op(3, 1, Type::Invoke, Fn::Acquire).op(4, 1, Type::Ok, Fn::Acquire, 11).op(5, 1, Type::Invoke, Fn::Release);
  Verdict v = check_locks(b.h, until(100));
  EXPECT_TRUE(v.violations.empty());
  EXPECT_EQ(v.belief_overlaps, 0u);
}

TEST(Checker, QueueLossAndDuplicates) {
  Builder b;
  for (uint64_t id = 1; id <= 3; ++id) b.op(id, 0, Type::Invoke, Fn::Enqueue, id).op(id, 0, Type::Ok, Fn::Enqueue, id);
  b.op(4, 0, Type::Invoke, Fn::Enqueue, 4).op(5, 0, Type::Info, Fn::Enqueue, 4);  // unconfirmed: may be lost
  b.op(6, 1, Type::Ok, Fn::Dequeue, 1).op(7, 1, Type::Ok, Fn::Dequeue, 1).op(8, 1, Type::Ok, Fn::Dequeue, 3);
  Verdict v = check_queue(b.h, {});
  EXPECT_EQ(v.confirmed, 3u);
  EXPECT_EQ(v.duplicates, 1u);
  EXPECT_EQ(v.lost, 1u);
  EXPECT_EQ(kinds(v), std::vector<std::string>{"lost-message"});
}

TEST(History, JsonLinesRoundTrip) {
  Op op{123456, 3, Type::Info, Fn::Fault, 42, "blackhole"};
  std::optional<Op> back = from_json_line(to_json_line(op));
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, op);
  Op slot{7, 1, Type::Ok, Fn::Write, 99, "begin", 3};
  back = from_json_line(to_json_line(slot));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->permit, 3u);
  EXPECT_EQ(to_json_line(op).find("permit"), std::string::npos);
  EXPECT_FALSE(from_json_line("{\"t\":1}"));
  EXPECT_FALSE(from_json_line("not json"));
  EXPECT_FALSE(from_json_line("{\"t\":1,\"type\":\"ok\",\"f\":\"jump\"}"));
}

}  // namespace
}  // namespace warren::prover
