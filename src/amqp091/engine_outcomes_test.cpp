// Publisher confirms and transactions when outcomes wait for a store: the
// test-only HeldStore holds every persistent message written to a durable
// queue until the test completes it, in the order the test picks.
#include <gtest/gtest.h>

#include "amqp091/engine_test_util.hpp"
#include "broker/testing/held_store.hpp"

namespace warren::amqp091::test {
namespace {

class OutcomesTest : public EngineTest {
 protected:
  void SetUp() override {
    p = open_peer(1);
    QueueDeclare d;
    d.queue = "durable";
    d.durable = true;
    p->send(1, d);
    ASSERT_TRUE(p->take_one().is<QueueDeclareOk>());
    p->declare_queue(1, "transient");
  }
  void select(uint16_t ch, bool tx) {
    if (tx) {
      p->send(ch, TxSelect{});
      ASSERT_TRUE(p->take_one().is<TxSelectOk>());
    } else {
      p->send(ch, ConfirmSelect{});
      ASSERT_TRUE(p->take_one().is<ConfirmSelectOk>());
    }
  }
  static std::string persistent(std::string_view queue, std::string_view body = "m", uint16_t ch = 1) {
    BasicProperties props;
    props.delivery_mode = 2;
    return Peer::publish_frames(ch, "", queue, body, property_bytes(props));
  }
  // The acks and nacks in `frames`: (tag, multiple, ack).
  static std::vector<std::tuple<uint64_t, bool, bool>> confirms(const std::vector<OutFrame>& frames) {
    std::vector<std::tuple<uint64_t, bool, bool>> out;
    for (const OutFrame& f : frames) {
      if (auto a = f.as<BasicAck>()) out.emplace_back(a->delivery_tag, a->multiple, true);
      else if (auto n = f.as<BasicNack>()) out.emplace_back(n->delivery_tag, n->multiple, false);
      else ADD_FAILURE() << "not a confirm: " << f.name();
    }
    return out;
  }
  using Confirms = std::vector<std::tuple<uint64_t, bool, bool>>;
  broker::PendingOutcomes& outcomes() { return broker.vhost("/")->outcomes(); }

