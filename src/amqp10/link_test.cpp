// AMQP 1.0 links: publishing, consuming, credit (2.6.7), drain, echo,
// outcomes, settlement modes, multi-frame transfers, addresses.
#include "amqp10/address.hpp"
#include "amqp10/convert.hpp"
#include "amqp10/engine_test_util.hpp"
#include "amqp10/session.hpp"

namespace warren::amqp10::test {
namespace {

class LinkTest : public ::testing::Test {
 protected:
  broker::SeededEnv env;
  broker::Broker broker{env, start_time()};
  ServerOptions opts;
  broker::VHost& vh() { return *broker.vhost("/"); }
  broker::QueuePtr declare(const std::string& q, broker::Table args = {}) {
    broker::QueueDeclare d;
    d.name = q;
    d.arguments = std::move(args);
    broker::QueueDeclareOk ok;
    EXPECT_FALSE(vh().declare_queue(d, start_time(), ok));
    return vh().find_queue(q);
  }
  void put(const std::string& q, std::string body) {
    broker::PublishResult r;
    auto m = broker::Message::built("", q, {}, std::make_shared<const std::string>(std::move(body)));
    ASSERT_FALSE(vh().publish("", m, start_time(), r));
  }
  // Opened, begun, receiving from `address` on handle 1.
  std::unique_ptr<Peer> consumer(const std::string& address, uint8_t snd = sender_settle_mode::kUnsettled,
                                 uint8_t rcv = receiver_settle_mode::kFirst, uint64_t id = 1) {
    auto p = std::make_unique<Peer>(broker, opts, id);
    p->open();
    p->begin();
    p->attach_receiver(1, address, snd, rcv);
    auto got = p->take();
    EXPECT_EQ(got.size(), 1u) << names(got);
    return p;
  }
  std::unique_ptr<Peer> publisher(const std::string& address, uint64_t id = 2) {
    auto p = std::make_unique<Peer>(broker, opts, id);
    p->open();
    p->begin();
    p->attach_sender(1, address);
    p->take();
    return p;
  }
  static Value state_value(uint64_t code) {
    if (code == Accepted::kCode) return Accepted{}.to_value();
    if (code == Released::kCode) return Released{}.to_value();
    return Rejected{}.to_value();
  }
  static uint64_t code_of(const std::optional<Value>& v) { return v && v->is_described() ? v->descriptor_code() : 0; }
};

// ------------------------------------------------------------- publishing

// Transfers written just ahead of a close (or an end) learn their outcome
// before it, as 0-9-1 confirms what came before connection.close.
TEST_F(LinkTest, TransfersBeforeACloseOrAnEndAreSettledBeforeIt) {
  for (bool close : {true, false}) {
    SCOPED_TRACE(close ? "close" : "end");
    auto q = declare(close ? "qc" : "qe");
    Peer p(broker, opts);
    p.open();
    p.begin();
    p.attach_sender(1, close ? "/queues/qc" : "/queues/qe");
    p.take();
    std::string frames;
    for (uint32_t i = 0; i < 3; ++i) {
      Transfer tr;
      tr.handle = 1;
      tr.delivery_id = i;
      tr.delivery_tag = "t";
      append_frame(frames, FrameType::Amqp, 0, tr, as_bytes(message_bytes("m")));
    }
    if (close)
      append_frame(frames, FrameType::Amqp, 0, Close{});
    else
      append_frame(frames, FrameType::Amqp, 0, End{});
    p.feed(frames);
    auto got = p.take();
    ASSERT_GE(got.size(), 2u) << names(got);
    auto* d = got[got.size() - 2].as<Disposition>();
    ASSERT_TRUE(d) << names(got);
    EXPECT_EQ(d->first, 0u);
    EXPECT_EQ(d->last, 2u);
    EXPECT_EQ(code_of(d->state), Accepted::kCode);
    EXPECT_TRUE(close ? got.back().as<Close>() != nullptr : got.back().as<End>() != nullptr) << names(got);
    EXPECT_EQ(q->ready_count(), 3u);
  }
}


TEST_F(LinkTest, PublisherGetsCreditAtOnceAndDispositionsInRanges) {
  opts.link_credit = 4;
  auto q = declare("q");
  Peer p(broker, opts);
  p.open();
  p.begin();
  p.attach_sender(1, "/queues/q");
  auto got = p.take();
  ASSERT_EQ(got.size(), 2u) << names(got);
  auto* a = got[0].as<Attach>();
  ASSERT_TRUE(a);
  EXPECT_EQ(a->role, role::kReceiver);
  auto* f = got[1].as<Flow>();
  ASSERT_TRUE(f);
  EXPECT_EQ(f->link_credit, 4u);
  EXPECT_EQ(f->delivery_count, 0u);
  // Three in one turn: one disposition for the range, and credit topped up.
  std::string frames;
  for (uint32_t i = 0; i < 3; ++i) {
    Transfer tr;
    tr.handle = 1;
    tr.delivery_id = 10 + i;
    tr.delivery_tag = "t";
    append_frame(frames, FrameType::Amqp, 0, tr, as_bytes(message_bytes("m")));
  }
  p.feed(frames);
  got = p.take();
  auto ds = p.all<Disposition>(got);
  ASSERT_EQ(ds.size(), 1u) << names(got);
  EXPECT_EQ(ds[0].first, 10u);
  EXPECT_EQ(ds[0].last, 12u);
  EXPECT_TRUE(ds[0].settled);
  EXPECT_EQ(code_of(ds[0].state), Accepted::kCode);
  auto flows = p.all<Flow>(got);
  ASSERT_FALSE(flows.empty());
  EXPECT_EQ(flows.back().link_credit, 4u);
  EXPECT_EQ(flows.back().delivery_count, 2u);  // topped up when half was used
  EXPECT_EQ(q->ready_count(), 3u);
}

TEST_F(LinkTest, UnroutableIsReleasedRejectPublishIsRejected) {
  broker::ExchangeDeclare x;
  x.name = "x";
  ASSERT_FALSE(vh().declare_exchange(x));
  declare("full", {{"x-max-length", int64_t(0)}, {"x-overflow", "reject-publish"}});
  Peer p(broker, opts);
  p.open();
  p.begin();
  p.attach_sender(1, "/exchanges/x/nowhere");
  p.attach_sender(2, "/queues/full");
  p.take();
  p.transfer(1, 0, message_bytes("a"));
  p.transfer(2, 1, message_bytes("b"));
  auto ds = p.all<Disposition>(p.take());
  ASSERT_EQ(ds.size(), 2u);
  EXPECT_EQ(code_of(ds[0].state), Released::kCode);
  EXPECT_EQ(code_of(ds[1].state), Rejected::kCode);
  auto r = Rejected::from_value(*ds[1].state);
  ASSERT_TRUE(r && r->error);
  EXPECT_EQ(r->error->condition, amqp_error::kResourceLimitExceeded);
}

// A reply sent over 1.0 to a 0-9-1 requester's direct reply-to name reaches
// no queue but is delivered: accepted, not released.
TEST_F(LinkTest, DirectReplyToReplyIsAccepted) {
  struct Requester : broker::ReplyReceiver {
    int got = 0;
    bool deliver_reply(const broker::MessagePtr&) override { return ++got, true; }
  } requester;
  const std::string name = vh().direct_reply().add(requester);
  Peer p(broker, opts);
  p.open();
  p.begin();
  p.attach_sender(1, "/exchanges/amq.default/" + name);
  p.take();
  p.transfer(1, 0, message_bytes("reply"));
  auto ds = p.all<Disposition>(p.take());
  ASSERT_EQ(ds.size(), 1u);
  EXPECT_EQ(code_of(ds[0].state), Accepted::kCode);
  EXPECT_EQ(requester.got, 1);
  vh().direct_reply().remove(name);
}

TEST_F(LinkTest, ExchangeTargetRoutesBySubjectWithoutKey) {
  broker::ExchangeDeclare x;
  x.name = "x";
  ASSERT_FALSE(vh().declare_exchange(x));
  auto q = declare("q");
  ASSERT_FALSE(vh().bind_queue("q", "x", "k", {}, 0));
  Peer p(broker, opts);
  p.open();
  p.begin();
  p.attach_sender(1, "/exchanges/x");
  p.take();
  Properties props;
  props.subject = "k";
  p.transfer(1, 0, message_bytes("a", props), true);
  EXPECT_EQ(q->ready_count(), 1u);
}

TEST_F(LinkTest, MultiFrameTransferIsAssembledAndAbortedIsDiscarded) {
  auto q = declare("q");
  Peer p(broker, opts);
  p.open();
  p.begin();
  p.attach_sender(1, "/queues/q");
  p.take();
  std::string whole = message_bytes(std::string(3000, 'z'));
  Transfer first;
  first.handle = 1;
  first.delivery_id = 0;
  first.delivery_tag = "a";
  first.more = true;
  p.send(0, first, std::string_view(whole).substr(0, 1000));
  Transfer more;
  more.handle = 1;
  more.more = true;
  p.send(0, more, std::string_view(whole).substr(1000, 1000));
  more.more = false;
  p.send(0, more, std::string_view(whole).substr(2000));
  EXPECT_EQ(q->ready_count(), 1u);
  // An aborted one: nothing stored, no disposition.
  p.take();
  first.delivery_id = 1;
  p.send(0, first, std::string_view(whole).substr(0, 1000));
  Transfer abort;
  abort.handle = 1;
  abort.aborted = true;
  p.send(0, abort);
  EXPECT_EQ(q->ready_count(), 1u);
  EXPECT_TRUE(p.all<Disposition>(p.take()).empty());
}

TEST_F(LinkTest, TooBigIsMessageSizeExceeded) {
  opts.max_message_size = 100;
  declare("q");
  Peer p(broker, opts);
  p.open();
  p.begin();
  p.attach_sender(1, "/queues/q");
  p.take();
  p.transfer(1, 0, message_bytes(std::string(200, 'x')));
  auto ds = p.all<Detach>(p.take());
  ASSERT_EQ(ds.size(), 1u);
  EXPECT_EQ(ds[0].error->condition, link_error::kMessageSizeExceeded);
}

TEST_F(LinkTest, RcvSettleModeSecondLeavesOurDispositionUnsettled) {
  auto q = declare("q");
  Peer p(broker, opts);
  p.open();
  p.begin();
  p.attach_sender(1, "/queues/q", sender_settle_mode::kUnsettled, receiver_settle_mode::kSecond);
  auto got = p.take();
  EXPECT_EQ(got[0].as<Attach>()->rcv_settle_mode, receiver_settle_mode::kSecond);
  p.transfer(1, 0, message_bytes("a"));
  auto ds = p.all<Disposition>(p.take());
  ASSERT_EQ(ds.size(), 1u);
  EXPECT_FALSE(ds[0].settled);
  EXPECT_EQ(code_of(ds[0].state), Accepted::kCode);
}

TEST_F(LinkTest, MemoryAlarmStopsCreditAndReading) {
  opts.link_credit = 2;
  declare("q");
  Peer p(broker, opts);
  p.open();
  p.begin();
  p.attach_sender(1, "/queues/q");
  p.take();
  p.conn->resource_alarm({.memory = true});
  p.transfer(1, 0, message_bytes("a"), true);
  EXPECT_FALSE(p.t.reading);
  p.transfer(1, 1, message_bytes("b"), true);
  EXPECT_TRUE(p.all<Flow>(p.take()).empty()) << "no credit under the alarm";
  p.conn->resource_alarm({});
  EXPECT_TRUE(p.t.reading);
  auto flows = p.all<Flow>(p.take());
  ASSERT_EQ(flows.size(), 1u);
  EXPECT_EQ(flows[0].link_credit, 2u);
}

// -------------------------------------------------------------- consuming

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

// ------------------------------------------------------------- addresses

TEST_F(LinkTest, MissingQueueIsRefusedWithNullTerminusAndNotFound) {
  Peer p(broker, opts);
  p.open();
  p.begin();
  p.attach_receiver(1, "/queues/nope");
  auto got = p.take();
  ASSERT_EQ(got.size(), 2u) << names(got);
  auto* a = got[0].as<Attach>();
  ASSERT_TRUE(a);
  EXPECT_FALSE(a->source);
  auto* d = got[1].as<Detach>();
  ASSERT_TRUE(d);
  EXPECT_TRUE(d->closed);
  EXPECT_EQ(d->error->condition, amqp_error::kNotFound);
  EXPECT_EQ(d->error->description, "no queue 'nope' in vhost '/'");  // 1.0's wording: no 0-9-1 reply name
  Detach mine;
  mine.handle = 1;
  mine.closed = true;
  p.send(0, mine);  // the answer is absorbed
  EXPECT_TRUE(p.take().empty());
  p.attach_sender(2, "/queues/nope");
  got = p.take();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_FALSE(got[0].as<Attach>()->target);
}

TEST_F(LinkTest, CoordinatorTargetIsNotImplemented) {
  Peer p(broker, opts);
  p.open();
  p.begin();
  Attach a;
  a.name = "txn";
  a.handle = 1;
  a.role = role::kSender;
  a.source = Source{}.to_value();
  a.target = Coordinator{}.to_value();
  p.send(0, a);
  auto ds = p.all<Detach>(p.take());
  ASSERT_EQ(ds.size(), 1u);
  EXPECT_EQ(ds[0].error->condition, amqp_error::kNotImplemented);
}

TEST_F(LinkTest, V1QueueAddressAndBareNameDeclare) {
  Peer p(broker, opts);
  p.open();
  p.begin();
  p.attach_receiver(1, "/queue/made");
  p.attach_sender(2, "bare");
  p.take();
  EXPECT_TRUE(vh().find_queue("made"));
  EXPECT_TRUE(vh().find_queue("bare"));
  opts.declare_bare_queues = false;
  p.attach_sender(3, "other");
  auto ds = p.all<Detach>(p.take());
  ASSERT_EQ(ds.size(), 1u);
  EXPECT_EQ(ds[0].error->condition, amqp_error::kNotFound);
}

TEST_F(LinkTest, ExchangeSourceConsumesFromATemporaryQueue) {
  broker::ExchangeDeclare x;
  x.name = "t";
  x.type = "topic";
  ASSERT_FALSE(vh().declare_exchange(x));
  const size_t before = vh().queue_count();
  auto p = consumer("/exchange/t/a.*");
  EXPECT_EQ(vh().queue_count(), before + 1);
  p->flow(1, 0, 10);
  broker::PublishResult r;
  for (std::string key : {"a.1", "b.1"})
    ASSERT_FALSE(vh().publish("t", broker::Message::built("t", key, {}, std::make_shared<const std::string>(key)),
                              start_time(), r));
  auto got = p->take();
  ASSERT_EQ(p->all<Transfer>(got).size(), 1u);
  Detach d;
  d.handle = 1;
  d.closed = true;
  p->send(0, d);
  EXPECT_EQ(vh().queue_count(), before);
}

TEST_F(LinkTest, DynamicSourceIsAServerNamedQueueOthersCanSendTo) {
  Peer p(broker, opts);
  p.open();
  p.begin();
  p.attach_receiver(1, "", sender_settle_mode::kUnsettled, receiver_settle_mode::kFirst, /*dynamic=*/true);
  auto got = p.take();
  auto* a = got.at(0).as<Attach>();
  ASSERT_TRUE(a);
  auto src = Source::from_value(*a->source);
  ASSERT_TRUE(src && src->address);
  std::string address(src->address->bytes());
  ASSERT_TRUE(address.starts_with("/queues/amq.gen-")) << address;
  p.flow(1, 0, 10);
  auto other = publisher(address, 9);
  other->transfer(1, 0, message_bytes("reply"), true);
  EXPECT_EQ(p.all<Transfer>(p.take()).size(), 1u);
  Detach d;
  d.handle = 1;
  d.closed = true;
  p.send(0, d);
  Address parsed;
  std::string err;
  ASSERT_TRUE(parse_address(address, true, parsed, err));
  EXPECT_FALSE(vh().find_queue(parsed.name)) << "deleted on close";
}

TEST_F(LinkTest, AnonymousRelayRoutesByTo) {
  auto q = declare("q");
  Peer p(broker, opts);
  p.open();
  p.begin();
  p.attach_sender(1, "");  // a null target address
  p.take();
  Properties to_q;
  to_q.to = Value::string("/queues/q");
  Properties to_missing;
  to_missing.to = Value::string("/queues/missing");
  Properties no_to;
  p.transfer(1, 0, message_bytes("a", to_q));
  p.transfer(1, 1, message_bytes("b", to_missing));
  p.transfer(1, 2, message_bytes("c", no_to));
  auto ds = p.all<Disposition>(p.take());
  ASSERT_EQ(ds.size(), 3u);
  EXPECT_EQ(code_of(ds[0].state), Accepted::kCode);
  EXPECT_EQ(code_of(ds[1].state), Rejected::kCode);
  EXPECT_EQ(Rejected::from_value(*ds[1].state)->error->condition, amqp_error::kNotFound);
  EXPECT_EQ(code_of(ds[2].state), Rejected::kCode);
  EXPECT_EQ(q->ready_count(), 1u);
}

}  // namespace
}  // namespace warren::amqp10::test

