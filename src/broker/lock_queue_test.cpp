// Lock queues (x-queue-type "lock"): grants, release paths, leases,
// verification and fencing tokens, driven through the vhost and queue calls
// the front ends make.
#include "broker/lock_queue.hpp"

#include <gtest/gtest.h>

#include <map>
#include <set>

#include "broker/test_util.hpp"
#include "broker/unsettled.hpp"

namespace warren::broker {
namespace {

using namespace test;

int64_t token_of(const Delivery& d) {
  const Properties& p = d.message->properties();
  const Value* v = p.headers ? find(*p.headers, "x-fencing-token") : nullptr;
  return v && v->as_int() ? *v->as_int() : -1;
}

// x-lock-permit: a semaphore's slot; -1 when the grant has none.
int64_t permit_of(const Delivery& d) {
  const Value* v = find(*d.message->properties().headers, "x-lock-permit");
  return v && v->as_int() ? *v->as_int() : -1;
}

std::string mode_of(const Delivery& d) {
  const Value* v = find(*d.message->properties().headers, "x-lock-mode");
  return v && v->as_string() ? *v->as_string() : "";
}

class LockQueueTest : public VHostTest {
 protected:
  QueuePtr lock(Table args = {}, std::string name = "l") {
    args.insert(args.begin(), {"x-queue-type", Value(std::string("lock"))});
    Error e = declare_queue(name, std::move(args));
    EXPECT_FALSE(e) << e.text();
    return v.find_queue(name);
  }
  // A consumer with prefetch 1, as the docs advise.
  Error consume(Queue& q, FakeConsumer& c, LockMode mode = LockMode::Default, std::string tag = "c") {
    return q.add_consumer(ConsumerSlot{&c, std::move(tag), 0, false, kConn, mode}, now);
  }
  // Settles `c`'s last grant as a channel would on basic.ack, and gives
  // its prefetch credit back.
  void ack(Queue& q, FakeConsumer& c) {
    q.settle(c.got.back().seq, Outcome::Accepted, now);
    c.set_credit(1);
    q.credit_changed(now);
  }
  bool verify(int64_t token, std::string name = "l") {
    PublishResult r = publish("", name, "", with_token(token));
    return r.queues == 1 && !r.rejected;
  }
  static Properties with_token(int64_t token) {
    Properties p;
    p.headers = Table{{"x-fencing-token", Value(token)}};
    return p;
  }
};

TEST_F(LockQueueTest, AMutexGrantsOneConsumerAtATimeInArrivalOrderWithIncreasingTokens) {
  QueuePtr q = lock();
  FakeConsumer a(1), b(1), c(1);
  ASSERT_FALSE(consume(*q, a));
  ASSERT_FALSE(consume(*q, b));
  ASSERT_FALSE(consume(*q, c));
  ASSERT_EQ(a.got.size(), 1u);
  EXPECT_TRUE(b.got.empty());
  EXPECT_TRUE(c.got.empty());
  EXPECT_EQ(mode_of(a.got[0]), "exclusive");
  EXPECT_EQ(text_of(a.got[0].message), std::to_string(token_of(a.got[0])));
  EXPECT_EQ(q->ready_count(), 0u);  // no permit free
  EXPECT_EQ(q->unacked_count(), 1u);

  ack(*q, a);
  ASSERT_EQ(b.got.size(), 1u);
  EXPECT_TRUE(c.got.empty());
  EXPECT_GT(token_of(b.got[0]), token_of(a.got[0]));
  ack(*q, b);
  ASSERT_EQ(c.got.size(), 1u);
  EXPECT_GT(token_of(c.got[0]), token_of(b.got[0]));
  // a asked again when it acked: it is next, behind b and c.
  ack(*q, c);
  ASSERT_EQ(a.got.size(), 2u);
  EXPECT_GT(token_of(a.got[1]), token_of(c.got[0]));
}

TEST_F(LockQueueTest, EveryOutcomeReleases) {
  for (Outcome o : {Outcome::Accepted, Outcome::Released, Outcome::Rejected, Outcome::Modified}) {
    QueuePtr q = lock({}, "l" + std::to_string(int(o)));
    FakeConsumer a(1), b(1);
    ASSERT_FALSE(consume(*q, a));
    ASSERT_FALSE(consume(*q, b));
    q->settle(a.got.back().seq, o, now);
    EXPECT_EQ(b.got.size(), 1u) << int(o);
  }
}

TEST_F(LockQueueTest, CancellingReleasesTheGrantAndWithdrawsTheRequest) {
  QueuePtr q = lock();
  FakeConsumer a(1), b(1), c(1);
  ASSERT_FALSE(consume(*q, a));
  ASSERT_FALSE(consume(*q, b));
  ASSERT_FALSE(consume(*q, c));
  q->remove_consumer(&b, now);  // a waiter leaves: never granted
  q->remove_consumer(&a, now);  // the holder leaves: released
  EXPECT_TRUE(b.got.empty());
  ASSERT_EQ(c.got.size(), 1u);
  EXPECT_EQ(q->consumer_count(), 1u);
  // a's late ack of its old grant does nothing.
  q->settle(a.got.back().seq, Outcome::Accepted, now);
  EXPECT_EQ(q->unacked_count(), 1u);
}

TEST_F(LockQueueTest, AClosingSessionReleasesWhatItHolds) {
  QueuePtr q = lock();
  FakeConsumer b(1);
  {
    Unsettled session;  // a channel that took the lock with basic.get
    std::optional<Delivery> d = q->get(false, now);
    ASSERT_TRUE(d);
    session.track(*d, 0);
    ASSERT_FALSE(consume(*q, b));
    EXPECT_TRUE(b.got.empty());
    session.close(now);  // channel or connection closed, or the socket died
  }
  EXPECT_EQ(b.got.size(), 1u);
}

TEST_F(LockQueueTest, ASemaphoreGrantsUpToItsPermits) {
  QueuePtr q = lock({{"x-lock-kind", Value(std::string("semaphore"))}, {"x-permits", Value(2)}});
  FakeConsumer a(1), b(1), c(1);
  EXPECT_EQ(q->ready_count(), 2u);
  ASSERT_FALSE(consume(*q, a));
  EXPECT_EQ(q->ready_count(), 1u);
  ASSERT_FALSE(consume(*q, b));
  ASSERT_FALSE(consume(*q, c));
  EXPECT_EQ(a.got.size(), 1u);
  EXPECT_EQ(b.got.size(), 1u);
  EXPECT_TRUE(c.got.empty());
  EXPECT_EQ(mode_of(a.got[0]), "shared");
  EXPECT_EQ(q->ready_count(), 0u);
  ack(*q, b);
  EXPECT_EQ(c.got.size(), 1u);
  EXPECT_NE(token_of(c.got[0]), token_of(a.got[0]));
}

// Each grant of a semaphore names its permit slot, the lowest free one, so
// that a resource can fence per slot; a mutex's and an rwlock's grants have
// none.
TEST_F(LockQueueTest, ASemaphoreGrantCarriesItsPermitSlot) {
  QueuePtr q = lock({{"x-lock-kind", Value(std::string("semaphore"))}, {"x-permits", Value(3)}});
  FakeConsumer a(1), b(1), c(1), d(1);
  ASSERT_FALSE(consume(*q, a, LockMode::Default, "a"));
  ASSERT_FALSE(consume(*q, b, LockMode::Default, "b"));
  ASSERT_FALSE(consume(*q, c, LockMode::Default, "c"));
  ASSERT_FALSE(consume(*q, d, LockMode::Default, "d"));
  EXPECT_EQ(permit_of(a.got[0]), 1);
  EXPECT_EQ(permit_of(b.got[0]), 2);
  EXPECT_EQ(permit_of(c.got[0]), 3);
  EXPECT_TRUE(d.got.empty());
  ack(*q, b);  // slot 2 frees: d, first in line, takes it
  ASSERT_EQ(d.got.size(), 1u);
  EXPECT_EQ(permit_of(d.got[0]), 2);
  EXPECT_GT(token_of(d.got[0]), token_of(c.got[0]));
  // Cancelling frees a slot as an ack does; basic.get's grant has one too.
  q->remove_consumer(&b, now);  // b asked again when it acked: withdrawn
  q->remove_consumer(&a, now);
  std::optional<Delivery> got = q->get(false, now);
  ASSERT_TRUE(got);
  EXPECT_EQ(permit_of(*got), 1);

  LockQueue::View v = q->lock()->view();
  std::map<std::string, uint32_t> slots;
  for (const LockQueue::Party& p : v.holders) slots[p.tag] = p.permit;
  EXPECT_EQ(slots, (std::map<std::string, uint32_t>{{"", 1}, {"c", 3}, {"d", 2}}));

  QueuePtr m = lock({}, "m");
  std::optional<Delivery> mg = m->get(false, now);
  ASSERT_TRUE(mg);
  EXPECT_EQ(permit_of(*mg), -1);
  EXPECT_EQ(m->lock()->view().holders.at(0).permit, 0u);
}

TEST_F(LockQueueTest, AnRwLockSharesReadersAndGivesWritersItAlone) {
  QueuePtr q = lock({{"x-lock-kind", Value(std::string("rwlock"))}});
  FakeConsumer r1(1), r2(1), w(1), r3(1);
  ASSERT_FALSE(consume(*q, r1, LockMode::Shared));
  ASSERT_FALSE(consume(*q, r2, LockMode::Shared));
  ASSERT_FALSE(consume(*q, w, LockMode::Exclusive));
  ASSERT_FALSE(consume(*q, r3, LockMode::Shared));
  EXPECT_EQ(r1.got.size(), 1u);
  EXPECT_EQ(r2.got.size(), 1u);
  EXPECT_TRUE(w.got.empty());
  EXPECT_TRUE(r3.got.empty());  // FIFO: behind the waiting writer
  q->settle(r1.got.back().seq, Outcome::Accepted, now);
  EXPECT_TRUE(w.got.empty());
  q->settle(r2.got.back().seq, Outcome::Accepted, now);
  ASSERT_EQ(w.got.size(), 1u);
  EXPECT_EQ(mode_of(w.got[0]), "exclusive");
  EXPECT_TRUE(r3.got.empty());
  q->settle(w.got.back().seq, Outcome::Accepted, now);
  EXPECT_EQ(r3.got.size(), 1u);
}

TEST_F(LockQueueTest, GetIsATryLock) {
  QueuePtr q = lock();
  std::optional<Delivery> first = q->get(false, now);
  ASSERT_TRUE(first);
  EXPECT_GT(token_of(*first), 0);
  EXPECT_FALSE(q->get(false, now));  // held: get-empty, no waiting
  FakeConsumer a(1);
  ASSERT_FALSE(consume(*q, a));
  EXPECT_TRUE(a.got.empty());
  q->settle(first->seq, Outcome::Accepted, now);
  ASSERT_EQ(a.got.size(), 1u);
  EXPECT_FALSE(q->get(false, now));  // a consumer holds it now
  EXPECT_GT(token_of(a.got[0]), token_of(*first));
}

TEST_F(LockQueueTest, NoAckIsRefused) {
  QueuePtr q = lock();
  SettlingConsumer s;
  Error e = consume(*q, s);
  EXPECT_EQ(e.code, ErrorCode::PreconditionFailed);
  EXPECT_NE(e.text().find("must be acknowledged"), std::string::npos) << e.text();
  EXPECT_EQ(q->check_get(true).code, ErrorCode::PreconditionFailed);
  EXPECT_FALSE(q->check_get(false));
  EXPECT_EQ(q->consumer_count(), 0u);
}

TEST_F(LockQueueTest, ModesTheKindDoesNotHaveAreRefused) {
  QueuePtr m = lock();
  FakeConsumer a(1), b(1);
  EXPECT_EQ(consume(*m, a, LockMode::Shared).code, ErrorCode::PreconditionFailed);
  QueuePtr s = lock({{"x-lock-kind", Value(std::string("semaphore"))}}, "s");
  EXPECT_EQ(consume(*s, b, LockMode::Exclusive).code, ErrorCode::PreconditionFailed);
}

TEST_F(LockQueueTest, VerifyingAcceptsOnlyAHeldToken) {
  QueuePtr q = lock();
  FakeConsumer a(1);
  ASSERT_FALSE(consume(*q, a));
  const int64_t t = token_of(a.got[0]);
  EXPECT_TRUE(verify(t));
  EXPECT_FALSE(verify(t + 1));
  EXPECT_FALSE(verify(-1));
  PublishResult none = publish("", "l", "no token");
  EXPECT_TRUE(none.rejected);
  q->settle(a.got[0].seq, Outcome::Accepted, now);
  EXPECT_FALSE(verify(t));  // released
  EXPECT_EQ(q->ready_count(), 1u);  // nothing was enqueued
}

TEST_F(LockQueueTest, ALeaseEndsAGrantNotRenewedAndCancelsItsConsumer) {
  QueuePtr q = lock({{"x-lock-ttl", Value(1000)}});
  FakeConsumer a(1), b(1);
  ASSERT_FALSE(consume(*q, a));
  ASSERT_FALSE(consume(*q, b));
  const int64_t t = token_of(a.got[0]);
  ASSERT_TRUE(v.next_deadline());
  EXPECT_EQ(*v.next_deadline(), now + 1000ms);
  now += 900ms;
  EXPECT_TRUE(verify(t));  // renewed: runs to now + 1000 ms
  now += 900ms;
  v.advance(now);
  EXPECT_TRUE(b.got.empty());
  EXPECT_EQ(a.cancelled, 0);
  now += 200ms;
  v.advance(now);
  EXPECT_EQ(a.cancelled, 1);
  EXPECT_EQ(q->consumer_count(), 1u);
  ASSERT_EQ(b.got.size(), 1u);
  EXPECT_FALSE(verify(t));
  q->settle(a.got[0].seq, Outcome::Accepted, now);  // too late: nothing
  EXPECT_TRUE(verify(token_of(b.got[0])));
}

TEST_F(LockQueueTest, AConsumerWithoutCreditIsPassedOver) {
  QueuePtr q = lock();
  FakeConsumer full(0), b(1);
  ASSERT_FALSE(consume(*q, full));  // its channel's prefetch is taken
  ASSERT_FALSE(consume(*q, b));
  EXPECT_TRUE(full.got.empty());
  ASSERT_EQ(b.got.size(), 1u);
  full.set_credit(1);
  q->credit_changed(now);
  EXPECT_TRUE(full.got.empty());
  q->settle(b.got[0].seq, Outcome::Accepted, now);
  EXPECT_EQ(full.got.size(), 1u);
}

TEST_F(LockQueueTest, TokensNeverRepeatWhenALockIsDeclaredAgainOrTheEpochMoves) {
  QueuePtr q = lock();
  FakeConsumer a(1);
  ASSERT_FALSE(consume(*q, a));
  const int64_t first = token_of(a.got[0]);
  q->remove_consumer(&a, now);
  uint64_t n = 0;
  ASSERT_FALSE(v.delete_queue("l", false, false, kConn, now, n));
  q = lock();
  FakeConsumer b(1);
  ASSERT_FALSE(consume(*q, b));
  EXPECT_GT(token_of(b.got[0]), first);

  v.set_lock_epoch(7);  // a later run
  q->settle(b.got[0].seq, Outcome::Accepted, now);
  b.set_credit(1);
  q->credit_changed(now);
  ASSERT_EQ(b.got.size(), 2u);
  EXPECT_EQ(uint64_t(token_of(b.got[1])), (uint64_t(7) << 32) + 1);
  v.set_lock_epoch(3);  // never backwards
  EXPECT_EQ(v.next_lock_token(), (uint64_t(7) << 32) + 2);
}

TEST_F(LockQueueTest, PassiveDeclareCountsFreePermitsAndConsumers) {
  lock({{"x-lock-kind", Value(std::string("semaphore"))}, {"x-permits", Value(3)}});
  QueuePtr q = v.find_queue("l");
  FakeConsumer a(1), b(1);
  ASSERT_FALSE(consume(*q, a));
  ASSERT_FALSE(consume(*q, b));
  QueueDeclare d{"l", true, false, false, false, {}, kConn};
  QueueDeclareOk ok;
  ASSERT_FALSE(v.declare_queue(d, now, ok));
  EXPECT_EQ(ok.message_count, 1u);
  EXPECT_EQ(ok.consumer_count, 2u);
}

TEST_F(LockQueueTest, ArgumentsAreChecked) {
  auto declare = [&](Table args) {
    args.insert(args.begin(), {"x-queue-type", Value(std::string("lock"))});
    return declare_queue("bad", std::move(args));
  };
  Error e = declare({{"x-lock-kind", Value(std::string("spinlock"))}});
  EXPECT_EQ(e.code, ErrorCode::PreconditionFailed);
  EXPECT_NE(e.text().find("invalid_lock_kind"), std::string::npos) << e.text();
  EXPECT_EQ(declare({{"x-message-ttl", Value(1000)}}).code, ErrorCode::PreconditionFailed);
  EXPECT_EQ(declare({{"x-permits", Value(3)}}).code, ErrorCode::PreconditionFailed);  // a mutex has none
  EXPECT_EQ(declare({{"x-lock-kind", Value(std::string("semaphore"))}, {"x-permits", Value(0)}}).code,
            ErrorCode::PreconditionFailed);
  EXPECT_EQ(declare({{"x-lock-ttl", Value(0)}}).code, ErrorCode::PreconditionFailed);
  EXPECT_EQ(declare({{"x-lock-policy", Value(std::string("random"))}}).code, ErrorCode::PreconditionFailed);
  EXPECT_FALSE(v.find_queue("bad"));

  lock({{"x-lock-kind", Value(std::string("semaphore"))}, {"x-permits", Value(2)}}, "s");
  Error again = declare_queue("s", {{"x-queue-type", Value(std::string("lock"))},
                                    {"x-lock-kind", Value(std::string("semaphore"))},
                                    {"x-permits", Value(3)}});
  EXPECT_EQ(again.code, ErrorCode::PreconditionFailed);  // inequivalent arg
}

struct RecordingObserver : LockObserver {
  std::vector<std::string> seen;
  void lock_event(const LockEvent& e) override {
    static constexpr const char* kKind[] = {"granted", "released", "lease-ended"};
    seen.push_back(std::string(kKind[int(e.kind)]) + " " + std::string(e.consumer) + " conn " + std::to_string(e.connection));
  }
};

TEST_F(LockQueueTest, AnObserverHearsGrantsReleasesAndEndedLeases) {
  RecordingObserver obs;
  v.set_lock_observer(&obs);
  QueuePtr q = lock({{"x-lock-ttl", Value(1000)}});
  FakeConsumer a(1), b(1);
  ASSERT_FALSE(consume(*q, a, LockMode::Default, "a"));
  ASSERT_FALSE(consume(*q, b, LockMode::Default, "b"));
  q->settle(a.got[0].seq, Outcome::Accepted, now);
  now += 2s;
  v.advance(now);
  EXPECT_EQ(obs.seen, (std::vector<std::string>{"granted a conn 1", "released a conn 1", "granted b conn 1",
                                                "lease-ended b conn 1"}));
}

// What the management API shows (GET /api/locks): holders with their
// tokens and deliveries, waiters in line, the last token granted.
TEST_F(LockQueueTest, ViewShowsHoldersWaitersInOrderAndTheLastToken) {
  QueuePtr q = lock({{"x-lock-kind", Value(std::string("rwlock"))}});
  EXPECT_EQ(q->lock()->view().last_token, 0u);
  FakeConsumer r1(1), r2(1), w(1), r3(1);
  ASSERT_FALSE(consume(*q, r1, LockMode::Shared, "r1"));
  ASSERT_FALSE(consume(*q, r2, LockMode::Shared, "r2"));
  ASSERT_FALSE(consume(*q, w, LockMode::Exclusive, "w"));
  ASSERT_FALSE(consume(*q, r3, LockMode::Shared, "r3"));
  LockQueue::View v = q->lock()->view();
  ASSERT_EQ(v.holders.size(), 2u);
  std::set<std::string> tags;
  for (const LockQueue::Party& p : v.holders) {
    tags.insert(p.tag);
    EXPECT_TRUE(p.shared);
    EXPECT_EQ(p.connection, kConn);
    EXPECT_NE(p.delivery, 0u);
  }
  EXPECT_EQ(tags, (std::set<std::string>{"r1", "r2"}));
  EXPECT_EQ(v.last_token, uint64_t(std::max(token_of(r1.got[0]), token_of(r2.got[0]))));
  ASSERT_EQ(v.waiters.size(), 2u);  // FIFO: the writer, then the reader behind it
  EXPECT_EQ(v.waiters[0].tag, "w");
  EXPECT_FALSE(v.waiters[0].shared);
  EXPECT_EQ(v.waiters[0].token, 0u);
  EXPECT_EQ(v.waiters[1].tag, "r3");

  ack(*q, r1);
  ack(*q, r2);  // both readers release: the writer holds
  v = q->lock()->view();
  ASSERT_EQ(v.holders.size(), 1u);
  EXPECT_EQ(v.holders[0].tag, "w");
  EXPECT_EQ(int64_t(v.holders[0].token), token_of(w.got[0]));
  EXPECT_EQ(v.holders[0].delivery, w.got[0].seq);
  EXPECT_EQ(v.last_token, v.holders[0].token);
  ASSERT_EQ(v.waiters.size(), 3u);  // r3, then r1 and r2 asking again
  EXPECT_EQ(v.waiters[0].tag, "r3");

  // basic.get's grant: a holder without a consumer.
  QueuePtr m = lock({}, "m");
  std::optional<Delivery> got = m->get(false, now);
  ASSERT_TRUE(got);
  v = m->lock()->view();
  ASSERT_EQ(v.holders.size(), 1u);
  EXPECT_EQ(v.holders[0].connection, 0u);
  EXPECT_EQ(v.holders[0].tag, "");
  EXPECT_EQ(v.holders[0].delivery, got->seq);
  EXPECT_EQ(int64_t(v.last_token), token_of(*got));
}

}  // namespace
}  // namespace warren::broker
