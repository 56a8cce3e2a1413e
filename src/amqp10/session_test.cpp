// AMQP 1.0 sessions: the windows of 2.5.6, wrap-around, handle errors.
#include "amqp10/engine_test_util.hpp"
#include "amqp10/session.hpp"

namespace warren::amqp10::test {
namespace {

class SessionTest : public ::testing::Test {
 protected:
  broker::SeededEnv env;
  broker::Broker broker{env, start_time()};
  ServerOptions opts;
  broker::VHost& vh() { return *broker.vhost("/"); }
  void declare(const std::string& q) {
    broker::QueueDeclare d;
    d.name = q;
    broker::QueueDeclareOk ok;
    ASSERT_FALSE(vh().declare_queue(d, start_time(), ok));
  }
  void put(const std::string& q, std::string body) {
    broker::PublishResult r;
    auto m = broker::Message::built("", q, {}, std::make_shared<const std::string>(std::move(body)));
    ASSERT_FALSE(vh().publish("", m, start_time(), r));
  }
  std::optional<End> end_of(const std::vector<Got>& got) {
    for (auto& g : got)
      if (auto* e = g.as<End>()) return *e;
    return std::nullopt;
  }
};

TEST(Serial, ComparesAcrossTheWrap) {
  EXPECT_TRUE(serial_lt(1, 2));
  EXPECT_FALSE(serial_lt(2, 1));
  EXPECT_FALSE(serial_lt(5, 5));
  EXPECT_TRUE(serial_lt(0xFFFFFFFFu, 0));
  EXPECT_TRUE(serial_lt(0xFFFFFFF0u, 5));
  EXPECT_FALSE(serial_lt(5, 0xFFFFFFF0u));
}

TEST_F(SessionTest, OutgoingTransfersWaitForTheRemoteIncomingWindow) {
  declare("q");
  for (int i = 0; i < 5; ++i) put("q", "m" + std::to_string(i));
  Peer p(broker, opts);
  p.open();
  p.begin(0, /*incoming_window=*/2);
  p.attach_receiver(1, "/queues/q");
  p.take();
  p.flow(1, 0, 100, false, false, /*incoming_window=*/2);
  auto got = p.take();
  EXPECT_EQ(p.all<Transfer>(got).size(), 2u) << names(got);
  // Our next-outgoing-id is 2 now: a window of 3 from next-incoming-id 2 lets 3 more go.
  p.flow(1, 0, 100, false, false, 3, 2);
  got = p.take();
  EXPECT_EQ(p.all<Transfer>(got).size(), 3u) << names(got);
}

TEST_F(SessionTest, FirstFlowWithoutNextIncomingIdUsesOurInitialId) {
  opts.initial_outgoing_id = 0xFFFFFFFEu;  // and wraps while sending
  declare("q");
  for (int i = 0; i < 4; ++i) put("q", "m");
  Peer p(broker, opts);
  p.open();
  p.begin(0, 0);  // no window yet
  p.attach_receiver(1, "/queues/q");
  p.take();
  p.flow(1, 0, 100, false, false, 3, std::nullopt);
  auto got = p.take();
  EXPECT_EQ(p.all<Transfer>(got).size(), 3u) << names(got);
  // next-outgoing-id wrapped to 1; the peer saw 0xFFFFFFFE..0: window 1 more from 1.
  p.flow(1, 0, 100, false, true, 1, 1);
  got = p.take();
  EXPECT_EQ(p.all<Transfer>(got).size(), 1u) << names(got);
  auto flows = p.all<Flow>(got);
  ASSERT_FALSE(flows.empty());
  EXPECT_EQ(flows.back().next_outgoing_id, 2u);
}

TEST_F(SessionTest, IncomingWindowIsReplenishedWhenHalfUsed) {
  opts.incoming_window = 4;
  opts.link_credit = 100;
  declare("q");
  Peer p(broker, opts);
  p.open();
  p.begin(0, 100, 0xFFFFFFFEu);  // their ids wrap too
  p.next_outgoing_id_ = 0xFFFFFFFEu;
  p.attach_sender(1, "/queues/q");
  p.take();
  p.transfer(1, 0, message_bytes("a"), true);
  EXPECT_TRUE(p.take().empty());
  p.transfer(1, 1, message_bytes("b"), true);
  auto got = p.take();
  auto flows = p.all<Flow>(got);
  ASSERT_EQ(flows.size(), 1u) << names(got);
  EXPECT_EQ(flows[0].incoming_window, 4u);
  EXPECT_EQ(flows[0].next_incoming_id, 0u);  // 0xFFFFFFFE + 2
  EXPECT_FALSE(flows[0].handle);
}

TEST_F(SessionTest, WindowViolationEndsTheSession) {
  opts.incoming_window = 2;
  declare("q");
  Peer p(broker, opts);
  p.open();
  p.begin();
  p.attach_sender(1, "/queues/q");
  p.take();
  // Three transfer frames in one turn against a window of two.
  std::string frames;
  for (uint32_t i = 0; i < 3; ++i) {
    Transfer tr;
    tr.handle = 1;
    tr.delivery_id = i;
    tr.delivery_tag = "t";
    tr.settled = true;
    append_frame(frames, FrameType::Amqp, 0, tr, as_bytes(message_bytes("x")));
  }
  p.feed(frames);
  auto e = end_of(p.take());
  ASSERT_TRUE(e);
  ASSERT_TRUE(e->error);
  EXPECT_EQ(e->error->condition, session_error::kWindowViolation);
  EXPECT_EQ(vh().find_queue("q")->ready_count(), 2u);
}

TEST_F(SessionTest, UnattachedHandleEndsTheSession) {
  Peer p(broker, opts);
  p.open();
  p.begin();
  p.transfer(9, 0, message_bytes("a"));
  auto e = end_of(p.take());
  ASSERT_TRUE(e);
  ASSERT_TRUE(e->error);
  EXPECT_EQ(e->error->condition, session_error::kUnattachedHandle);
  // ignored until the peer's end; then the channel is free
  p.transfer(9, 1, message_bytes("b"));
  EXPECT_TRUE(p.take().empty());
  p.send(0, End{});
  EXPECT_TRUE(p.take().empty());
  p.begin();
  EXPECT_FALSE(p.t.closed);
}

TEST_F(SessionTest, ReusedHandleIsHandleInUse) {
  declare("q");
  Peer p(broker, opts);
  p.open();
  p.begin();
  p.attach_sender(1, "/queues/q");
  p.take();
  p.attach_receiver(1, "/queues/q");
  auto e = end_of(p.take());
  ASSERT_TRUE(e);
  EXPECT_EQ(e->error->condition, session_error::kHandleInUse);
}

}  // namespace
}  // namespace warren::amqp10::test
