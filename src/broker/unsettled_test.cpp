// Unsettled: delivery tags, settlement (single, multiple, all), and the
// lock-release property: whatever ends a session returns its unsettled
// deliveries to their queues, marked redelivered.
#include "broker/unsettled.hpp"

#include <gtest/gtest.h>

#include "broker/test_util.hpp"

namespace warren::broker {
namespace {

using namespace test;
using Keys = std::vector<uint64_t>;

class UnsettledTest : public ::testing::Test {
 protected:
  // Publishes `texts` to q and tracks one basic.get each in `s`; returns the tags.
  std::vector<uint64_t> get_all(Unsettled& s, const QueuePtr& queue, std::initializer_list<const char*> texts,
                                uint64_t key = 0) {
    for (const char* t : texts) queue->publish(msg(t), t0);
    std::vector<uint64_t> tags;
    while (auto d = queue->get(false, t0)) tags.push_back(s.track(std::move(*d), key));
    return tags;
  }

  FakeHost host;
  QueuePtr q = make_queue(host, {{"x-dead-letter-exchange", "dlx"}});
};

TEST_F(UnsettledTest, TagsCountFromOneAndUntrackedTagsTakeTheirPlace) {
  Unsettled s;
  EXPECT_EQ(s.last_tag(), 0u);
  auto tags = get_all(s, q, {"a"});
  EXPECT_EQ(tags, (std::vector<uint64_t>{1}));
  EXPECT_EQ(s.untracked_tag(), 2u);
  tags = get_all(s, q, {"b"});
  EXPECT_EQ(tags, (std::vector<uint64_t>{3}));
  EXPECT_EQ(s.last_tag(), 3u);
  EXPECT_EQ(s.unsettled(), 2u);
  Keys settled;
  EXPECT_FALSE(s.settle(2, false, Outcome::Accepted, t0, settled));  // no-ack tags are unknown
  EXPECT_TRUE(s.settle(3, false, Outcome::Accepted, t0, settled));
  EXPECT_TRUE(s.settle(1, false, Outcome::Accepted, t0, settled));
  EXPECT_EQ(s.unsettled(), 0u);
}

TEST_F(UnsettledTest, SettleRangeSettlesOnlyUnsettledTagsInside) {
  Unsettled s;
  auto tags = get_all(s, q, {"a", "b", "c", "d", "e"}, 3);
  Keys settled;
  ASSERT_TRUE(s.settle(tags[2], false, Outcome::Accepted, t0, settled));
  settled.clear();
  s.settle_range(tags[1], tags[3], Outcome::Accepted, t0, settled);
  EXPECT_EQ(settled, (Keys{3, 3}));  // b and d; c was settled already
  EXPECT_EQ(s.unsettled(), 2u);
  EXPECT_EQ(q->unacked_count(), 2u);
  settled.clear();
  s.settle_range(tags[4], tags[0], Outcome::Accepted, t0, settled);  // first > last: nothing
  EXPECT_TRUE(settled.empty());
  // A range far wider than what is tracked costs only what is tracked.
  s.settle_range(0, ~uint64_t{0} - 1, Outcome::Released, t0, settled);
  EXPECT_EQ(settled.size(), 2u);
  EXPECT_EQ(s.unsettled(), 0u);
  EXPECT_EQ(q->ready_count(), 2u);  // a and e are back
}

TEST_F(UnsettledTest, AckSettlesOneTagOnce) {
  Unsettled s;
  auto tags = get_all(s, q, {"a", "b"}, 7);
  Keys settled;
  EXPECT_TRUE(s.settle(tags[0], false, Outcome::Accepted, t0, settled));
  EXPECT_EQ(settled, (Keys{7}));
  EXPECT_EQ(q->unacked_count(), 1u);
  EXPECT_FALSE(s.settle(tags[0], false, Outcome::Accepted, t0, settled));
  EXPECT_FALSE(s.settle(5, false, Outcome::Accepted, t0, settled));
  EXPECT_FALSE(s.settle(0, false, Outcome::Accepted, t0, settled));
  EXPECT_EQ(settled, (Keys{7}));
  EXPECT_EQ(s.unsettled(), 1u);
}

TEST_F(UnsettledTest, MultipleSettlesEverythingUpToTheTag) {
  Unsettled s;
  std::vector<uint64_t> tags;
  for (uint64_t key : {10, 11, 12, 13}) {
    auto t = get_all(s, q, {"m"}, key);
    tags.push_back(t[0]);
  }
  Keys settled;
  EXPECT_TRUE(s.settle(tags[1], false, Outcome::Accepted, t0, settled));
  settled.clear();
  EXPECT_TRUE(s.settle(tags[2], true, Outcome::Accepted, t0, settled));
  EXPECT_EQ(settled, (Keys{10, 12}));
  EXPECT_EQ(s.unsettled(), 1u);
  EXPECT_EQ(q->unacked_count(), 1u);
  EXPECT_FALSE(s.settle(tags[2], true, Outcome::Accepted, t0, settled));
}

TEST_F(UnsettledTest, MultipleWithAnUnknownTagSettlesNothing) {
  Unsettled s;
  auto tags = get_all(s, q, {"a", "b"});
  Keys settled;
  EXPECT_FALSE(s.settle(tags[1] + 1, true, Outcome::Accepted, t0, settled));
  EXPECT_TRUE(settled.empty());
  EXPECT_EQ(s.unsettled(), 2u);
}

TEST_F(UnsettledTest, TagZeroWithMultipleMeansEverything) {
  Unsettled s;
  get_all(s, q, {"a", "b", "c"}, 3);
  Keys settled;
  EXPECT_TRUE(s.settle(0, true, Outcome::Accepted, t0, settled));
  EXPECT_EQ(settled, (Keys{3, 3, 3}));
  EXPECT_EQ(s.unsettled(), 0u);
  EXPECT_EQ(q->unacked_count(), 0u);
  EXPECT_TRUE(s.settle(0, true, Outcome::Accepted, t0, settled));  // nothing left: still fine
}

TEST_F(UnsettledTest, NackWithRequeueReturnsMessagesInTheirOrder) {
  Unsettled s;
  auto tags = get_all(s, q, {"a", "b", "c"});
  Keys settled;
  EXPECT_TRUE(s.settle(tags[2], false, Outcome::Released, t0, settled));
  EXPECT_TRUE(s.settle(tags[1], true, Outcome::Released, t0, settled));
  EXPECT_EQ(q->ready_count(), 3u);
  auto d = q->get(true, t0);
  EXPECT_EQ(text_of(d->message), "a");
  EXPECT_TRUE(d->redelivered);
  EXPECT_EQ(drain(*q), (Texts{"b", "c"}));
}

TEST_F(UnsettledTest, RejectDeadLetters) {
  Unsettled s;
  auto tags = get_all(s, q, {"a", "b"});
  Keys settled;
  EXPECT_TRUE(s.settle(tags[1], true, Outcome::Rejected, t0, settled));
  ASSERT_EQ(host.dead_texts(), (Texts{"a", "b"}));
  EXPECT_EQ(host.dead[0].why, DeadReason::Rejected);
  EXPECT_EQ(q->ready_count(), 0u);
}

TEST_F(UnsettledTest, CloseReleasesEverythingRedelivered) {
  Unsettled s;
  auto tags = get_all(s, q, {"a", "b", "c"});
  Keys settled;
  s.settle(tags[1], false, Outcome::Accepted, t0, settled);
  s.close(t0);
  EXPECT_EQ(s.unsettled(), 0u);
  EXPECT_EQ(q->unacked_count(), 0u);
  EXPECT_EQ(q->ready_count(), 2u);
  auto d = q->get(true, t0);
  EXPECT_EQ(text_of(d->message), "a");
  EXPECT_TRUE(d->redelivered);
  d = q->get(true, t0);
  EXPECT_EQ(text_of(d->message), "c");
  EXPECT_TRUE(d->redelivered);
  EXPECT_FALSE(s.settle(tags[0], false, Outcome::Accepted, t0, settled));
}

TEST_F(UnsettledTest, TheDestructorReleasesToo) {
  {
    Unsettled s;
    get_all(s, q, {"a", "b"});
    EXPECT_EQ(q->unacked_count(), 2u);
  }
  EXPECT_EQ(q->unacked_count(), 0u);
  EXPECT_EQ(q->ready_count(), 2u);
  EXPECT_TRUE(q->get(true, t0)->redelivered);
}

TEST_F(UnsettledTest, ReleasesGoToTheirOwnQueues) {
  QueuePtr other = make_queue(host);
  Unsettled s;
  get_all(s, q, {"q1", "q2"});
  get_all(s, other, {"o1"});
  s.close(t0);
  EXPECT_EQ(drain(*q), (Texts{"q1", "q2"}));
  EXPECT_EQ(drain(*other), (Texts{"o1"}));
}

TEST_F(UnsettledTest, ReleasedMessagesGoToTheNextConsumer) {
  Unsettled s;
  get_all(s, q, {"a", "b"});
  FakeConsumer c;
  q->add_consumer({&c, "c"}, t0);
  EXPECT_TRUE(c.got.empty());
  s.close(t0);  // a connection dropped: its deliveries go to the waiting consumer
  ASSERT_EQ(c.texts(), (Texts{"a", "b"}));
  EXPECT_TRUE(c.got[0].redelivered);
  EXPECT_TRUE(c.got[1].redelivered);
}

// basic.recover: released deliveries come straight back to this session's
// own consumer, with new tags, and are not released a second time.
TEST_F(UnsettledTest, SettleAllDoesNotChaseRedeliveriesToTheSameSession) {
  Unsettled s;
  FakeConsumer c;
  c.on_deliver = [&](const Delivery& d) { s.track(d, 1); };
  q->add_consumer({&c, "c"}, t0);
  q->publish(msg("a"), t0);
  q->publish(msg("b"), t0);
  EXPECT_EQ(s.last_tag(), 2u);
  Keys settled;
  s.settle_all(Outcome::Released, t0, &settled);
  EXPECT_EQ(settled, (Keys{1, 1}));
  EXPECT_EQ(c.texts(), (Texts{"a", "b", "a", "b"}));
  EXPECT_EQ(s.last_tag(), 4u);
  EXPECT_EQ(s.unsettled(), 2u);
  EXPECT_EQ(q->unacked_count(), 2u);
  EXPECT_TRUE(s.settle(4, true, Outcome::Accepted, t0, settled));
  EXPECT_EQ(q->unacked_count(), 0u);
}

TEST_F(UnsettledTest, MultipleNackWhileTheQueueRedeliversIntoTheSession) {
  Unsettled s;
  FakeConsumer c(2);
  c.on_deliver = [&](const Delivery& d) { s.track(d, 1); };
  q->add_consumer({&c, "c"}, t0);
  for (auto t : {"a", "b", "c", "d"}) q->publish(msg(t), t0);
  EXPECT_EQ(s.last_tag(), 2u);
  Keys settled;
  c.set_credit(2);
  // Releasing tag 1 hands "a" (tag 3) and "c" (tag 4) straight back to
  // this session, in the middle of settling up to tag 2.
  EXPECT_TRUE(s.settle(2, true, Outcome::Released, t0, settled));
  EXPECT_EQ(settled, (Keys{1, 1}));
  EXPECT_EQ(c.texts(), (Texts{"a", "b", "a", "c"}));
  EXPECT_EQ(s.last_tag(), 4u);
  EXPECT_EQ(s.unsettled(), 2u);
  EXPECT_EQ(q->unacked_count(), 2u);
  EXPECT_EQ(q->ready_count(), 2u);  // b and d
  EXPECT_TRUE(s.settle(4, true, Outcome::Accepted, t0, settled));
  EXPECT_EQ(q->unacked_count(), 0u);
}

TEST_F(UnsettledTest, AQueueDeletedWhileDeliveriesAreOutstanding) {
  QueuePtr other = make_queue(host);
  Unsettled s;
  auto tags = get_all(s, q, {"a", "b"});
  auto other_tags = get_all(s, other, {"o"});
  q->close();
  Keys settled;
  // The tags are still known to the session; settling them is a no-op.
  EXPECT_TRUE(s.settle(tags[0], false, Outcome::Released, t0, settled));
  EXPECT_EQ(q->ready_count(), 0u);
  s.forget_queue(q.get());
  EXPECT_FALSE(s.settle(tags[1], false, Outcome::Accepted, t0, settled));
  EXPECT_EQ(s.unsettled(), 1u);
  s.close(t0);
  EXPECT_EQ(drain(*other), (Texts{"o"}));
  EXPECT_EQ(q->ready_count(), 0u);
  (void)other_tags;
}

TEST_F(UnsettledTest, ClosingAfterTheQueueWentAwayIsSafe) {
  Unsettled s;
  get_all(s, q, {"a"});
  q->close();
  q.reset();  // the session's delivery is now the last owner
  s.close(t0);
  EXPECT_EQ(s.unsettled(), 0u);
}

TEST_F(UnsettledTest, ManyDeliveriesSettleOutOfOrder) {
  Unsettled s;
  std::vector<uint64_t> tags;
  for (int i = 0; i < 200; ++i) {
    q->publish(msg(std::to_string(i)), t0);
    tags.push_back(s.track(*q->get(false, t0), 0));
  }
  Keys settled;
  for (size_t i = 1; i < tags.size(); i += 2) EXPECT_TRUE(s.settle(tags[i], false, Outcome::Accepted, t0, settled));
  EXPECT_EQ(s.unsettled(), 100u);
  EXPECT_FALSE(s.settle(tags[99], true, Outcome::Accepted, t0, settled));  // already settled
  EXPECT_EQ(s.unsettled(), 100u);
  EXPECT_TRUE(s.settle(tags[98], true, Outcome::Accepted, t0, settled));
  EXPECT_EQ(s.unsettled(), 50u);
  for (size_t i = 100; i < tags.size(); i += 2) EXPECT_TRUE(s.settle(tags[i], false, Outcome::Released, t0, settled));
  EXPECT_EQ(s.unsettled(), 0u);
  EXPECT_EQ(q->ready_count(), 50u);
  EXPECT_EQ(q->unacked_count(), 0u);
}

}  // namespace
}  // namespace warren::broker
