// ConfirmTracker: one channel's publisher confirms in one epoch.
#include "client/confirm_tracker.hpp"

#include <gtest/gtest.h>

#include <vector>

#include "client/testing/fake_broker.hpp"

namespace warren::client {
namespace {

using testing::ConfirmLog;

// The tracker and the outcomes of what it completed, run as the session would.
struct TrackerRig {
  ConfirmTracker t;
  ConfirmLog log;
  std::vector<Completion> out;

  uint64_t add(bool mandatory = false, std::string_view ex = "ex", std::string_view rk = "rk",
               std::string_view id = "") {
    return t.add(log.track(), mandatory, ex, rk, id);
  }
  bool settle(uint64_t tag, bool multiple, bool nack = false) {
    bool ok = t.settle(tag, multiple, nack, out);
    flush();
    return ok;
  }
  void flush() {
    for (auto& c : out) c.callback(c.outcome);
    out.clear();
  }
  // The outcome of each publish, or -1 for none yet; fails the test on a second one.
  std::vector<int> outcomes() const {
    std::vector<int> r;
    for (auto& p : log.per) {
      EXPECT_LE(p.size(), 1u) << "a publish completed twice";
      r.push_back(p.empty() ? -1 : int(p.front()));
    }
    return r;
  }
};

constexpr int kAck = int(Outcome::Acked), kNack = int(Outcome::Nacked), kRet = int(Outcome::Returned),
              kUnk = int(Outcome::Unknown), kNone = -1;

TEST(ClientConfirmTracker, SequenceStartsAtOneAndCountsPending) {
  TrackerRig r;
  EXPECT_EQ(r.t.next(), 1u);
  EXPECT_EQ(r.add(), 1u);
  EXPECT_EQ(r.add(), 2u);
  EXPECT_EQ(r.t.next(), 3u);
  EXPECT_EQ(r.t.pending(), 2u);
}

TEST(ClientConfirmTracker, SingleAcksInAndOutOfOrder) {
  TrackerRig r;
  for (int i = 0; i < 4; ++i) r.add();
  EXPECT_TRUE(r.settle(3, false));
  EXPECT_EQ(r.outcomes(), (std::vector<int>{kNone, kNone, kAck, kNone}));
  EXPECT_TRUE(r.settle(1, false));
  EXPECT_TRUE(r.settle(4, false));
  EXPECT_EQ(r.outcomes(), (std::vector<int>{kAck, kNone, kAck, kAck}));
  EXPECT_EQ(r.t.pending(), 1u);
  EXPECT_TRUE(r.settle(2, false));
  EXPECT_EQ(r.outcomes(), (std::vector<int>{kAck, kAck, kAck, kAck}));
  EXPECT_EQ(r.t.pending(), 0u);
  // A duplicate single ack of a settled tag completes nothing again.
  EXPECT_TRUE(r.settle(2, false));
  EXPECT_EQ(r.outcomes(), (std::vector<int>{kAck, kAck, kAck, kAck}));
}

TEST(ClientConfirmTracker, MultipleAckCompletesUpToTheTagInOrder) {
  TrackerRig r;
  for (int i = 0; i < 5; ++i) r.add();
  ASSERT_TRUE(r.t.settle(3, true, false, r.out));
  ASSERT_EQ(r.out.size(), 3u);
  r.flush();
  EXPECT_EQ(r.outcomes(), (std::vector<int>{kAck, kAck, kAck, kNone, kNone}));
  EXPECT_EQ(r.t.pending(), 2u);
  EXPECT_TRUE(r.settle(5, true));
  EXPECT_EQ(r.outcomes(), (std::vector<int>{kAck, kAck, kAck, kAck, kAck}));
}

TEST(ClientConfirmTracker, MultipleOverAlreadySettledCompletesOnlyTheRest) {
  TrackerRig r;
  for (int i = 0; i < 5; ++i) r.add();
  EXPECT_TRUE(r.settle(2, false));
  EXPECT_TRUE(r.settle(4, false, true));  // nacked singly
  EXPECT_TRUE(r.settle(5, true));
  EXPECT_EQ(r.outcomes(), (std::vector<int>{kAck, kAck, kAck, kNack, kAck}));
  EXPECT_EQ(r.t.pending(), 0u);
  // A multiple ack below the window (all settled) is known and does nothing.
  EXPECT_TRUE(r.settle(3, true));
  EXPECT_EQ(r.outcomes(), (std::vector<int>{kAck, kAck, kAck, kNack, kAck}));
}

TEST(ClientConfirmTracker, NackSingleAndMultiple) {
  TrackerRig r;
  for (int i = 0; i < 3; ++i) r.add();
  EXPECT_TRUE(r.settle(1, false, true));
  EXPECT_TRUE(r.settle(3, true, true));
  EXPECT_EQ(r.outcomes(), (std::vector<int>{kNack, kNack, kNack}));
}

TEST(ClientConfirmTracker, TagZeroMultipleSettlesEverythingOutstanding) {
  TrackerRig r;
  for (int i = 0; i < 3; ++i) r.add();
  EXPECT_TRUE(r.settle(2, false));
  EXPECT_TRUE(r.settle(0, true));
  EXPECT_EQ(r.outcomes(), (std::vector<int>{kAck, kAck, kAck}));
  EXPECT_EQ(r.t.pending(), 0u);
  // With nothing published it is harmless.
  TrackerRig empty;
  EXPECT_TRUE(empty.settle(0, true));
}

TEST(ClientConfirmTracker, UnknownTagsAreRefused) {
  TrackerRig r;
  EXPECT_FALSE(r.settle(1, false));  // nothing published
  EXPECT_FALSE(r.settle(1, true));
  r.add();
  r.add();
  EXPECT_FALSE(r.settle(3, false));  // never published
  EXPECT_FALSE(r.settle(3, true));
  EXPECT_FALSE(r.settle(0, false));  // tag 0 names no publish
  EXPECT_EQ(r.outcomes(), (std::vector<int>{kNone, kNone}));
  EXPECT_EQ(r.t.pending(), 2u);
}

TEST(ClientConfirmTracker, ReturnMatchesByMessageId) {
  TrackerRig r;
  r.add(true, "ex", "rk", "m-1");
  r.add(true, "ex", "rk", "m-2");
  r.add(true, "ex", "rk", "m-3");
  r.t.returned("ex", "rk", "m-2");
  EXPECT_TRUE(r.settle(3, true));
  EXPECT_EQ(r.outcomes(), (std::vector<int>{kAck, kRet, kAck}));
}

TEST(ClientConfirmTracker, ReturnMatchesByExchangeAndKeyEarliestFirst) {
  TrackerRig r;
  r.add(true, "ex", "a");
  r.add(false, "ex", "b");  // not mandatory: never returned
  r.add(true, "ex", "b");
  r.add(true, "ex", "b");
  r.add(true, "other", "b");
  r.t.returned("ex", "b", "");
  EXPECT_TRUE(r.settle(5, true));
  EXPECT_EQ(r.outcomes(), (std::vector<int>{kAck, kAck, kRet, kAck, kAck}));
}

TEST(ClientConfirmTracker, SecondReturnForTheSameKeyMarksTheNextPublish) {
  TrackerRig r;
  r.add(true, "ex", "k");
  r.add(true, "ex", "k");
  r.t.returned("ex", "k", "");
  r.t.returned("ex", "k", "");
  EXPECT_TRUE(r.settle(2, true));
  EXPECT_EQ(r.outcomes(), (std::vector<int>{kRet, kRet}));
}

TEST(ClientConfirmTracker, ReturnWithUnknownMessageIdFallsBackToTheKey) {
  TrackerRig r;
  r.add(true, "ex", "k", "m-1");
  r.t.returned("ex", "k", "m-9");
  EXPECT_TRUE(r.settle(1, false));
  EXPECT_EQ(r.outcomes(), (std::vector<int>{kRet}));
}

TEST(ClientConfirmTracker, ReturnedThenNackedIsNacked) {
  TrackerRig r;
  r.add(true, "ex", "k");
  r.t.returned("ex", "k", "");
  EXPECT_TRUE(r.settle(1, false, true));
  EXPECT_EQ(r.outcomes(), (std::vector<int>{kNack}));
}

TEST(ClientConfirmTracker, ReturnAfterTheAckMarksNothing) {
  TrackerRig r;
  r.add(true, "ex", "k");
  EXPECT_TRUE(r.settle(1, false));
  r.t.returned("ex", "k", "");  // no pending mandatory publish: ignored
  r.add(true, "ex", "k");
  EXPECT_TRUE(r.settle(2, false));
  EXPECT_EQ(r.outcomes(), (std::vector<int>{kAck, kAck}));
}

TEST(ClientConfirmTracker, FailAllCompletesEveryPendingOnceAsUnknown) {
  TrackerRig r;
  for (int i = 0; i < 5; ++i) r.add(i % 2 == 0, "ex", "k");
  EXPECT_TRUE(r.settle(2, false));
  EXPECT_TRUE(r.settle(4, false, true));
  r.t.returned("ex", "k", "");
  r.t.fail_all(r.out);
  EXPECT_EQ(r.out.size(), 3u);
  r.flush();
  EXPECT_EQ(r.outcomes(), (std::vector<int>{kUnk, kAck, kUnk, kNack, kUnk}));
  EXPECT_EQ(r.t.pending(), 0u);
  // Nothing is left to complete a second time.
  r.t.fail_all(r.out);
  EXPECT_TRUE(r.out.empty());
  EXPECT_TRUE(r.settle(3, true));  // a late multiple ack finds nothing left to complete
  EXPECT_TRUE(r.settle(5, false));
  EXPECT_EQ(r.outcomes(), (std::vector<int>{kUnk, kAck, kUnk, kNack, kUnk}));
}

TEST(ClientConfirmTracker, RestartBeginsAgainAtOneAndOnlyNewPublishesComplete) {
  TrackerRig r;
  r.add();
  r.add();
  r.t.fail_all(r.out);
  r.flush();
  r.t.restart();
  EXPECT_EQ(r.t.next(), 1u);
  EXPECT_EQ(r.t.pending(), 0u);
  EXPECT_EQ(r.add(), 1u);
  EXPECT_TRUE(r.settle(1, false));
  EXPECT_EQ(r.outcomes(), (std::vector<int>{kUnk, kUnk, kAck}));
  EXPECT_FALSE(r.settle(2, false));
}

TEST(ClientConfirmTracker, LongRunSlidesTheWindow) {
  TrackerRig r;
  for (uint64_t i = 1; i <= 1000; ++i) {
    EXPECT_EQ(r.add(true, "ex", "k", std::to_string(i)), i);
    if (i % 3 == 0) r.t.returned("ex", "k", std::to_string(i));
    if (i % 10 == 0) {
      EXPECT_TRUE(r.settle(i, true));
    }
  }
  auto got = r.outcomes();
  for (size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i], (i + 1) % 3 == 0 ? kRet : kAck) << i;
  EXPECT_EQ(r.t.pending(), 0u);
}

}  // namespace
}  // namespace warren::client