  broker::testing::HeldStore store{*broker.vhost("/")};
  std::unique_ptr<Peer> p;
};

TEST_F(OutcomesTest, ConfirmsWaitForTheStoreAndGoOutAsTheyComplete) {
  select(1, false);
  for (int i = 0; i < 5; ++i) p->feed(persistent("durable"));
  EXPECT_TRUE(p->take().empty());
  EXPECT_EQ(queue("durable")->ready_count(), 5u);  // routed: only the confirm waits
  store.complete(2);  // tag 3: above the lowest unknown, alone
  EXPECT_EQ(confirms(p->take()), (Confirms{{3, false, true}}));
  store.complete(0);  // tag 1
  EXPECT_EQ(confirms(p->take()), (Confirms{{1, false, true}}));
  store.complete(0);  // tag 2: 1-3 known, but 1 and 3 were sent: 2 alone
  EXPECT_EQ(confirms(p->take()), (Confirms{{2, false, true}}));
  store.complete(1);  // tag 5
  store.complete(0);  // tag 4
  EXPECT_EQ(confirms(p->take()), (Confirms{{5, false, true}, {4, false, true}}));
  EXPECT_EQ(outcomes().pending(), 0u);
}

TEST_F(OutcomesTest, ARangeKnownTogetherIsOneMultipleAck) {
  select(1, false);
  for (int i = 0; i < 4; ++i) p->feed(persistent("durable"));
  for (size_t i = 0; i < 3; ++i) outcomes().complete(store.held()[i].ticket, true);
  outcomes().deliver();
  EXPECT_EQ(confirms(p->take()), (Confirms{{3, true, true}}));
  store.complete(3);
  EXPECT_EQ(confirms(p->take()), (Confirms{{4, false, true}}));
}

TEST_F(OutcomesTest, ATransientPublishIsNotHeldBehindAWaitingOne) {
  select(1, false);
  p->feed(Peer::publish_frames(1, "", "transient", "t1") + persistent("durable") +
          Peer::publish_frames(1, "", "transient", "t3"));
  EXPECT_EQ(confirms(p->take()), (Confirms{{1, false, true}, {3, false, true}}));
  store.complete(0);
  EXPECT_EQ(confirms(p->take()), (Confirms{{2, false, true}}));
}

TEST_F(OutcomesTest, AFailedWriteIsANack) {
  select(1, false);
  p->feed(persistent("durable") + persistent("durable"));
  store.complete(0, /*ok=*/false);
  store.complete(0);
  EXPECT_EQ(confirms(p->take()), (Confirms{{1, false, false}, {2, false, true}}));
}

TEST_F(OutcomesTest, CommitOkWaitsForEveryMessageAndLaterRepliesWaitBehindIt) {
  select(1, true);
  p->feed(persistent("durable", "a") + Peer::publish_frames(1, "", "transient", "b") + persistent("durable", "c") +
          Peer::frame(1, TxCommit{}) + Peer::frame(1, BasicQos{}));
  EXPECT_TRUE(p->take().empty());
  EXPECT_EQ(queue("durable")->ready_count(), 2u);
  // Another channel is not held.
  p->open_channel(2);
  store.complete(1);
  EXPECT_TRUE(p->take().empty());
  store.complete(0);
  auto f = p->take();
  ASSERT_EQ(f.size(), 2u) << names(f);
  EXPECT_TRUE(f[0].is<TxCommitOk>());
  EXPECT_TRUE(f[1].is<BasicQosOk>());
  // Nothing waits now: the next commit is answered at once.
  p->feed(Peer::publish_frames(1, "", "transient", "d") + Peer::frame(1, TxCommit{}));
  EXPECT_TRUE(p->take_one().is<TxCommitOk>());
  EXPECT_EQ(outcomes().pending(), 0u);
}

TEST_F(OutcomesTest, CommitsAreAnsweredInOrder) {
  select(1, true);
  p->feed(persistent("durable", "a") + Peer::frame(1, TxCommit{}) + Peer::frame(1, TxRollback{}) +
          persistent("durable", "b") + Peer::frame(1, TxCommit{}) + Peer::frame(1, TxCommit{}));
  EXPECT_TRUE(p->take().empty());
  store.complete(1);  // the second commit's message
  EXPECT_TRUE(p->take().empty());
  store.complete(0);
  auto f = p->take();
  ASSERT_EQ(f.size(), 4u) << names(f);
  EXPECT_TRUE(f[0].is<TxCommitOk>());
  EXPECT_TRUE(f[1].is<TxRollbackOk>());
  EXPECT_TRUE(f[2].is<TxCommitOk>());
  EXPECT_TRUE(f[3].is<TxCommitOk>());
}

TEST_F(OutcomesTest, ACommitWhoseWriteFailedIsAnInternalError) {
  select(1, true);
  p->feed(persistent("durable") + Peer::frame(1, TxCommit{}));
  store.complete(0, /*ok=*/false);
  CloseInfo c = expect_connection_close(p->take_one(), ReplyCode::InternalError);
  EXPECT_EQ(c.class_id, 90);
  EXPECT_EQ(c.method_id, 20);
}

TEST_F(OutcomesTest, AChannelClosedWhileConfirmsWaitHearsNoMore) {
  select(1, false);
  p->feed(persistent("durable") + persistent("durable") + Peer::frame(1, ChannelClose{}));
  EXPECT_TRUE(p->take_one().is<ChannelCloseOk>());
  EXPECT_EQ(outcomes().pending(), 0u);
  store.complete_all();
  EXPECT_TRUE(p->take().empty());
  // The number is reused by a new channel, which does not hear the old outcomes.
  p->open_channel(1);
  select(1, false);
  p->feed(persistent("durable"));
  store.complete(0);
  EXPECT_EQ(confirms(p->take()), (Confirms{{1, false, true}}));
}

TEST_F(OutcomesTest, AChannelClosedWhileACommitWaitsIsAnsweredAtOnce) {
  select(1, true);
  p->feed(persistent("durable") + Peer::frame(1, TxCommit{}) + Peer::frame(1, ChannelClose{}));
  EXPECT_TRUE(p->take_one().is<ChannelCloseOk>());
  store.complete_all();
  EXPECT_TRUE(p->take().empty());
  EXPECT_EQ(outcomes().publishers(), 0u);
}

TEST_F(OutcomesTest, AConnectionGoneWhileOutcomesWaitHearsNothing) {
  select(1, false);
  p->open_channel(2);
  select(2, true);
  p->feed(persistent("durable") + persistent("durable", "m", 2) + Peer::frame(2, TxCommit{}));
  EXPECT_EQ(outcomes().pending(), 2u);
  p->conn().transport_closed(now);
  p->destroy();
  EXPECT_EQ(outcomes().pending(), 0u);
  EXPECT_EQ(outcomes().publishers(), 0u);
  store.complete_all();  // nothing to tell, nobody to crash
  EXPECT_EQ(queue("durable")->ready_count(), 2u);
}

}  // namespace
}  // namespace warren::amqp091::test
