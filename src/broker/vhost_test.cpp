// VHost declarations and deletions: exchanges and queues, equivalence,
// reserved names, exclusivity, auto-delete, x-expires, purge.
#include "broker/vhost.hpp"

#include <gtest/gtest.h>

#include "broker/test_util.hpp"

namespace warren::broker {
namespace {

using namespace test;

const std::string kLocked =
    "RESOURCE_LOCKED - cannot obtain exclusive access to locked queue 'q' in vhost '/'. It could be originally "
    "declared on another connection or the exclusive property value does not match that of the original "
    "declaration.";

TEST_F(VHostTest, StartsWithTheStandardExchanges) {
  EXPECT_EQ(v.name(), "/");
  EXPECT_EQ(v.exchange_count(), 6u);
  for (auto [name, type] : {std::pair{"", ExchangeType::Direct}, {"amq.direct", ExchangeType::Direct},
                            {"amq.fanout", ExchangeType::Fanout}, {"amq.topic", ExchangeType::Topic},
                            {"amq.headers", ExchangeType::Headers}, {"amq.match", ExchangeType::Headers}}) {
    ExchangePtr x = v.find_exchange(name);
    ASSERT_TRUE(x) << name;
    EXPECT_EQ(x->type(), type) << name;
    EXPECT_TRUE(x->options().durable) << name;
  }
  EXPECT_EQ(v.queue_count(), 0u);
  EXPECT_EQ(v.next_deadline(), std::nullopt);
}

TEST_F(VHostTest, DeclareExchangeAndRedeclareEquivalently) {
  EXPECT_FALSE(declare_exchange("x", "topic", {{"alternate-exchange", "ae"}}));
  EXPECT_FALSE(declare_exchange("x", "topic", {{"alternate-exchange", "ae"}, {"other", 1}}));
  EXPECT_EQ(v.find_exchange("x")->type(), ExchangeType::Topic);
  EXPECT_FALSE(v.declare_exchange({"x", "ignored", /*passive=*/true}));
  EXPECT_FALSE(declare_exchange("amq.direct", "direct", {}, false, false, /*durable=*/true));
}

TEST_F(VHostTest, RedeclaringAnExchangeDifferentlyIsRefused) {
  ASSERT_FALSE(declare_exchange("x", "direct", {{"alternate-exchange", "ae"}}));
  Error e = declare_exchange("x", "fanout", {{"alternate-exchange", "ae"}});
  EXPECT_EQ(e.code, ErrorCode::PreconditionFailed);
  EXPECT_EQ(e.text(),
            "PRECONDITION_FAILED - inequivalent arg 'type' for exchange 'x' in vhost '/': received 'fanout' but "
            "current is 'direct'");
  e = declare_exchange("x", "direct", {{"alternate-exchange", "ae"}}, false, false, /*durable=*/true);
  EXPECT_EQ(e.text(),
            "PRECONDITION_FAILED - inequivalent arg 'durable' for exchange 'x' in vhost '/': received 'true' but "
            "current is 'false'");
  e = declare_exchange("x", "direct", {{"alternate-exchange", "ae"}}, /*auto_delete=*/true);
  EXPECT_EQ(e.text(),
            "PRECONDITION_FAILED - inequivalent arg 'auto_delete' for exchange 'x' in vhost '/': received 'true' "
            "but current is 'false'");
  e = declare_exchange("x", "direct", {{"alternate-exchange", "ae"}}, false, /*internal=*/true);
  EXPECT_EQ(e.text(),
            "PRECONDITION_FAILED - inequivalent arg 'internal' for exchange 'x' in vhost '/': received 'true' but "
            "current is 'false'");
  e = declare_exchange("x", "direct", {{"alternate-exchange", "other"}});
  EXPECT_EQ(e.text(),
            "PRECONDITION_FAILED - inequivalent arg 'alternate-exchange' for exchange 'x' in vhost '/': received "
            "the value 'other' of type 'longstr' but current is the value 'ae' of type 'longstr'");
  e = declare_exchange("x", "direct");
  EXPECT_EQ(e.text(),
            "PRECONDITION_FAILED - inequivalent arg 'alternate-exchange' for exchange 'x' in vhost '/': received "
            "none but current is the value 'ae' of type 'longstr'");
  e = declare_exchange("amq.topic", "topic");  // predeclared ones are durable
  EXPECT_EQ(e.code, ErrorCode::PreconditionFailed);
}

TEST_F(VHostTest, ExchangeDeclareErrors) {
  Error e = declare_exchange("x", "foo");
  EXPECT_EQ(e.code, ErrorCode::CommandInvalid);
  EXPECT_EQ(e.text(), "COMMAND_INVALID - unknown exchange type 'foo'");
  e = declare_exchange("amq.custom");
  EXPECT_EQ(e.code, ErrorCode::AccessRefused);
  EXPECT_EQ(e.text(), "ACCESS_REFUSED - exchange name 'amq.custom' contains reserved prefix 'amq.*'");
  e = declare_exchange("");
  EXPECT_EQ(e.code, ErrorCode::AccessRefused);
  EXPECT_EQ(e.text(), "ACCESS_REFUSED - operation not permitted on the default exchange");
  e = v.declare_exchange({"", "direct", /*passive=*/true});
  EXPECT_EQ(e.text(), "ACCESS_REFUSED - operation not permitted on the default exchange");
  e = v.declare_exchange({"missing", "direct", /*passive=*/true});
  EXPECT_EQ(e.code, ErrorCode::NotFound);
  EXPECT_EQ(e.text(), "NOT_FOUND - no exchange 'missing' in vhost '/'");
  e = declare_exchange("x", "direct", {{"alternate-exchange", 5}});
  EXPECT_EQ(e.text(), "PRECONDITION_FAILED - invalid type 'signedint' for arg 'alternate-exchange' in exchange 'x' in "
                    "vhost '/'");
  EXPECT_EQ(v.exchange_count(), 6u);
}

TEST_F(VHostTest, DeleteExchange) {
  EXPECT_FALSE(v.delete_exchange("missing", false));  // idempotent
  EXPECT_EQ(v.delete_exchange("", false).text(), "ACCESS_REFUSED - operation not permitted on the default exchange");
  Error e = v.delete_exchange("amq.direct", false);
  EXPECT_EQ(e.code, ErrorCode::AccessRefused);
  EXPECT_EQ(e.text(), "ACCESS_REFUSED - deletion of system exchange 'amq.direct' in vhost '/' not allowed");
  ASSERT_FALSE(declare_exchange("x"));
  ASSERT_FALSE(declare_queue("q"));
  ASSERT_FALSE(bind("q", "x", "k"));
  e = v.delete_exchange("x", /*if_unused=*/true);
  EXPECT_EQ(e.code, ErrorCode::PreconditionFailed);
  EXPECT_EQ(e.text(), "PRECONDITION_FAILED - exchange 'x' in vhost '/' in use");
  EXPECT_FALSE(v.delete_exchange("x", false));
  EXPECT_FALSE(v.find_exchange("x"));
}

TEST_F(VHostTest, DeletingAnExchangeRemovesBindingsToIt) {
  ASSERT_FALSE(declare_exchange("src", "fanout"));
  ASSERT_FALSE(declare_exchange("dst", "fanout"));
  ASSERT_FALSE(v.bind_exchange("dst", "src", "", {}));
  EXPECT_TRUE(v.find_exchange("src")->has_bindings());
  EXPECT_FALSE(v.delete_exchange("dst", true));  // bindings *to* it do not make it used
  EXPECT_FALSE(v.find_exchange("src")->has_bindings());
}

TEST_F(VHostTest, AutoDeleteExchangeGoesWithItsLastBinding) {
  ASSERT_FALSE(declare_exchange("ad", "direct", {}, /*auto_delete=*/true));
  ASSERT_FALSE(declare_queue("q1"));
  ASSERT_FALSE(declare_queue("q2"));
  EXPECT_TRUE(v.find_exchange("ad"));  // never bound: stays
  ASSERT_FALSE(bind("q1", "ad", "a"));
  ASSERT_FALSE(bind("q2", "ad", "b"));
  EXPECT_FALSE(v.unbind_queue("q1", "ad", "a", {}, kConn));
  EXPECT_TRUE(v.find_exchange("ad"));
  uint64_t n = 0;
  EXPECT_FALSE(v.delete_queue("q2", false, false, kConn, now, n));  // the last binding goes with its queue
  EXPECT_FALSE(v.find_exchange("ad"));
}

TEST_F(VHostTest, AutoDeleteCascadesThroughExchangeBindings) {
  ASSERT_FALSE(declare_exchange("a", "fanout", {}, true));
  ASSERT_FALSE(declare_exchange("b", "fanout", {}, true));
  ASSERT_FALSE(declare_queue("q"));
  ASSERT_FALSE(v.bind_exchange("b", "a", "", {}));
  ASSERT_FALSE(bind("q", "b"));
  EXPECT_FALSE(v.unbind_queue("q", "b", "", {}, kConn));  // b loses its last binding: gone, and a with it
  EXPECT_FALSE(v.find_exchange("b"));
  EXPECT_FALSE(v.find_exchange("a"));
}

TEST_F(VHostTest, DeclareQueueAndRedeclareEquivalently) {
  QueueDeclareOk ok;
  EXPECT_FALSE(declare_queue("q", {{"x-max-length", 10}, {"custom", "a"}}, false, false, kConn, true, &ok));
  EXPECT_EQ(ok.name, "q");
  EXPECT_EQ(ok.message_count, 0u);
  EXPECT_TRUE(v.find_queue("q")->durable());
  publish("", "q");
  publish("", "q");
  // Integer widths do not matter; unknown arguments are not compared.
  EXPECT_FALSE(declare_queue("q", {{"x-max-length", int64_t{10}}, {"custom", "b"}}, false, false, kConn, true, &ok));
  EXPECT_EQ(ok.message_count, 2u);
  EXPECT_EQ(ok.consumer_count, 0u);
  EXPECT_EQ(v.queue_count(), 1u);
}

TEST_F(VHostTest, RedeclaringAQueueDifferentlyIsRefused) {
  ASSERT_FALSE(declare_queue("q", {{"x-max-length", 10}}));
  Error e = declare_queue("q", {{"x-max-length", 10}}, false, false, kConn, /*durable=*/true);
  EXPECT_EQ(e.code, ErrorCode::PreconditionFailed);
  EXPECT_EQ(e.text(),
            "PRECONDITION_FAILED - inequivalent arg 'durable' for queue 'q' in vhost '/': received 'true' but "
            "current is 'false'");
  e = declare_queue("q", {{"x-max-length", 10}}, false, /*auto_delete=*/true);
  EXPECT_EQ(e.text(),
            "PRECONDITION_FAILED - inequivalent arg 'auto_delete' for queue 'q' in vhost '/': received 'true' but "
            "current is 'false'");
  e = declare_queue("q", {{"x-max-length", 20}});
  EXPECT_EQ(e.text(),
            "PRECONDITION_FAILED - inequivalent arg 'x-max-length' for queue 'q' in vhost '/': received the value "
            "'20' of type 'signedint' but current is the value '10' of type 'signedint'");
  e = declare_queue("q", {});
  EXPECT_EQ(e.text(),
            "PRECONDITION_FAILED - inequivalent arg 'x-max-length' for queue 'q' in vhost '/': received none but "
            "current is the value '10' of type 'signedint'");
  e = declare_queue("q", {{"x-max-length", 10}, {"x-message-ttl", int64_t{5}}});
  EXPECT_EQ(e.text(),
            "PRECONDITION_FAILED - inequivalent arg 'x-message-ttl' for queue 'q' in vhost '/': received the value "
            "'5' of type 'long' but current is none");
  e = declare_queue("q", {{"x-max-length", "10"}});
  EXPECT_EQ(e.code, ErrorCode::PreconditionFailed);
}

TEST_F(VHostTest, ServerNamedQueues) {
  QueueDeclareOk a, b;
  ASSERT_FALSE(declare_queue("", {}, true, false, kConn, false, &a));
  ASSERT_FALSE(declare_queue("", {}, true, false, kConn, false, &b));
  for (const std::string& n : {a.name, b.name}) {
    ASSERT_EQ(n.size(), 8u + 22u) << n;
    EXPECT_TRUE(n.starts_with("amq.gen-")) << n;
    for (char c : n.substr(8)) EXPECT_TRUE(isalnum((unsigned char)c) || c == '-' || c == '_') << n;
    EXPECT_TRUE(v.find_queue(n));
  }
  EXPECT_NE(a.name, b.name);
  // A server-named queue can be declared passively, but not redeclared.
  EXPECT_FALSE(v.declare_queue({a.name, true, false, false, false, {}, kConn}, now, b));
  Error e = declare_queue(a.name, {}, true);
  EXPECT_EQ(e.code, ErrorCode::AccessRefused);
}

TEST_F(VHostTest, AmqPrefixedQueueNamesAreReserved) {
  Error e = declare_queue("amq.q");
  EXPECT_EQ(e.code, ErrorCode::AccessRefused);
  EXPECT_EQ(e.text(), "ACCESS_REFUSED - queue name 'amq.q' contains reserved prefix 'amq.*'");
  EXPECT_EQ(v.queue_count(), 0u);
}

TEST_F(VHostTest, PassiveDeclare) {
  QueueDeclareOk ok;
  Error e = v.declare_queue({"q", true}, now, ok);
  EXPECT_EQ(e.code, ErrorCode::NotFound);
  EXPECT_EQ(e.text(), "NOT_FOUND - no queue 'q' in vhost '/'");
  ASSERT_FALSE(declare_queue("q", {{"x-max-length", 5}}));
  publish("", "q");
  FakeConsumer c(0);
  ASSERT_FALSE(v.find_queue("q")->add_consumer({&c, "c"}, now));
  // Passive ignores every other field.
  EXPECT_FALSE(v.declare_queue({"q", true, true, false, true, {{"x-max-length", 99}}, kOther}, now, ok));
  EXPECT_EQ(ok.name, "q");
  EXPECT_EQ(ok.message_count, 1u);
  EXPECT_EQ(ok.consumer_count, 1u);
}

TEST_F(VHostTest, InvalidArgumentsCreateNothing) {
  Error e = declare_queue("q", {{"x-expires", 0}});
  EXPECT_EQ(e.text(), "PRECONDITION_FAILED - invalid arg 'x-expires' for queue 'q' in vhost '/': {value_zero,0}");
  EXPECT_FALSE(v.find_queue("q"));
}

TEST_F(VHostTest, ExclusiveQueuesBelongToTheirConnection) {
  ASSERT_FALSE(declare_queue("q", {}, /*exclusive=*/true, false, kConn, /*durable=*/true));
  QueuePtr q = v.find_queue("q");
  EXPECT_FALSE(q->durable());  // RabbitMQ: exclusive queues are never durable
  EXPECT_EQ(q->exclusive_owner(), kConn);
  EXPECT_FALSE(declare_queue("q", {}, true, false, kConn, true));  // same owner: fine
  QueueDeclareOk ok;
  Error e = v.declare_queue({"q", true, false, false, false, {}, kOther}, now, ok);
  EXPECT_EQ(e.code, ErrorCode::ResourceLocked);
  EXPECT_EQ(e.text(), kLocked);
  EXPECT_EQ(declare_queue("q", {}, true, false, kOther).text(), kLocked);
  EXPECT_EQ(declare_queue("q", {}, false, false, kConn).text(), kLocked);  // exclusivity must match too
  v.queue_for("q", kOther, e);
  EXPECT_EQ(e.text(), kLocked);
  EXPECT_TRUE(v.queue_for("q", kConn, e));
  EXPECT_FALSE(e);
  uint64_t n = 0;
  EXPECT_EQ(v.purge_queue("q", kOther, now, n).code, ErrorCode::ResourceLocked);
  EXPECT_EQ(v.delete_queue("q", false, false, kOther, now, n).code, ErrorCode::ResourceLocked);
  EXPECT_EQ(v.bind_queue("q", "amq.direct", "k", {}, kOther).code, ErrorCode::ResourceLocked);
  EXPECT_TRUE(v.find_queue("q"));
}

TEST_F(VHostTest, ANonExclusiveQueueCannotBeRedeclaredExclusive) {
  ASSERT_FALSE(declare_queue("q"));
  EXPECT_EQ(declare_queue("q", {}, /*exclusive=*/true).text(), kLocked);
}

TEST_F(VHostTest, ConnectionCloseDeletesItsExclusiveQueues) {
  ASSERT_FALSE(declare_queue("mine", {}, true, false, kConn));
  ASSERT_FALSE(declare_queue("theirs", {}, true, false, kOther));
  ASSERT_FALSE(declare_queue("shared", {}, false, false, kConn));
  ASSERT_FALSE(bind("mine", "amq.fanout"));
  FakeConsumer c;
  ASSERT_FALSE(v.find_queue("mine")->add_consumer({&c, "c"}, now));
  v.connection_closed(kConn, now);
  EXPECT_FALSE(v.find_queue("mine"));
  EXPECT_TRUE(v.find_queue("theirs"));
  EXPECT_TRUE(v.find_queue("shared"));
  EXPECT_EQ(c.cancelled, 1);
  EXPECT_FALSE(v.find_exchange("amq.fanout")->has_bindings());
}

TEST_F(VHostTest, DeleteQueue) {
  uint64_t n = 99;
  EXPECT_FALSE(v.delete_queue("missing", false, false, kConn, now, n));  // idempotent
  EXPECT_EQ(n, 0u);
  ASSERT_FALSE(declare_queue("q"));
  publish("", "q");
  publish("", "q");
  Error e = v.delete_queue("q", false, /*if_empty=*/true, kConn, now, n);
  EXPECT_EQ(e.code, ErrorCode::PreconditionFailed);
  EXPECT_EQ(e.text(), "PRECONDITION_FAILED - queue 'q' in vhost '/' not empty");
  FakeConsumer c(1);
  QueuePtr q = v.find_queue("q");
  ASSERT_FALSE(q->add_consumer({&c, "c"}, now));
  e = v.delete_queue("q", /*if_unused=*/true, false, kConn, now, n);
  EXPECT_EQ(e.text(), "PRECONDITION_FAILED - queue 'q' in vhost '/' in use");
  ASSERT_FALSE(bind("q", "amq.direct", "k"));
  EXPECT_FALSE(v.delete_queue("q", false, false, kConn, now, n));
  EXPECT_EQ(n, 1u);  // ready messages; the consumer's unacked one is not counted
  EXPECT_FALSE(v.find_queue("q"));
  EXPECT_TRUE(q->closed());
  EXPECT_EQ(c.cancelled, 1);
  EXPECT_FALSE(v.find_exchange("amq.direct")->has_bindings());
  EXPECT_EQ(publish("amq.direct", "k").queues, 0u);
}

TEST_F(VHostTest, PurgeQueue) {
  uint64_t n = 0;
  Error e = v.purge_queue("q", kConn, now, n);
  EXPECT_EQ(e.text(), "NOT_FOUND - no queue 'q' in vhost '/'");
  ASSERT_FALSE(declare_queue("q"));
  for (int i = 0; i < 3; ++i) publish("", "q");
  EXPECT_FALSE(v.purge_queue("q", kConn, now, n));
  EXPECT_EQ(n, 3u);
  EXPECT_EQ(v.find_queue("q")->ready_count(), 0u);
}

TEST_F(VHostTest, AutoDeleteQueueGoesWhenItsLastConsumerLeaves) {
  ASSERT_FALSE(declare_queue("q", {}, false, /*auto_delete=*/true));
  QueuePtr q = v.find_queue("q");
  v.advance(now + 1h);
  EXPECT_TRUE(v.find_queue("q"));  // never had a consumer
  FakeConsumer c;
  ASSERT_FALSE(q->add_consumer({&c, "c"}, now));
  q->remove_consumer(&c, now);  // the front end calls the queue directly
  // Deleted once the queue's operation was complete (an effect), not later.
  EXPECT_FALSE(v.find_queue("q"));
  EXPECT_EQ(v.queue_count(), 0u);
  EXPECT_TRUE(q->closed());
  EXPECT_EQ(v.next_deadline(), std::nullopt);
}

TEST_F(VHostTest, AdvanceReapsAutoDeletedQueues) {
  ASSERT_FALSE(declare_queue("q", {}, false, true));
  QueuePtr q = v.find_queue("q");
  FakeConsumer c;
  ASSERT_FALSE(q->add_consumer({&c, "c"}, now));
  q->remove_consumer(&c, now);
  v.advance(now);
  EXPECT_FALSE(v.find_queue("q"));
}

TEST_F(VHostTest, QueueExpiresWhenUnused) {
  ASSERT_FALSE(declare_queue("q", {{"x-expires", 10000}}));
  publish("", "q");  // messages do not keep it alive
  EXPECT_EQ(v.next_deadline(), now + 10s);
  v.advance(now + 5s);
  now += 5s;
  ASSERT_FALSE(declare_queue("q", {{"x-expires", 10000}}));  // a redeclare is use
  EXPECT_EQ(v.next_deadline(), t0 + 15s);
  v.advance(t0 + 14999ms);
  EXPECT_TRUE(v.find_queue("q"));
  v.advance(t0 + 15s);
  EXPECT_FALSE(v.find_queue("q"));
  EXPECT_EQ(v.next_deadline(), std::nullopt);
}

// The vhost keeps an index of queue deadlines instead of scanning queues:
// it must follow every way a queue's next deadline moves.
TEST_F(VHostTest, DeadlineIndexFollowsEveryQueue) {
  for (int i = 0; i < 1000; ++i) ASSERT_FALSE(declare_queue("q" + std::to_string(i), {{"x-message-ttl", 1000 + i}}));
  EXPECT_EQ(v.next_deadline(), std::nullopt);  // nothing queued, nothing to expire
  publish("", "q500");
  publish("", "q7");
  EXPECT_EQ(v.next_deadline(), t0 + 1007ms);
  // Taking q7's only message removes its deadline.
  ASSERT_TRUE(v.find_queue("q7")->get(/*no_ack=*/true, now));
  EXPECT_EQ(v.next_deadline(), t0 + 1500ms);
  // A queue that goes away takes its deadline with it.
  uint64_t n = 0;
  ASSERT_FALSE(v.delete_queue("q500", false, false, kConn, now, n));
  EXPECT_EQ(v.next_deadline(), std::nullopt);
  // x-expires counts from declaration even if nothing else happens.
  ASSERT_FALSE(declare_queue("idle", {{"x-expires", 2000}}));
  EXPECT_EQ(v.next_deadline(), t0 + 2s);
  v.advance(t0 + 2s);
  EXPECT_FALSE(v.find_queue("idle"));
  EXPECT_EQ(v.next_deadline(), std::nullopt);
}

TEST_F(VHostTest, AdvanceExpiresMessagesInEveryQueue) {
  ASSERT_FALSE(declare_queue("a", {{"x-message-ttl", 100}}));
  ASSERT_FALSE(declare_queue("b", {{"x-message-ttl", 300}}));
  publish("", "a");
  publish("", "b");
  EXPECT_EQ(v.next_deadline(), t0 + 100ms);
  v.advance(t0 + 100ms);
  EXPECT_EQ(v.find_queue("a")->ready_count(), 0u);
  EXPECT_EQ(v.find_queue("b")->ready_count(), 1u);
  EXPECT_EQ(v.next_deadline(), t0 + 300ms);
}

}  // namespace
}  // namespace warren::broker
