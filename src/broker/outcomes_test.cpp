// Publisher outcomes that wait for a store: VHost::publish opening them,
// PendingOutcomes completing them in any order, and publishers hearing
// them (or not, once gone).
#include "broker/outcomes.hpp"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "broker/test_util.hpp"
#include "broker/testing/held_store.hpp"

namespace warren::broker::test {
namespace {

struct RecordingPublisher final : Publisher {
  std::vector<std::pair<uint64_t, bool>> heard;
  int calls = 0;
  std::function<void()> on_call;
  void outcomes_ready(std::span<const Completion> done) override {
    ++calls;
    for (const Completion& c : done) heard.emplace_back(c.cookie, c.ok);
    if (on_call) on_call();
  }
};

using Heard = std::vector<std::pair<uint64_t, bool>>;

class OutcomesTest : public VHostTest {
 protected:
  void SetUp() override {
    ASSERT_FALSE(declare_queue("durable", {}, false, false, kConn, /*durable=*/true));
    ASSERT_FALSE(declare_queue("durable2", {}, false, false, kConn, /*durable=*/true));
    ASSERT_FALSE(declare_queue("transient"));
    ASSERT_FALSE(declare_exchange("fan", "fanout"));
    ASSERT_FALSE(bind("durable", "fan"));
    ASSERT_FALSE(bind("durable2", "fan"));
    id = v.outcomes().add_publisher(pub);
  }
  PublishResult send(std::string exchange, std::string key, uint64_t cookie, bool persistent = true) {
    Properties p;
    if (persistent) p.delivery_mode = 2;
    PublishResult r;
    Error e = v.publish(exchange, msg("m", key, p, exchange), now, r, PublishWaiter{id, cookie});
    EXPECT_FALSE(e) << e.text();
    return r;
  }

  RecordingPublisher pub;
  PublisherId id = 0;
};

TEST_F(OutcomesTest, WithoutAStoreNothingWaits) {
  EXPECT_FALSE(send("", "durable", 1).pending);
  EXPECT_EQ(v.outcomes().pending(), 0u);
}

TEST_F(OutcomesTest, OnlyWhatTheStoreHoldsWaits) {
  testing::HeldStore store(v);
  EXPECT_FALSE(send("", "transient", 1).pending);
  EXPECT_FALSE(send("", "durable", 2, /*persistent=*/false).pending);
  PublishResult r = send("", "durable", 3);
  EXPECT_TRUE(r.pending);
  EXPECT_FALSE(r.rejected);
  EXPECT_EQ(r.queues, 1u);
  EXPECT_EQ(store.size(), 1u);
  EXPECT_EQ(take("durable"), (Texts{"m", "m"}));  // waiting for the store does not hold the message back
  EXPECT_TRUE(pub.heard.empty());
  store.complete(0);
  EXPECT_EQ(pub.heard, (Heard{{3, true}}));
  EXPECT_EQ(v.outcomes().pending(), 0u);
}

TEST_F(OutcomesTest, AFanOutIsDoneWhenEveryQueueIs) {
  testing::HeldStore store(v);
  EXPECT_TRUE(send("fan", "", 7).pending);
  ASSERT_EQ(store.size(), 2u);
  store.complete(1);
  EXPECT_TRUE(pub.heard.empty());
  store.complete(0);
  EXPECT_EQ(pub.heard, (Heard{{7, true}}));
}

TEST_F(OutcomesTest, OneFailedPartFailsThePublish) {
  testing::HeldStore store(v);
  send("fan", "", 7);
  store.complete(0, /*ok=*/false);
  store.complete(0, /*ok=*/true);
  EXPECT_EQ(pub.heard, (Heard{{7, false}}));
}

TEST_F(OutcomesTest, OutcomesArriveInTheOrderTheyComplete) {
  testing::HeldStore store(v);
  for (uint64_t cookie = 1; cookie <= 4; ++cookie) send("", "durable", cookie);
  store.complete(2);  // cookie 3
  store.complete(0);  // cookie 1
  EXPECT_EQ(pub.heard, (Heard{{3, true}, {1, true}}));
  store.complete_newest_first();
  EXPECT_EQ(pub.heard, (Heard{{3, true}, {1, true}, {4, true}, {2, true}}));
}

TEST_F(OutcomesTest, CompletionsBetweenDeliveriesComeInOneCall) {
  testing::HeldStore store(v);
  for (uint64_t cookie = 1; cookie <= 3; ++cookie) send("", "durable", cookie);
  for (const auto& w : store.held()) v.outcomes().complete(w.ticket, true);
  EXPECT_TRUE(v.outcomes().ready());
  v.outcomes().deliver();
  EXPECT_EQ(pub.calls, 1);
  EXPECT_EQ(pub.heard, (Heard{{1, true}, {2, true}, {3, true}}));
}

TEST_F(OutcomesTest, ARefusalAtRoutingIsKnownAtOnce) {
  ASSERT_FALSE(declare_queue("full", {{"x-max-length", Value(int64_t(0))}, {"x-overflow", Value("reject-publish")}},
                             false, false, kConn, true));
  ASSERT_FALSE(bind("full", "fan"));
  testing::HeldStore store(v);
  PublishResult r = send("fan", "", 9);
  EXPECT_TRUE(r.rejected);
  EXPECT_FALSE(r.pending);
  EXPECT_EQ(v.outcomes().pending(), 0u);
  store.complete_all();  // the other queues' writes still finish: into nothing
  EXPECT_TRUE(pub.heard.empty());
}

TEST_F(OutcomesTest, NobodyWaitingStillWrites) {
  testing::HeldStore store(v);
  PublishResult r;
  Properties p;
  p.delivery_mode = 2;
  ASSERT_FALSE(v.publish("", msg("m", "durable", p), now, r));
  EXPECT_FALSE(r.pending);
  ASSERT_EQ(store.size(), 1u);
  EXPECT_EQ(store.held()[0].ticket, 0u);
  EXPECT_EQ(v.outcomes().pending(), 0u);
}

TEST_F(OutcomesTest, APublisherGoneHearsNothing) {
  testing::HeldStore store(v);
  send("", "durable", 1);
  send("", "durable", 2);
  store.complete(0);
  v.outcomes().complete(store.held()[0].ticket, true);  // completed, not delivered yet
  v.outcomes().remove_publisher(id);
  EXPECT_EQ(v.outcomes().pending(), 0u);
  EXPECT_FALSE(v.outcomes().ready());
  v.outcomes().deliver();
  EXPECT_EQ(pub.heard, (Heard{{1, true}}));
}

TEST_F(OutcomesTest, APublisherMayLeaveInsideItsCall) {
  RecordingPublisher other;
  PublisherId other_id = v.outcomes().add_publisher(other);
  ASSERT_GT(other_id, id);  // delivered after pub
  testing::HeldStore store(v);
  send("", "durable", 1);
  PublishResult r;
  Properties p;
  p.delivery_mode = 2;
  ASSERT_FALSE(v.publish("", msg("m", "durable", p), now, r, PublishWaiter{other_id, 5}));
  pub.on_call = [&] { v.outcomes().remove_publisher(other_id); };
  for (const auto& w : store.held()) v.outcomes().complete(w.ticket, true);
  v.outcomes().deliver();
  EXPECT_EQ(pub.heard, (Heard{{1, true}}));
  EXPECT_TRUE(other.heard.empty());
  EXPECT_EQ(v.outcomes().publishers(), 1u);
}

}  // namespace
}  // namespace warren::broker::test
