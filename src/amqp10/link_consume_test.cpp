// AMQP 1.0 links, consuming: credit (2.6.7), the delivery's sections,
// drain, echo, every outcome, undeliverable-here, disposition ranges,
// settlement modes, deliveries split to the peer's max frame size, a full
// output, and deliveries from another connection.
#include "amqp10/link_test_fixture.hpp"

#include <string>
#include <vector>

#include "amqp10/convert.hpp"

namespace warren::amqp10::test {
namespace {

TEST_F(LinkTest, CreditOneDeliversExactlyOne) {
  declare("q");
  for (int i = 0; i < 3; ++i) put("q", "m" + std::to_string(i));
  auto p = consumer("/queues/q");
  p->flow(1, 0, 1);
  auto ts = p->all<Transfer>(p->take());
  ASSERT_EQ(ts.size(), 1u);
  EXPECT_EQ(ts[0].delivery_id, 0u);
  EXPECT_EQ(ts[0].message_format, 0u);
  EXPECT_EQ(ts[0].delivery_tag->size(), 4u);
  p->flow(1, 1, 1);  // delivery-count 1 + credit 1 - ours 1 = 1 more
  EXPECT_EQ(p->all<Transfer>(p->take()).size(), 1u);
  p->flow(1, 0, 2);  // a stale delivery-count: 0 + 2 - 2 = 0
  EXPECT_TRUE(p->all<Transfer>(p->take()).empty());
}

TEST_F(LinkTest, DeliveryPayloadHasHeaderAndMappedSections) {
  declare("q");
  broker::Properties props;
  props.content_type = "text/plain";
  props.correlation_id = "c1";
  props.message_id = "m1";
  props.delivery_mode = 2;
  props.headers = broker::Table{{"k", "v"}, {"n", int64_t(5)}};
  broker::PublishResult r;
  auto m = broker::Message::built("", "q", props, std::make_shared<const std::string>("hello"));
  ASSERT_FALSE(vh().publish("", m, start_time(), r));
  auto p = consumer("/queues/q");
  p->flow(1, 0, 10);
  auto got = p->take();
  ASSERT_EQ(p->all<Transfer>(got).size(), 1u);
  std::string payload;
  for (auto& g : got)
    if (g.as<Transfer>()) payload = g.payload;
  MessageSections s;
  std::string err;
  ASSERT_TRUE(split_message(as_bytes(payload), s, err)) << err;
  ASSERT_TRUE(s.header);
  EXPECT_EQ(s.header->durable, true);
  ASSERT_TRUE(s.properties);
  EXPECT_EQ(s.properties->content_type, "text/plain");
  EXPECT_EQ(id_text(*s.properties->correlation_id), "c1");
  EXPECT_EQ(s.properties->subject, "q");
  ASSERT_TRUE(s.application_properties);
  EXPECT_EQ(s.application_properties->as_map().size(), 2u);
  EXPECT_FALSE(s.message_annotations.empty());
  EXPECT_EQ(data_of(payload), "hello");
}

TEST_F(LinkTest, DrainUsesUpTheRestOfTheCredit) {
  auto q = declare("q");
  put("q", "a");
  put("q", "b");
  auto p = consumer("/queues/q");
  p->flow(1, 0, 5, /*drain=*/true);
  auto got = p->take();
  EXPECT_EQ(p->all<Transfer>(got).size(), 2u);
  auto flows = p->all<Flow>(got);
  ASSERT_EQ(flows.size(), 1u) << names(got);
  EXPECT_TRUE(flows[0].drain);
  EXPECT_EQ(flows[0].delivery_count, 5u);
  EXPECT_EQ(flows[0].link_credit, 0u);
  put("q", "c");
  EXPECT_TRUE(p->all<Transfer>(p->take()).empty()) << "no credit after the drain";
  EXPECT_EQ(q->ready_count(), 1u);
}

// rhea's drain example: 25 queued, drain with 10 credit at a time. Credit
// used up by deliveries is not a drained queue: no drain flow until the
// queue runs dry, else the receiver stops early.
TEST_F(LinkTest, DrainThatUsesAllCreditOnDeliveriesSendsNoFlow) {
  auto q = declare("q");
  for (int i = 0; i < 25; ++i) put("q", "m" + std::to_string(i));
  auto p = consumer("/queues/q");
  p->flow(1, 0, 10, /*drain=*/true);
  auto got = p->take();
  EXPECT_EQ(p->all<Transfer>(got).size(), 10u);
  EXPECT_TRUE(p->all<Flow>(got).empty()) << names(got);
  p->flow(1, 10, 10, /*drain=*/true);
  got = p->take();
  EXPECT_EQ(p->all<Transfer>(got).size(), 10u);
  EXPECT_TRUE(p->all<Flow>(got).empty()) << names(got);
  p->flow(1, 20, 10, /*drain=*/true);
  got = p->take();
  EXPECT_EQ(p->all<Transfer>(got).size(), 5u);
  auto flows = p->all<Flow>(got);
  ASSERT_EQ(flows.size(), 1u) << names(got);
  EXPECT_TRUE(flows[0].drain);
  EXPECT_EQ(flows[0].delivery_count, 30u);
  EXPECT_EQ(flows[0].link_credit, 0u);
  EXPECT_EQ(q->ready_count(), 0u);
}

TEST_F(LinkTest, EchoRepliesWithTheLinkStateAndAvailable) {
  declare("q");
  put("q", "a");
  put("q", "b");
  put("q", "c");
  auto p = consumer("/queues/q");
  p->flow(1, 0, 1, false, /*echo=*/true);
  auto got = p->take();
  auto flows = p->all<Flow>(got);
  ASSERT_EQ(flows.size(), 1u);
  EXPECT_EQ(flows[0].delivery_count, 1u);
  EXPECT_EQ(flows[0].link_credit, 0u);
  EXPECT_EQ(flows[0].available, 2u);
  EXPECT_EQ(flows[0].handle, 1u);
}

TEST_F(LinkTest, EveryOutcome) {
  auto q = declare("q");
  for (int i = 0; i < 4; ++i) put("q", "m" + std::to_string(i));
  auto p = consumer("/queues/q");
  p->flow(1, 0, 4);
  ASSERT_EQ(p->all<Transfer>(p->take()).size(), 4u);
  EXPECT_EQ(q->unacked_count(), 4u);
  p->disposition(0, std::nullopt, Accepted{}.to_value());
  EXPECT_EQ(q->unacked_count(), 3u);
  p->disposition(1, std::nullopt, Rejected{}.to_value());  // no DLX: dropped
  EXPECT_EQ(q->unacked_count(), 2u);
  EXPECT_EQ(q->ready_count(), 0u);
  Modified failed;
  failed.delivery_failed = true;
  p->disposition(2, std::nullopt, failed.to_value());  // back, counted
  EXPECT_EQ(q->ready_count(), 1u);
  p->disposition(3, std::nullopt, Released{}.to_value());
  EXPECT_EQ(q->ready_count(), 2u);
  EXPECT_EQ(q->unacked_count(), 0u);
  // The modified one comes back with delivery-count 1, not first-acquirer.
  p->flow(1, 4, 2);
  auto got = p->take();
  std::vector<Header> headers;
  for (auto& g : got)
    if (g.as<Transfer>()) {
      MessageSections s;
      std::string err;
      ASSERT_TRUE(split_message(as_bytes(g.payload), s, err));
      headers.push_back(s.header.value_or(Header{}));
    }
  ASSERT_EQ(headers.size(), 2u);
  EXPECT_EQ(headers[0].delivery_count, 1u);
  EXPECT_EQ(headers[0].first_acquirer, false);
  EXPECT_FALSE(headers[1].delivery_count);
}

TEST_F(LinkTest, UndeliverableHereGoesToAnotherLinkNotThisOne) {
  auto q = declare("q");
  put("q", "a");
  auto p = consumer("/queues/q");
  p->flow(1, 0, 1);
  p->take();
  Modified m;
  m.delivery_failed = true;
  m.undeliverable_here = true;
  p->disposition(0, std::nullopt, m.to_value());
  EXPECT_EQ(q->ready_count(), 1u) << "back in the queue";
  p->flow(1, 1, 5);
  EXPECT_TRUE(p->all<Transfer>(p->take()).empty()) << "not to this link";
  put("q", "b");
  EXPECT_EQ(p->all<Transfer>(p->take()).size(), 1u) << "other messages still flow";
  auto other = consumer("/queues/q", sender_settle_mode::kUnsettled, receiver_settle_mode::kFirst, 5);
  other->flow(1, 0, 5);
  std::vector<Got> got;
  for (int i = 0; i < 4 && other->all<Transfer>(got).empty(); ++i) {  // retried every 50 ms, round robin
    p->advance(50ms);
    got = other->take();
  }
  ASSERT_EQ(other->all<Transfer>(got).size(), 1u) << names(got);
  MessageSections s;
  std::string err;
  for (auto& g : got)
    if (g.as<Transfer>()) {
      ASSERT_TRUE(split_message(as_bytes(g.payload), s, err));
      EXPECT_EQ(s.header->delivery_count, 1u) << "delivery-failed counted";
    }
  p->send(0, Close{});
  EXPECT_EQ(q->unacked_count(), 2u) << "both with the other link now";
}

TEST_F(LinkTest, DispositionRangeSettlesOnlyWhatWasSent) {
  opts.initial_delivery_id = 0xFFFFFFFEu;  // ids wrap: FFFFFFFE, FFFFFFFF, 0, 1
  auto q = declare("q");
  for (int i = 0; i < 4; ++i) put("q", "m");
  auto p = consumer("/queues/q");
  p->flow(1, 0, 4);
  auto ts = p->all<Transfer>(p->take());
  ASSERT_EQ(ts.size(), 4u);
  EXPECT_EQ(ts[0].delivery_id, 0xFFFFFFFEu);
  EXPECT_EQ(ts[3].delivery_id, 1u);
  p->disposition(0xFFFFFFFFu, 0u, Accepted{}.to_value());
  EXPECT_EQ(q->unacked_count(), 2u);
  p->disposition(1, 1000u, Accepted{}.to_value());  // beyond what we sent: clamped
  EXPECT_EQ(q->unacked_count(), 1u);
  p->disposition(0xFFFFFF00u, 0xFFFFFFFEu, Accepted{}.to_value());
  EXPECT_EQ(q->unacked_count(), 0u);
}

TEST_F(LinkTest, UnsettledDispositionIsAnsweredSettled) {
  auto q = declare("q");
  put("q", "a");
  auto p = consumer("/queues/q", sender_settle_mode::kUnsettled, receiver_settle_mode::kSecond);
  p->flow(1, 0, 1);
  p->take();
  p->disposition(0, std::nullopt, Accepted{}.to_value(), /*settled=*/false);
  auto ds = p->all<Disposition>(p->take());
  ASSERT_EQ(ds.size(), 1u);
  EXPECT_TRUE(ds[0].settled);
  EXPECT_EQ(ds[0].role, role::kSender);
  EXPECT_EQ(code_of(ds[0].state), Accepted::kCode);
  EXPECT_EQ(q->unacked_count(), 0u);
}

TEST_F(LinkTest, SettledWithoutStateIsTheDefaultOutcomeReleased) {
  auto q = declare("q");
  put("q", "a");
  auto p = consumer("/queues/q");
  p->flow(1, 0, 1);
  p->take();
  Disposition d;
  d.role = role::kReceiver;
  d.first = 0;
  d.settled = true;
  p->send(0, d);
  EXPECT_EQ(q->ready_count(), 1u);
}

TEST_F(LinkTest, PresettledLinkIsAtMostOnce) {
  auto q = declare("q");
  put("q", "a");
  auto p = consumer("/queues/q", sender_settle_mode::kSettled);
  p->flow(1, 0, 1);
  auto ts = p->all<Transfer>(p->take());
  ASSERT_EQ(ts.size(), 1u);
  EXPECT_EQ(ts[0].settled, true);
  EXPECT_EQ(q->unacked_count(), 0u);
  p->send(0, Close{});
  EXPECT_EQ(q->ready_count(), 0u);
}

TEST_F(LinkTest, LargeDeliveriesAreSplitToThePeersMaxFrameSize) {
  declare("q");
  put("q", std::string(5000, 'b'));
  put("q", std::string(2000, 'c'));  // one frame, the body by reference
  Peer p(broker, opts);
  p.open(/*max_frame=*/1024);
  p.begin();
  p.attach_receiver(1, "/queues/q");
  p.take();
  p.flow(1, 0, 1);
  auto got = p.take();
  std::string payload;
  size_t frames = 0;
  for (auto& g : got)
    if (auto* t = g.as<Transfer>()) {
      EXPECT_LE(g.size, 1024u);
      payload += g.payload;
      ++frames;
      EXPECT_EQ(t->more, frames < 6) << frames;
    }
  EXPECT_GE(frames, 5u);
  EXPECT_EQ(data_of(payload), std::string(5000, 'b'));
  // Each frame's part of the body by reference (its slice of the stored
  // string), not copied into the frame.
  EXPECT_EQ(p.t.shared_sends, frames);
  Peer big(broker, opts, 7);
  big.open(65536);
  big.begin();
  big.attach_receiver(1, "/queues/q");
  big.take();
  big.flow(1, 0, 1);
  auto ts = big.all<Transfer>(big.take());
  ASSERT_EQ(ts.size(), 1u);
  EXPECT_EQ(big.t.shared_sends, 1u);
}

TEST_F(LinkTest, OutputFullHoldsDeliveriesUntilDrained) {
  declare("q");
  put("q", "a");
  put("q", "b");
  auto p = consumer("/queues/q");
  p->t.pending = opts.max_output + 1;
  p->flow(1, 0, 10);
  EXPECT_TRUE(p->all<Transfer>(p->take()).empty());
  EXPECT_GT(p->t.drain_requests, 0);
  p->t.pending = 0;
  p->conn->output_drained(p->now);
  EXPECT_EQ(p->all<Transfer>(p->take()).size(), 2u);
}

TEST_F(LinkTest, DeliveryFromAnotherConnectionIsSentAtOnce) {
  declare("q");
  auto c = consumer("/queues/q");
  c->flow(1, 0, 10);
  c->take();
  auto p = publisher("/queues/q");
  p->transfer(1, 0, message_bytes("x"), true);
  auto got = c->take();
  ASSERT_EQ(c->all<Transfer>(got).size(), 1u);
  EXPECT_EQ(data_of(got[0].payload), "x") << "a 1.0 message goes out with its sections as received";
}

}  // namespace
}  // namespace warren::amqp10::test
