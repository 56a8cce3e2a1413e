// AMQP 1.0 links, publishing: transfers settled before a close or an end,
// credit for the publisher and dispositions in ranges, outcomes (unroutable,
// reject-publish, direct reply-to), exchange targets, multi-frame and
// aborted transfers, message size, rcv-settle-mode second, and the memory
// alarm.
#include "amqp10/link_test_fixture.hpp"

#include <string>
#include <string_view>

namespace warren::amqp10::test {
namespace {

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

}  // namespace
}  // namespace warren::amqp10::test
