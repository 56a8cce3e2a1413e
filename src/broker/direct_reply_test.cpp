// Direct reply-to in the core: the registry's names, VHost::publish handing
// replies to receivers (default exchange only, no queue involved), and the
// pseudo-queue names in queue.declare.
#include <gtest/gtest.h>

#include <set>

#include "broker/direct_reply.hpp"
#include "broker/test_util.hpp"
#include "broker/vhost.hpp"

namespace warren::broker {
namespace {

using namespace test;

class FakeReceiver final : public ReplyReceiver {
 public:
  bool deliver_reply(const MessagePtr& m) override {
    if (!accepting) return false;
    got.push_back(m);
    return true;
  }
  std::vector<MessagePtr> got;
  bool accepting = true;
};

TEST(DirectReplyRegistryTest, NamesAreFreshRandomAndFound) {
  SeededEnv env;
  DirectReplyRegistry reg{env};
  FakeReceiver a, b;
  std::set<std::string> names;
  for (int i = 0; i < 100; ++i) {
    std::string n = reg.add(i % 2 ? a : b);
    ASSERT_TRUE(n.starts_with("amq.rabbitmq.reply-to.")) << n;
    EXPECT_EQ(n.size(), std::string_view("amq.rabbitmq.reply-to.").size() + 22) << n;  // 128 bits, base64url
    EXPECT_TRUE(names.insert(n).second) << n;
    EXPECT_EQ(reg.find(n), i % 2 ? &a : &b);
  }
  EXPECT_EQ(reg.size(), 100u);
  for (const std::string& n : names) reg.remove(n);
  EXPECT_EQ(reg.size(), 0u);
  EXPECT_EQ(reg.find(*names.begin()), nullptr);
  reg.remove("amq.rabbitmq.reply-to.never-there");  // harmless
}

class DirectReplyVHostTest : public VHostTest {
 protected:
  FakeReceiver requester;
  std::string name = v.direct_reply().add(requester);
};

TEST_F(DirectReplyVHostTest, AReplyGoesStraightToTheReceiverVerbatim) {
  Properties p;
  p.correlation_id = "c1";
  p.headers = Table{{"h", 1}};
  MessagePtr reply = msg("answer", name, p, "");
  PublishResult r;
  ASSERT_FALSE(v.publish("", reply, now, r));
  EXPECT_EQ(r.queues, 0u);  // no queue: RabbitMQ counts none either
  EXPECT_EQ(r.replies, 1u);
  ASSERT_EQ(requester.got.size(), 1u);
  EXPECT_EQ(requester.got[0], reply);  // the very message: properties reach the requester unchanged
}

TEST_F(DirectReplyVHostTest, AGoneOrUnknownNameRoutesNowhere) {
  v.direct_reply().remove(name);
  PublishResult r = publish("", name, "late");
  EXPECT_EQ(r.queues + r.replies, 0u);
  r = publish("", "amq.rabbitmq.reply-to.AAAAAAAAAAAAAAAAAAAAAA", "guess");
  EXPECT_EQ(r.queues + r.replies, 0u);
  r = publish("", "amq.rabbitmq.reply-to", "the pseudo-queue itself is not a destination");
  EXPECT_EQ(r.queues + r.replies, 0u);
  EXPECT_TRUE(requester.got.empty());
}

TEST_F(DirectReplyVHostTest, AReceiverThatRefusesCountsAsNotRouted) {
  requester.accepting = false;
  PublishResult r = publish("", name, "closing");
  EXPECT_EQ(r.replies, 0u);
}

TEST_F(DirectReplyVHostTest, OnlyTheDefaultExchangeKnowsReplyNames) {
  ASSERT_FALSE(declare_queue("q"));
  ASSERT_FALSE(bind("q", "amq.direct", name));
  PublishResult r = publish("amq.direct", name, "bound by name");
  EXPECT_EQ(r.queues, 1u);
  EXPECT_EQ(r.replies, 0u);
  EXPECT_TRUE(requester.got.empty());
  EXPECT_EQ(take("q"), (Texts{"bound by name"}));
}

TEST_F(DirectReplyVHostTest, CCAndBCCKeysReachReceiversOnceEach) {
  ASSERT_FALSE(declare_queue("q"));
  FakeReceiver other;
  std::string other_name = v.direct_reply().add(other);
  Properties p;
  p.headers = Table{{"CC", Array{name, "q"}}, {"BCC", Array{other_name, name}}};
  PublishResult r = publish("", name, "fan", p);
  EXPECT_EQ(r.queues, 1u);
  EXPECT_EQ(r.replies, 2u);
  ASSERT_EQ(requester.got.size(), 1u);
  ASSERT_EQ(other.got.size(), 1u);
  ASSERT_TRUE(other.got[0]->properties().headers);
  EXPECT_EQ(find(*other.got[0]->properties().headers, "BCC"), nullptr);  // BCC never reaches a consumer
  EXPECT_EQ(take("q"), (Texts{"fan"}));
}

TEST_F(DirectReplyVHostTest, DeclaringThePseudoQueueIsAlwaysPassive) {
  for (bool passive : {false, true}) {
    QueueDeclareOk ok;
    QueueDeclare d{"amq.rabbitmq.reply-to", passive, true, true, false, {}, kConn};
    ASSERT_FALSE(v.declare_queue(d, now, ok));
    EXPECT_EQ(ok.name, "amq.rabbitmq.reply-to");
    EXPECT_EQ(ok.message_count, 0u);
    EXPECT_EQ(ok.consumer_count, 1u);  // rabbit_channel: "if it exists it by definition has one consumer"
    d.name = name;
    ASSERT_FALSE(v.declare_queue(d, now, ok));
    EXPECT_EQ(ok.name, name);
    EXPECT_EQ(ok.consumer_count, 1u);
  }
  EXPECT_EQ(v.queue_count(), 0u);  // nothing was created
  QueueDeclareOk ok;
  v.direct_reply().remove(name);
  for (std::string gone : {name, std::string("amq.rabbitmq.reply-to.nope"), std::string("amq.rabbitmq.reply-tox")}) {
    Error e = v.declare_queue(QueueDeclare{gone, true, false, false, false, {}, kConn}, now, ok);
    EXPECT_EQ(e.code, ErrorCode::NotFound) << gone;
    EXPECT_EQ(e.text(), "NOT_FOUND - no queue '" + gone + "' in vhost '/'");
  }
}

}  // namespace
}  // namespace warren::broker
