// VHost bindings and publishing: bind/unbind rules, the default exchange,
// exchange-to-exchange routing, alternate exchanges, internal exchanges.
#include <gtest/gtest.h>

#include "broker/test_util.hpp"
#include "broker/vhost.hpp"

namespace warren::broker {
namespace {

using namespace test;

TEST_F(VHostTest, BindChecksBothEnds) {
  ASSERT_FALSE(declare_queue("q"));
  Error e = bind("q", "nope", "k");
  EXPECT_EQ(e.code, ErrorCode::NotFound);
  EXPECT_EQ(e.text(), "NOT_FOUND - no exchange 'nope' in vhost '/'");
  e = bind("nope", "amq.direct", "k");
  EXPECT_EQ(e.code, ErrorCode::NotFound);
  EXPECT_EQ(e.text(), "NOT_FOUND - no queue 'nope' in vhost '/'");
  e = bind("nope", "nope", "k");  // the source is reported first
  EXPECT_EQ(e.text(), "NOT_FOUND - no exchange 'nope' in vhost '/'");
  e = bind("q", "", "q");
  EXPECT_EQ(e.code, ErrorCode::AccessRefused);
  EXPECT_EQ(e.text(), "ACCESS_REFUSED - operation not permitted on the default exchange");
  e = v.bind_exchange("amq.direct", "nope", "k", {});
  EXPECT_EQ(e.text(), "NOT_FOUND - no exchange 'nope' in vhost '/'");
  e = v.bind_exchange("nope", "amq.direct", "k", {});
  EXPECT_EQ(e.text(), "NOT_FOUND - no exchange 'nope' in vhost '/'");
  EXPECT_EQ(v.bind_exchange("", "amq.direct", "k", {}).code, ErrorCode::AccessRefused);
  EXPECT_EQ(v.bind_exchange("amq.direct", "", "k", {}).code, ErrorCode::AccessRefused);
  EXPECT_FALSE(v.find_exchange("amq.direct")->has_bindings());
}

TEST_F(VHostTest, HeadersBindingsNeedAValidXMatch) {
  ASSERT_FALSE(declare_queue("q"));
  Error e = bind("q", "amq.headers", "", {{"x-match", "some"}});
  EXPECT_EQ(e.code, ErrorCode::PreconditionFailed);
  EXPECT_EQ(e.text(),
            "PRECONDITION_FAILED - Invalid x-match field value <<\"some\">>; expected all, any, all-with-x, or "
            "any-with-x");
  e = bind("q", "amq.headers", "", {{"x-match", 1}});
  EXPECT_EQ(e.text(), "PRECONDITION_FAILED - Invalid x-match field type signedint (value 1); expected longstr");
  EXPECT_FALSE(bind("q", "amq.headers", "", {{"x-match", "any-with-x"}}));
  EXPECT_FALSE(bind("q", "amq.direct", "", {{"x-match", "some"}}));  // only headers exchanges care
}

TEST_F(VHostTest, UnbindIsIdempotent) {
  ASSERT_FALSE(declare_queue("q"));
  EXPECT_FALSE(v.unbind_queue("q", "amq.direct", "never-bound", {}, kConn));
  EXPECT_FALSE(v.unbind_queue("q", "missing", "k", {}, kConn));
  EXPECT_FALSE(v.unbind_queue("missing", "amq.direct", "k", {}, kConn));
  EXPECT_FALSE(v.unbind_exchange("missing", "amq.direct", "k", {}));
  EXPECT_EQ(v.unbind_queue("q", "", "q", {}, kConn).code, ErrorCode::AccessRefused);
  EXPECT_EQ(v.unbind_exchange("amq.direct", "", "k", {}).code, ErrorCode::AccessRefused);
}

TEST_F(VHostTest, UnbindingAnotherConnectionsExclusiveQueueIsLocked) {
  ASSERT_FALSE(declare_queue("q", {}, true, false, kConn));
  ASSERT_FALSE(bind("q", "amq.direct", "k"));
  EXPECT_EQ(v.unbind_queue("q", "amq.direct", "k", {}, kOther).code, ErrorCode::ResourceLocked);
  EXPECT_FALSE(v.unbind_queue("q", "amq.direct", "k", {}, kConn));
  EXPECT_FALSE(v.find_exchange("amq.direct")->has_bindings());
}

TEST_F(VHostTest, BindingArgumentsAreMatchedWhateverTheirOrder) {
  ASSERT_FALSE(declare_queue("q"));
  ASSERT_FALSE(bind("q", "amq.headers", "", {{"x-match", "any"}, {"a", 1}}));
  ASSERT_FALSE(bind("q", "amq.headers", "", {{"a", 1}, {"x-match", "any"}}));  // the same binding
  EXPECT_EQ(v.find_exchange("amq.headers")->bindings().size(), 1u);
  EXPECT_FALSE(v.unbind_queue("q", "amq.headers", "", {{"a", 1}, {"x-match", "any"}}, kConn));
  EXPECT_FALSE(v.find_exchange("amq.headers")->has_bindings());
}

TEST_F(VHostTest, PublishErrors) {
  PublishResult r;
  Error e = v.publish("nope", msg("m"), now, r);
  EXPECT_EQ(e.code, ErrorCode::NotFound);
  EXPECT_EQ(e.text(), "NOT_FOUND - no exchange 'nope' in vhost '/'");
  ASSERT_FALSE(declare_exchange("int", "fanout", {}, false, /*internal=*/true));
  e = v.publish("int", msg("m"), now, r);
  EXPECT_EQ(e.code, ErrorCode::AccessRefused);
  EXPECT_EQ(e.text(), "ACCESS_REFUSED - cannot publish to internal exchange 'int' in vhost '/'");
}

// Callers may keep an exchange to publish through without its lookup by
// name (0-9-1 channels do): a removed one says so, however it went.
TEST_F(VHostTest, ARemovedExchangeIsMarkedDeletedAndPublishingThroughOneChecksInternal) {
  ASSERT_FALSE(declare_exchange("x", "fanout"));
  ASSERT_FALSE(declare_exchange("auto", "fanout", {}, /*auto_delete=*/true));
  ASSERT_FALSE(declare_queue("q"));
  ASSERT_FALSE(bind("q", "x", ""));
  ASSERT_FALSE(bind("q", "auto", ""));
  ExchangePtr x = v.find_exchange("x"), autox = v.find_exchange("auto");
  PublishResult r;
  ASSERT_FALSE(v.publish(*x, msg("m"), now, r));
  EXPECT_EQ(r.queues, 1u);
  EXPECT_FALSE(x->deleted());
  ASSERT_FALSE(v.delete_exchange("x", false));
  EXPECT_TRUE(x->deleted());
  uint64_t dropped = 0;
  ASSERT_FALSE(v.delete_queue("q", false, false, kConn, now, dropped));  // takes "auto", its last binding gone
  EXPECT_TRUE(autox->deleted());
  ASSERT_FALSE(declare_exchange("int", "fanout", {}, false, /*internal=*/true));
  Error e = v.publish(*v.find_exchange("int"), msg("m"), now, r);
  EXPECT_EQ(e.text(), "ACCESS_REFUSED - cannot publish to internal exchange 'int' in vhost '/'");
}

TEST_F(VHostTest, TheDefaultExchangeRoutesByQueueName) {
  ASSERT_FALSE(declare_queue("orders"));
  EXPECT_EQ(publish("", "orders", "o1").queues, 1u);
  EXPECT_EQ(publish("", "nobody", "lost").queues, 0u);
  EXPECT_EQ(take("orders"), (Texts{"o1"}));
}

TEST_F(VHostTest, PublishingToAnotherConnectionsExclusiveQueueIsAllowed) {
  ASSERT_FALSE(declare_queue("q", {}, true, false, kOther));
  EXPECT_EQ(publish("", "q").queues, 1u);
}

TEST_F(VHostTest, EachQueueGetsAMessageOnceHoweverItIsBound) {
  ASSERT_FALSE(declare_queue("q"));
  ASSERT_FALSE(declare_exchange("x", "topic"));
  ASSERT_FALSE(bind("q", "x", "a.*"));
  ASSERT_FALSE(bind("q", "x", "#"));
  ASSERT_FALSE(bind("q", "x", "a.b"));
  PublishResult r = publish("x", "a.b");
  EXPECT_EQ(r.queues, 1u);
  EXPECT_FALSE(r.rejected);
  EXPECT_EQ(take("q"), (Texts{"m"}));
}

TEST_F(VHostTest, ManyQueuesEachOnce) {
  ASSERT_FALSE(declare_exchange("f", "fanout"));
  ASSERT_FALSE(declare_exchange("g", "fanout"));
  ASSERT_FALSE(v.bind_exchange("g", "f", "", {}));
  for (int i = 0; i < 40; ++i) {
    std::string name = "q" + std::to_string(i);
    ASSERT_FALSE(declare_queue(name));
    ASSERT_FALSE(bind(name, "f"));
    ASSERT_FALSE(bind(name, "g"));
  }
  EXPECT_EQ(publish("f", "").queues, 40u);
  for (int i = 0; i < 40; ++i) EXPECT_EQ(take("q" + std::to_string(i)), (Texts{"m"}));
}

TEST_F(VHostTest, ExchangeToExchangeBindingsRouteThrough) {
  ASSERT_FALSE(declare_exchange("front", "topic"));
  ASSERT_FALSE(declare_exchange("back", "direct", {}, false, /*internal=*/true));
  ASSERT_FALSE(declare_queue("q"));
  ASSERT_FALSE(v.bind_exchange("back", "front", "orders.#", {}));
  ASSERT_FALSE(bind("q", "back", "orders.new"));
  EXPECT_EQ(publish("front", "orders.new", "yes").queues, 1u);
  EXPECT_EQ(publish("front", "orders.old", "no").queues, 0u);
  EXPECT_EQ(publish("front", "other", "no").queues, 0u);
  EXPECT_EQ(take("q"), (Texts{"yes"}));
  EXPECT_FALSE(v.unbind_exchange("back", "front", "orders.#", {}));
  EXPECT_EQ(publish("front", "orders.new").queues, 0u);
}

TEST_F(VHostTest, ExchangeCyclesVisitEachExchangeOnce) {
  ASSERT_FALSE(declare_exchange("a", "fanout"));
  ASSERT_FALSE(declare_exchange("b", "fanout"));
  ASSERT_FALSE(declare_queue("qa"));
  ASSERT_FALSE(declare_queue("qb"));
  ASSERT_FALSE(v.bind_exchange("b", "a", "", {}));
  ASSERT_FALSE(v.bind_exchange("a", "b", "", {}));
  ASSERT_FALSE(v.bind_exchange("a", "a", "", {}));
  ASSERT_FALSE(bind("qa", "a"));
  ASSERT_FALSE(bind("qb", "b"));
  EXPECT_EQ(publish("a", "").queues, 2u);
  EXPECT_EQ(publish("b", "").queues, 2u);
  EXPECT_EQ(take("qa"), (Texts{"m", "m"}));
  EXPECT_EQ(take("qb"), (Texts{"m", "m"}));
}

TEST_F(VHostTest, UnroutableMessagesGoToTheAlternateExchange) {
  ASSERT_FALSE(declare_exchange("ae", "fanout"));
  ASSERT_FALSE(declare_exchange("x", "direct", {{"alternate-exchange", "ae"}}));
  ASSERT_FALSE(declare_queue("routed"));
  ASSERT_FALSE(declare_queue("unrouted"));
  ASSERT_FALSE(bind("routed", "x", "k"));
  ASSERT_FALSE(bind("unrouted", "ae"));
  EXPECT_EQ(publish("x", "k", "normal").queues, 1u);
  EXPECT_EQ(publish("x", "other", "stray").queues, 1u);
  EXPECT_EQ(take("routed"), (Texts{"normal"}));
  EXPECT_EQ(take("unrouted"), (Texts{"stray"}));
}

TEST_F(VHostTest, AlternateExchangesChainAndCyclesEnd) {
  ASSERT_FALSE(declare_exchange("x", "direct", {{"alternate-exchange", "ae1"}}));
  ASSERT_FALSE(declare_exchange("ae1", "direct", {{"alternate-exchange", "ae2"}}));
  ASSERT_FALSE(declare_exchange("ae2", "direct", {{"alternate-exchange", "x"}}));
  ASSERT_FALSE(declare_queue("q"));
  EXPECT_EQ(publish("x", "k").queues, 0u);  // x -> ae1 -> ae2 -> (x, seen): nowhere
  ASSERT_FALSE(bind("q", "ae2", "k"));
  EXPECT_EQ(publish("x", "k", "caught").queues, 1u);
  EXPECT_EQ(take("q"), (Texts{"caught"}));
}

TEST_F(VHostTest, AMissingAlternateExchangeIsIgnored) {
  ASSERT_FALSE(declare_exchange("x", "direct", {{"alternate-exchange", "not-yet"}}));
  EXPECT_EQ(publish("x", "k").queues, 0u);
  ASSERT_FALSE(declare_exchange("not-yet", "fanout"));
  ASSERT_FALSE(declare_queue("q"));
  ASSERT_FALSE(bind("q", "not-yet"));
  EXPECT_EQ(publish("x", "k").queues, 1u);
}

TEST_F(VHostTest, TheAlternateIsUsedOnlyWhenTheExchangeItselfRoutesNowhere) {
  // x routes to exchange y, which routes nowhere: x did route, so x's
  // alternate is not used (RabbitMQ decides per exchange).
  ASSERT_FALSE(declare_exchange("ae", "fanout"));
  ASSERT_FALSE(declare_exchange("x", "fanout", {{"alternate-exchange", "ae"}}));
  ASSERT_FALSE(declare_exchange("y", "direct"));
  ASSERT_FALSE(declare_queue("q"));
  ASSERT_FALSE(bind("q", "ae"));
  ASSERT_FALSE(v.bind_exchange("y", "x", "", {}));
  EXPECT_EQ(publish("x", "k").queues, 0u);
  // An exchange reached through a binding uses its own alternate.
  ASSERT_FALSE(declare_exchange("z", "direct", {{"alternate-exchange", "ae"}}));
  ASSERT_FALSE(v.bind_exchange("z", "x", "", {}));
  EXPECT_EQ(publish("x", "k").queues, 1u);
}

TEST_F(VHostTest, InternalExchangesStillReceiveThroughBindingsAndAsAlternates) {
  ASSERT_FALSE(declare_exchange("hidden", "fanout", {}, false, true));
  ASSERT_FALSE(declare_exchange("x", "direct", {{"alternate-exchange", "hidden"}}));
  ASSERT_FALSE(declare_queue("q"));
  ASSERT_FALSE(bind("q", "hidden"));
  EXPECT_EQ(publish("x", "k").queues, 1u);
}

TEST_F(VHostTest, RejectPublishIsReportedToThePublisher) {
  ASSERT_FALSE(declare_queue("full", {{"x-max-length", 0}, {"x-overflow", "reject-publish"}}));
  ASSERT_FALSE(declare_queue("fine"));
  ASSERT_FALSE(bind("full", "amq.fanout"));
  ASSERT_FALSE(bind("fine", "amq.fanout"));
  PublishResult r = publish("amq.fanout", "");
  EXPECT_EQ(r.queues, 2u);
  EXPECT_TRUE(r.rejected);
  EXPECT_EQ(take("fine"), (Texts{"m"}));
  r = publish("", "fine");
  EXPECT_FALSE(r.rejected);
}

TEST_F(VHostTest, DeletingAQueueWhileItsConsumerIsServedIsSafe) {
  ASSERT_FALSE(declare_queue("q"));
  QueuePtr q = v.find_queue("q");
  FakeConsumer c;
  uint64_t n = 0;
  c.on_deliver = [&](const Delivery&) { v.delete_queue("q", false, false, kConn, now, n); };
  ASSERT_FALSE(q->add_consumer({&c, "c"}, now));
  publish("", "q", "a");
  publish("", "q", "b");  // the queue is gone: unroutable
  EXPECT_EQ(c.texts(), (Texts{"a"}));
  EXPECT_EQ(c.cancelled, 1);
  EXPECT_FALSE(v.find_queue("q"));
}

}  // namespace
}  // namespace warren::broker

