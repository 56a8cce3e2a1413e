// Sender-selected distribution (RabbitMQ's CC and BCC headers): the keys in
// them are routing keys too, BCC never reaches a consumer, and a publish
// without them never has its properties decoded for routing.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <tuple>

#include "broker/test_util.hpp"
#include "broker/vhost.hpp"

namespace warren::broker {
namespace {

using namespace test;

Value keys(std::initializer_list<const char*> ks) {
  Array a;
  for (const char* k : ks) a.emplace_back(k);
  return Value(std::move(a));
}

class SenderSelectedTest : public VHostTest {
 protected:
  // Queues "a", "b", "c" bound to amq.direct with their own names.
  void SetUp() override {
    for (const char* q : {"a", "b", "c"}) {
      ASSERT_FALSE(declare_queue(q));
      ASSERT_FALSE(bind(q, "amq.direct", q));
    }
  }
  PublishResult publish_with(std::string exchange, std::string key, Table headers, std::string text = "m") {
    Properties p;
    p.headers = std::move(headers);
    return publish(std::move(exchange), std::move(key), std::move(text), std::move(p));
  }
  MessagePtr head(std::string_view queue) {
    auto d = v.find_queue(queue)->get(true, now);
    return d ? d->message : nullptr;
  }
};

TEST_F(SenderSelectedTest, CCKeysRouteAndTheHeaderStays) {
  PublishResult r = publish_with("amq.direct", "a", {{"CC", keys({"b"})}, {"other", 1}});
  EXPECT_EQ(r.queues, 2u);
  EXPECT_EQ(r.rewritten, nullptr);  // CC alone does not change the message
  MessagePtr m = head("b");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->routing_key(), "a");  // delivered with the key it was published with
  ASSERT_TRUE(m->properties().headers);
  EXPECT_EQ(*m->properties().headers, (Table{{"CC", keys({"b"})}, {"other", 1}}));
  EXPECT_EQ(take("a"), (Texts{"m"}));
  EXPECT_EQ(take("c"), Texts{});
}

TEST_F(SenderSelectedTest, BCCKeysRouteAndTheHeaderIsRemoved) {
  PublishResult r = publish_with("amq.direct", "a", {{"BCC", keys({"c"})}, {"CC", keys({"b"})}, {"x", "y"}});
  EXPECT_EQ(r.queues, 3u);
  ASSERT_TRUE(r.rewritten);
  for (const char* q : {"a", "b", "c"}) {
    MessagePtr m = head(q);
    ASSERT_TRUE(m) << q;
    EXPECT_EQ(m, r.rewritten) << "one message shared by every queue";
    EXPECT_EQ(*m->properties().headers, (Table{{"CC", keys({"b"})}, {"x", "y"}})) << q;
    EXPECT_EQ(m->routing_key(), "a");
  }
  // A BCC that was the only header leaves an empty table, as in RabbitMQ.
  r = publish_with("amq.direct", "nowhere", {{"BCC", keys({"a"})}});
  EXPECT_EQ(r.queues, 1u);
  MessagePtr m = head("a");
  ASSERT_TRUE(m && m->properties().headers);
  EXPECT_TRUE(m->properties().headers->empty());
}

TEST_F(SenderSelectedTest, EachQueueOnceAndNonStringsIgnored) {
  Array mixed{Value("a"), Value(7), Value("b"), Value("a"), Value(Binary{"c"})};
  PublishResult r = publish_with("amq.direct", "a", {{"CC", Value(mixed)}, {"BCC", keys({"b", "a"})}});
  EXPECT_EQ(r.queues, 2u);
  EXPECT_EQ(take("a"), (Texts{"m"}));
  EXPECT_EQ(take("b"), (Texts{"m"}));
  EXPECT_EQ(take("c"), Texts{});  // a byte array is not a longstr
}

TEST_F(SenderSelectedTest, AHeaderThatIsNotAnArrayIsRefused) {
  for (auto [name, value, type] : {std::tuple{"CC", Value("b"), "longstr"}, std::tuple{"BCC", Value(3), "signedint"},
                                   std::tuple{"CC", Value(Table{}), "table"}}) {
    Properties p;
    p.headers = Table{{name, value}};
    PublishResult r;
    Error e = v.publish("amq.direct", msg("m", "a", p), now, r);
    EXPECT_EQ(e.code, ErrorCode::PreconditionFailed);
    EXPECT_EQ(e.text(), fmt::format("PRECONDITION_FAILED - invalid message: {{unacceptable_type_in_header,\"{}\",{}}}",
                                  name, type));
    EXPECT_EQ(r.queues, 0u);
  }
  EXPECT_EQ(take("a"), Texts{});
  // The exchange is checked first, as RabbitMQ does.
  Properties p;
  p.headers = Table{{"CC", Value("b")}};
  PublishResult r;
  EXPECT_EQ(v.publish("nope", msg("m", "a", p), now, r).code, ErrorCode::NotFound);
}

TEST_F(SenderSelectedTest, TopicDefaultAndExchangeToExchangeRouteEveryKey) {
  ASSERT_FALSE(declare_exchange("t", "topic"));
  ASSERT_FALSE(bind("a", "t", "log.*"));
  ASSERT_FALSE(bind("b", "t", "audit.#"));
  EXPECT_EQ(publish_with("t", "log.info", {{"CC", keys({"audit.x.y", "none"})}}).queues, 2u);
  EXPECT_EQ(take("a"), (Texts{"m"}));
  EXPECT_EQ(take("b"), (Texts{"m"}));

  EXPECT_EQ(publish_with("", "a", {{"CC", keys({"c", "missing"})}}).queues, 2u);
  EXPECT_EQ(take("a"), (Texts{"m"}));
  EXPECT_EQ(take("c"), (Texts{"m"}));

  // Through an exchange-to-exchange binding into a direct exchange.
  ASSERT_FALSE(declare_exchange("front", "fanout"));
  ASSERT_FALSE(v.bind_exchange("amq.direct", "front", "", {}));
  EXPECT_EQ(publish_with("front", "a", {{"BCC", keys({"b"})}}).queues, 2u);
  EXPECT_EQ(take("a"), (Texts{"m"}));
  EXPECT_EQ(take("b"), (Texts{"m"}));
}

TEST_F(SenderSelectedTest, FanoutAndHeadersExchangesIgnoreTheKeys) {
  ASSERT_FALSE(declare_exchange("f", "fanout"));
  ASSERT_FALSE(bind("a", "f"));
  EXPECT_EQ(publish_with("f", "", {{"CC", keys({"b", "c"})}}).queues, 1u);
  EXPECT_EQ(take("a"), (Texts{"m"}));
  EXPECT_EQ(take("b"), Texts{});
}

TEST_F(SenderSelectedTest, CCMakesAMandatoryPublishRoutable) {
  EXPECT_EQ(publish_with("amq.direct", "unbound", {{"CC", keys({"c"})}}).queues, 1u);
  EXPECT_EQ(publish_with("amq.direct", "unbound", {{"CC", keys({"unbound2"})}}).queues, 0u);
}

TEST_F(SenderSelectedTest, DeadLetteringKeepsTheCCKeysUnlessARoutingKeyReplacesThem) {
  ASSERT_FALSE(declare_queue("w1", {{"x-dead-letter-exchange", "amq.direct"}}));
  ASSERT_FALSE(declare_queue("w2", {{"x-dead-letter-exchange", "amq.direct"}, {"x-dead-letter-routing-key", "c"}}));
  auto reject_head = [&](std::string_view name) {
    QueuePtr q = v.find_queue(name);
    auto d = q->get(false, now);
    ASSERT_TRUE(d);
    q->settle(d->seq, Outcome::Rejected, now);
  };
  // w1 (no dead-letter routing key): republished with its key and its CC
  // key, as RabbitMQ does; "w1" is bound to nothing, "b" gets it.
  EXPECT_EQ(publish_with("", "w1", {{"CC", keys({"b"})}}, "one").queues, 2u);
  EXPECT_EQ(take("b"), (Texts{"one"}));
  reject_head("w1");
  EXPECT_EQ(take("b"), (Texts{"one"}));
  // w2: only the dead-letter routing key, and the CC header is gone.
  EXPECT_EQ(publish_with("", "w2", {{"CC", keys({"b"})}}, "two").queues, 2u);
  EXPECT_EQ(take("b"), (Texts{"two"}));
  reject_head("w2");
  EXPECT_EQ(take("b"), Texts{});
  MessagePtr m = head("c");
  ASSERT_TRUE(m);
  EXPECT_EQ(text_of(m), "two");
  EXPECT_EQ(find(*m->properties().headers, "CC"), nullptr);
}

// A codec that counts decodes; its messages carry headers only when the
// front end says so through the essentials.
class CountingCodec : public PropertyCodec {
 public:
  Properties decode(std::string_view) const override {
    ++calls;
    Properties p;
    p.headers = Table{{"CC", keys({"b"})}};
    return p;
  }
  mutable int calls = 0;
};

TEST_F(SenderSelectedTest, OnlyMessagesFlaggedByTheFrontEndAreDecoded) {
  CountingCodec codec;
  PublishResult r;
  Message::Essentials plain;
  ASSERT_FALSE(v.publish("amq.direct", Message::received("amq.direct", "a", &codec, "raw", plain, body("1")), now, r));
  EXPECT_EQ(codec.calls, 0);
  EXPECT_EQ(r.queues, 1u);
  Message::Essentials flagged;
  flagged.sender_selected = true;
  ASSERT_FALSE(v.publish("amq.direct", Message::received("amq.direct", "a", &codec, "raw", flagged, body("2")), now, r));
  EXPECT_EQ(codec.calls, 1);
  EXPECT_EQ(r.queues, 2u);
  EXPECT_EQ(take("b"), (Texts{"2"}));
}

TEST(SenderSelected, EssentialsOfNoticesEitherHeader) {
  Properties p;
  EXPECT_FALSE(essentials_of(p).sender_selected);
  p.headers = Table{{"cc", keys({"x"})}};  // header names are case-sensitive
  EXPECT_FALSE(essentials_of(p).sender_selected);
  p.headers = Table{{"BCC", Value("not even an array")}};
  EXPECT_TRUE(essentials_of(p).sender_selected);  // flagged, so that publish can refuse it
  p.headers = Table{{"CC", keys({})}};
  EXPECT_TRUE(essentials_of(p).sender_selected);
}

}  // namespace
}  // namespace warren::broker
