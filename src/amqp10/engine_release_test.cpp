// The lock-release property over AMQP 1.0: whatever ends a link, session or
// connection, its unsettled deliveries go back to their queue, in order.
#include "amqp10/engine_test_util.hpp"

namespace warren::amqp10::test {
namespace {

class ReleaseTest : public ::testing::Test {
 protected:
  broker::SeededEnv env;
  broker::Broker broker{env, start_time()};
  ServerOptions opts;
  broker::QueuePtr q;
  std::unique_ptr<Peer> p;

  // Three of four messages held unsettled by a receiver on handle 1.
  void SetUp() override {
    broker::QueueDeclare d;
    d.name = "q";
    broker::QueueDeclareOk ok;
    ASSERT_FALSE(broker.vhost("/")->declare_queue(d, start_time(), ok));
    q = broker.vhost("/")->find_queue("q");
    for (int i = 0; i < 4; ++i) {
      broker::PublishResult r;
      auto m = broker::Message::built("", "q", {}, std::make_shared<const std::string>("m" + std::to_string(i)));
      ASSERT_FALSE(broker.vhost("/")->publish("", m, start_time(), r));
    }
    p = std::make_unique<Peer>(broker, opts);
    p->open(65536, 0);
    p->begin();
    p->attach_receiver(1, "/queues/q");
    p->flow(1, 0, 3);
    ASSERT_EQ(p->all<Transfer>(p->take()).size(), 3u);
    ASSERT_EQ(q->unacked_count(), 3u);
  }
  void expect_released() {
    EXPECT_EQ(q->unacked_count(), 0u);
    EXPECT_EQ(q->ready_count(), 4u);
    EXPECT_EQ(q->consumer_count(), 0u);
  }
};

TEST_F(ReleaseTest, OnLinkDetach) {
  Detach d;
  d.handle = 1;
  d.closed = true;
  p->send(0, d);
  auto got = p->take();
  ASSERT_EQ(p->all<Detach>(got).size(), 1u);
  expect_released();
}

TEST_F(ReleaseTest, OnLinkDetachNotClosed) {
  Detach d;
  d.handle = 1;
  p->send(0, d);
  expect_released();
}

TEST_F(ReleaseTest, OnlyTheDetachedLinksDeliveries) {
  p->attach_receiver(2, "/queues/q");
  p->flow(2, 0, 1);
  ASSERT_EQ(p->all<Transfer>(p->take()).size(), 1u);
  Detach d;
  d.handle = 1;
  p->send(0, d);
  EXPECT_EQ(q->unacked_count(), 1u) << "link 2's delivery stays";
}

TEST_F(ReleaseTest, OnPeerSessionEnd) {
  p->send(0, End{});
  expect_released();
}

TEST_F(ReleaseTest, OnSessionError) {
  p->transfer(42, 0, message_bytes("x"));  // unattached handle
  expect_released();
}

TEST_F(ReleaseTest, OnConnectionClose) {
  p->send(0, Close{});
  expect_released();
}

TEST_F(ReleaseTest, OnConnectionError) {
  p->feed(std::string_view("\0\0\0\x09\x02\0\0\0\x7f", 9));
  EXPECT_TRUE(p->t.closed);
  expect_released();
}

TEST_F(ReleaseTest, OnIdleTimeOut) {
  p->advance(2 * opts.idle_time_out);
  EXPECT_TRUE(p->t.closed);
  expect_released();
}

TEST_F(ReleaseTest, OnTransportLoss) {
  p->conn->transport_closed(p->now);
  expect_released();
  EXPECT_EQ(p->t.out.size(), p->t.out.size());
}

TEST_F(ReleaseTest, OnDestruction) {
  p->conn.reset();
  expect_released();
}

TEST_F(ReleaseTest, InOrderForTheNextReceiver) {
  p->conn->transport_closed(p->now);
  Peer other(broker, opts, 2);
  other.open();
  other.begin();
  other.attach_receiver(1, "/queues/q");
  other.flow(1, 0, 4);
  std::vector<std::string> bodies;
  for (auto& g : other.take())
    if (g.as<Transfer>()) bodies.push_back(data_of(g.payload));
  EXPECT_EQ(bodies, (std::vector<std::string>{"m0", "m1", "m2", "m3"}));
}

}  // namespace
}  // namespace warren::amqp10::test