// ------------------------------------------------------------- permissions

namespace warren::amqp10::test {
namespace {

// guest may configure nothing, write to amq.default only, read "r.*".
class LinkAccessTest : public LinkTest {
 protected:
  void SetUp() override {
    opts.directory->set_permission("guest", "/", {.configure = "", .write = "^amq\\.default$", .read = "^r\\."});
  }
  // The attach on handle 1 was refused with `condition` and `description`.
  static void expect_refused(Peer& p, std::string_view condition, std::string_view description) {
    auto ds = p.all<Detach>(p.take());
    ASSERT_EQ(ds.size(), 1u);
    ASSERT_TRUE(ds[0].error);
    EXPECT_EQ(ds[0].error->condition, condition);
    EXPECT_EQ(ds[0].error->description, description);
  }
};

TEST_F(LinkAccessTest, ReceivingNeedsReadAndDeclaringNeedsConfigure) {
  declare("q");
  declare("r.q");
  Peer p(broker, opts);
  p.open();
  p.begin();
  p.attach_receiver(1, "/queues/q");
  expect_refused(p, amqp_error::kUnauthorizedAccess, "read access to queue 'q' in vhost '/' refused for user 'guest'");
  p.attach_receiver(2, "/queues/r.q");
  EXPECT_TRUE(p.all<Detach>(p.take()).empty());
  p.attach_receiver(3, "new-bare-name");  // declared on first use: configure
  expect_refused(p, amqp_error::kUnauthorizedAccess,
                 "configure access to queue 'new-bare-name' in vhost '/' refused for user 'guest'");
  EXPECT_FALSE(vh().find_queue("new-bare-name"));
}

TEST_F(LinkAccessTest, SendingNeedsWriteOnTheExchange) {
  auto q = declare("q");
  Peer p(broker, opts);
  p.open();
  p.begin();
  p.attach_sender(1, "/exchanges/amq.fanout");
  expect_refused(p, amqp_error::kUnauthorizedAccess,
                 "write access to exchange 'amq.fanout' in vhost '/' refused for user 'guest'");
  p.attach_sender(2, "/queues/q");  // the default exchange: allowed
  p.take();
  p.transfer(2, 0, message_bytes("a"));
  EXPECT_EQ(code_of(p.all<Disposition>(p.take()).at(0).state), Accepted::kCode);
  EXPECT_EQ(q->ready_count(), 1u);
}

TEST_F(LinkAccessTest, AnonymousRelayChecksEachMessage) {
  auto q = declare("q");
  Peer p(broker, opts);
  p.open();
  p.begin();
  p.attach_sender(1, "");
  p.take();
  Properties to_q, to_x;
  to_q.to = Value::string("/queues/q");
  to_x.to = Value::string("/exchanges/amq.topic/k");
  p.transfer(1, 0, message_bytes("a", to_q));
  p.transfer(1, 1, message_bytes("b", to_x));
  auto ds = p.all<Disposition>(p.take());
  ASSERT_EQ(ds.size(), 2u);
  EXPECT_EQ(code_of(ds[0].state), Accepted::kCode);
  EXPECT_EQ(Rejected::from_value(*ds[1].state)->error->condition, amqp_error::kUnauthorizedAccess);
}

}  // namespace
}  // namespace warren::amqp10::test
