// AMQP 1.0 links, addresses: missing queues, the coordinator, v1 and bare
// queue names, exchange sources, dynamic sources, the anonymous relay; and
// the permissions an attach or a relayed message needs.
#include "amqp10/link_test_fixture.hpp"

#include <string>
#include <string_view>

#include "amqp10/address.hpp"

namespace warren::amqp10::test {
namespace {

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

// ------------------------------------------------------------- permissions

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
