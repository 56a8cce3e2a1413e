#include "amqp091/confirms.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <tuple>
#include <vector>

namespace warren::amqp091 {
namespace {

struct ConfirmFrame {
  uint64_t tag;
  bool multiple;
  bool ack;
  bool operator==(const ConfirmFrame&) const = default;
};

std::vector<ConfirmFrame> flush(ConfirmTracker& t) {
  std::vector<ConfirmFrame> out;
  t.flush([&](uint64_t tag, bool multiple, bool ack) { out.push_back({tag, multiple, ack}); });
  return out;
}

TEST(ConfirmTracker, InOrderOutcomesAreOneMultipleAckPerFlush) {
  ConfirmTracker t;
  for (int i = 0; i < 5; ++i) t.complete(t.next(), true);
  EXPECT_EQ(flush(t), (std::vector<ConfirmFrame>{{5, true, true}}));
  t.complete(t.next(), true);
  EXPECT_EQ(flush(t), (std::vector<ConfirmFrame>{{6, false, true}}));
  EXPECT_TRUE(flush(t).empty());
  EXPECT_EQ(t.outstanding(), 0u);
}

TEST(ConfirmTracker, ANackCutsTheRange) {
  ConfirmTracker t;
  t.complete(t.next(), true);
  t.complete(t.next(), true);
  t.complete(t.next(), false);
  t.complete(t.next(), true);
  EXPECT_EQ(flush(t), (std::vector<ConfirmFrame>{{2, true, true}, {3, false, false}, {4, false, true}}));
}

TEST(ConfirmTracker, OutOfOrderOutcomesGoOneByOneThenTheRangeCloses) {
  ConfirmTracker t;
  for (int i = 0; i < 5; ++i) t.next();
  t.complete(3, true);
  t.complete(5, false);
  EXPECT_EQ(flush(t), (std::vector<ConfirmFrame>{{3, false, true}, {5, false, false}}));
  EXPECT_EQ(t.outstanding(), 3u);
  t.complete(1, true);
  EXPECT_EQ(flush(t), (std::vector<ConfirmFrame>{{1, false, true}}));
  t.complete(2, true);
  t.complete(4, true);  // 1..5 all known: 2 and 4 are what is left to send
  EXPECT_EQ(flush(t), (std::vector<ConfirmFrame>{{4, true, true}}));
  EXPECT_EQ(t.outstanding(), 0u);
  EXPECT_FALSE(t.due());
}

// A client's view, as pika's or amqplib's: every tag it published is
// outstanding until a frame settles it; a multiple frame settles every
// outstanding tag up to its own.
TEST(ConfirmTracker, RandomOrdersSettleEveryTagOnceWithItsOutcomeAndNoneEarly) {
  std::mt19937_64 rng(20261205);
  for (int round = 0; round < 2000; ++round) {
    ConfirmTracker t;
    const int n = 1 + int(rng() % 40);
    std::map<uint64_t, bool> truth;  // tag -> ack
    for (int i = 0; i < n; ++i) truth[t.next()] = rng() % 5 != 0;
    std::vector<uint64_t> order;
    for (auto& [tag, _] : truth) order.push_back(tag);
    // Mostly in order, with some tags swapped far: stores complete like that.
    for (int s = 0; s < n / 3; ++s) std::swap(order[rng() % n], order[rng() % n]);
    std::map<uint64_t, bool> known, settled;
    auto apply = [&](const std::vector<ConfirmFrame>& frames) {
      for (const ConfirmFrame& f : frames) {
        ASSERT_TRUE(known.contains(f.tag)) << "round " << round << ": tag " << f.tag << " settled before its outcome";
        if (f.multiple) {
          ASSERT_TRUE(f.ack) << "multiple nacks are never sent";
          for (auto& [tag, ack] : truth) {
            if (tag > f.tag || settled.contains(tag)) continue;
            ASSERT_TRUE(known.contains(tag)) << "round " << round << ": multiple " << f.tag << " covers unknown " << tag;
            ASSERT_TRUE(truth[tag]) << "round " << round << ": multiple ack " << f.tag << " covers nack " << tag;
            settled[tag] = true;
          }
        } else {
          ASSERT_FALSE(settled.contains(f.tag)) << "round " << round << ": tag " << f.tag << " settled twice";
          ASSERT_EQ(f.ack, truth[f.tag]) << "round " << round << ": tag " << f.tag;
          settled[f.tag] = f.ack;
        }
      }
    };
    for (uint64_t tag : order) {
      t.complete(tag, truth[tag]);
      known[tag] = truth[tag];
      if (rng() % 3 == 0) apply(flush(t));
      if (HasFatalFailure()) return;
    }
    apply(flush(t));
    if (HasFatalFailure()) return;
    EXPECT_EQ(settled.size(), truth.size()) << "round " << round;
    EXPECT_EQ(t.outstanding(), 0u);
    EXPECT_FALSE(t.due());
  }
}

}  // namespace
}  // namespace warren::amqp091
