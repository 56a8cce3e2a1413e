// AMQP 1.0 publishing when outcomes wait for a store: an unsettled
// transfer is settled when its outcome is known, in whatever order the
// store completes (the test-only HeldStore holds every durable message
// written to a durable queue until the test completes it).
#include "amqp10/engine_test_util.hpp"
#include "broker/testing/held_store.hpp"

namespace warren::amqp10::test {
namespace {

class LinkOutcomesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    broker::QueueDeclare d;
    d.name = "durable";
    d.durable = true;
    broker::QueueDeclareOk ok;
    ASSERT_FALSE(vh().declare_queue(d, start_time(), ok));
    p->open();
    p->begin();
    p->attach_sender(1, "/queues/durable");
    p->take();
  }
  broker::VHost& vh() { return *broker.vhost("/"); }
  static std::string durable_message(std::string_view body) {
    Header h;
    h.durable = true;
    return message_bytes(body, std::nullopt, h);
  }
  // (first, last, accepted) of each disposition sent since the last call.
  std::vector<std::tuple<uint32_t, uint32_t, bool>> dispositions() {
    std::vector<std::tuple<uint32_t, uint32_t, bool>> out;
    for (const Disposition& d : p->all<Disposition>(p->take())) {
      EXPECT_TRUE(d.settled);
      const bool accepted = d.state && d.state->is_described() && d.state->descriptor_code() == Accepted::kCode;
      out.emplace_back(d.first, d.last.value_or(d.first), accepted);
    }
    return out;
  }
  using Dispositions = std::vector<std::tuple<uint32_t, uint32_t, bool>>;

  broker::SeededEnv env;
  broker::Broker broker{env, start_time()};
  ServerOptions opts;
  broker::testing::HeldStore store{vh()};
  std::unique_ptr<Peer> p = std::make_unique<Peer>(broker, opts);
};

TEST_F(LinkOutcomesTest, EachTransferIsSettledWhenItsOutcomeIsKnown) {
  for (uint32_t id = 0; id < 4; ++id) p->transfer(1, id, durable_message("m"));
  p->transfer(1, 4, message_bytes("not durable"));  // known at once
  EXPECT_EQ(dispositions(), (Dispositions{{4, 4, true}}));
  EXPECT_EQ(vh().find_queue("durable")->ready_count(), 5u);
  store.complete(3);
  store.complete(0);
  EXPECT_EQ(dispositions(), (Dispositions{{3, 3, true}, {0, 0, true}}));
  // Known together: one disposition for the range.
  for (const auto& w : store.held()) vh().outcomes().complete(w.ticket, true);
  vh().outcomes().deliver();
  EXPECT_EQ(dispositions(), (Dispositions{{1, 2, true}}));
  EXPECT_EQ(vh().outcomes().pending(), 0u);
}

TEST_F(LinkOutcomesTest, AFailedWriteIsRejectedAsAnInternalError) {
  p->transfer(1, 0, durable_message("m"));
  store.complete(0, /*ok=*/false);
  auto ds = p->all<Disposition>(p->take());
  ASSERT_EQ(ds.size(), 1u);
  auto r = Rejected::from_value(*ds[0].state);
  ASSERT_TRUE(r && r->error);
  EXPECT_EQ(r->error->condition, amqp_error::kInternalError);
}

TEST_F(LinkOutcomesTest, APresettledTransferWaitsForNothing) {
  p->transfer(1, 0, durable_message("m"), /*settled=*/true);
  EXPECT_EQ(store.size(), 1u);  // still written
  EXPECT_EQ(vh().outcomes().pending(), 0u);
  store.complete_all();
  EXPECT_TRUE(dispositions().empty());
}

TEST_F(LinkOutcomesTest, ADetachedLinkSettlesNothingMore) {
  p->transfer(1, 0, durable_message("m"));
  Detach d;
  d.handle = 1;
  d.closed = true;
  p->send(0, d);
  p->take();
  EXPECT_EQ(vh().outcomes().publishers(), 0u);
  store.complete_all();
  EXPECT_TRUE(dispositions().empty());
}

TEST_F(LinkOutcomesTest, AConnectionGoneWhileOutcomesWaitHearsNothing) {
  p->transfer(1, 0, durable_message("m"));
  p->transfer(1, 1, durable_message("m"));
  p->conn->transport_closed(p->now);
  p.reset();
  EXPECT_EQ(vh().outcomes().pending(), 0u);
  store.complete_all();
  EXPECT_EQ(vh().find_queue("durable")->ready_count(), 2u);
}

}  // namespace
}  // namespace warren::amqp10::test