namespace warren::broker {
namespace {

using namespace test;

// A publisher's RouteCache is used while nothing that routes changed, and
// recomputed after anything did.
class RouteCacheTest : public VHostTest {
 protected:
  RouteCache cache;
  size_t send(std::string exchange, std::string key, Properties props = {}) {
    PublishResult r;
    ExchangePtr x = v.find_exchange(exchange);
    EXPECT_TRUE(x) << exchange;
    Error e = v.publish(*x, msg("m", std::move(key), std::move(props), exchange), now, r, &cache);
    EXPECT_FALSE(e) << e.text();
    return r.queues;
  }
  uint64_t deleted = 0;
};

TEST_F(RouteCacheTest, TheDefaultExchangeSeesQueuesComeAndGo) {
  EXPECT_EQ(send("", "q"), 0u);
  ASSERT_FALSE(declare_queue("q"));
  EXPECT_EQ(send("", "q"), 1u);
  EXPECT_EQ(send("", "q"), 1u);  // from the cache
  EXPECT_EQ(cache.queues.size(), 1u);
  EXPECT_EQ(take("q"), (Texts{"m", "m"}));
  ASSERT_FALSE(v.delete_queue("q", false, false, kConn, now, deleted));
  EXPECT_EQ(send("", "q"), 0u);
  EXPECT_EQ(send("", "other"), 0u);  // another key: computed
}

TEST_F(RouteCacheTest, BindingsAndUnbindingsAndDeletions) {
  ASSERT_FALSE(declare_exchange("x", "direct"));
  ASSERT_FALSE(declare_queue("a"));
  ASSERT_FALSE(declare_queue("b"));
  EXPECT_EQ(send("x", "k"), 0u);
  ASSERT_FALSE(bind("a", "x", "k"));
  EXPECT_EQ(send("x", "k"), 1u);
  ASSERT_FALSE(bind("b", "x", "k"));
  EXPECT_EQ(send("x", "k"), 2u);
  ASSERT_FALSE(v.unbind_queue("a", "x", "k", {}, kConn));
  EXPECT_EQ(send("x", "k"), 1u);
  ASSERT_FALSE(v.delete_queue("b", false, false, kConn, now, deleted));
  EXPECT_EQ(send("x", "k"), 0u);
  // Through another exchange, bound and unbound.
  ASSERT_FALSE(bind("a", "x", "k"));
  ASSERT_FALSE(declare_exchange("front", "fanout"));
  EXPECT_EQ(send("front", "k"), 0u);
  ASSERT_FALSE(v.bind_exchange("x", "front", "", {}));
  EXPECT_EQ(send("front", "k"), 1u);
  ASSERT_FALSE(v.unbind_exchange("x", "front", "", {}));
  EXPECT_EQ(send("front", "k"), 0u);
  ASSERT_FALSE(v.bind_exchange("x", "front", "", {}));
  EXPECT_EQ(send("front", "k"), 1u);
  ASSERT_FALSE(v.delete_exchange("x", false));
  EXPECT_EQ(send("front", "k"), 0u);
  EXPECT_EQ(take("a"), (Texts{"m", "m", "m", "m"}));
}

TEST_F(RouteCacheTest, ExclusiveQueuesGoWithTheirConnection) {
  ASSERT_FALSE(declare_queue("mine", {}, /*exclusive=*/true, false, kOther));
  EXPECT_EQ(send("", "mine"), 1u);
  v.connection_closed(kOther, now);
  EXPECT_EQ(send("", "mine"), 0u);
}

TEST_F(RouteCacheTest, AHeadersExchangeRouteIsNeverReused) {
  ASSERT_FALSE(declare_queue("q"));
  ASSERT_FALSE(bind("q", "amq.headers", "", {{"x-match", "all"}, {"a", 1}}));
  Properties match;
  match.headers = Table{{"a", 1}};
  EXPECT_EQ(send("amq.headers", "k", match), 1u);
  EXPECT_EQ(send("amq.headers", "k"), 0u);  // same key, no headers
  EXPECT_EQ(send("amq.headers", "k", match), 1u);
}

}  // namespace
}  // namespace warren::broker
