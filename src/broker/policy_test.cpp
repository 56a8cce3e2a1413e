// Policies: validation with RabbitMQ's texts, how a policy merges with a
// queue's own arguments, and that changes apply at once to live queues.
#include "broker/policy.hpp"

#include <gtest/gtest.h>

#include "broker/test_util.hpp"
#include "broker/vhost.hpp"

namespace warren::broker {
namespace {

using namespace test;
using namespace std::chrono_literals;

Policy policy(std::string name, std::string pattern, Table def, int priority = 0, std::string apply_to = "all") {
  return Policy{std::move(name), std::move(pattern), std::move(apply_to), priority, std::move(def)};
}

TEST(Policy, ValidationSpeaksRabbitMqs) {
  EXPECT_FALSE(validate_policy(policy("p", "^q", {{"max-length", 10}, {"ha-mode", "all"}})));
  Error e = validate_policy(policy("p", "^q", {{"max-priority", 10}}));
  EXPECT_EQ(e.code, ErrorCode::PreconditionFailed);
  EXPECT_EQ(e.detail, "Validation failed\n\n[<<\"max-priority\">>] are not recognised policy settings\n");
  EXPECT_TRUE(validate_policy(policy("p", "(", {{"max-length", 1}})));
  EXPECT_TRUE(validate_policy(policy("p", ".*", {{"max-length", -1}})));
  EXPECT_TRUE(validate_policy(policy("p", ".*", {{"expires", 0}})));
  EXPECT_TRUE(validate_policy(policy("p", ".*", {{"overflow", "drop-tail"}})));
  EXPECT_TRUE(validate_policy(policy("p", ".*", {{"dead-letter-exchange", 5}})));
  EXPECT_TRUE(validate_policy(policy("p", ".*", {{"max-length", 1}}, 0, "bindings")));
  EXPECT_TRUE(validate_policy(policy("p", ".*", {})));
}

TEST(Policy, NumericLimitsTakeTheSmallerTheRestTheQueuesArgument) {
  Error err;
  const Table raw{{"x-max-length", 100}, {"x-message-ttl", 5000}, {"x-dead-letter-exchange", "mine"}};
  QueueArgs declared = QueueArgs::parse(raw, err);
  ASSERT_FALSE(err);
  QueueArgs a = merge_policy(declared, raw,
                             {{"max-length", 10}, {"message-ttl", 60000}, {"dead-letter-exchange", "theirs"},
                              {"dead-letter-routing-key", "k"}, {"overflow", "reject-publish"}, {"expires", 1000}});
  EXPECT_EQ(a.max_length, 10u);                       // the policy's is smaller
  EXPECT_EQ(a.message_ttl, Duration(5000ms));         // the argument's is smaller
  EXPECT_EQ(a.dead_letter_exchange, "mine");          // the argument wins
  EXPECT_EQ(a.dead_letter_routing_key, "k");          // no argument: the policy's
  EXPECT_EQ(a.overflow, Overflow::RejectPublish);
  EXPECT_EQ(a.expires, Duration(1000ms));
}

TEST(Policy, HighestPriorityThenFirstNameAndApplyTo) {
  PolicySet s;
  s.set(policy("b", "^orders", {{"max-length", 1}}, 5));
  s.set(policy("a", "^orders", {{"max-length", 2}}, 5));
  s.set(policy("low", ".*", {{"max-length", 3}}, 1));
  s.set(policy("x-only", ".*", {{"alternate-exchange", "ae"}}, 9, "exchanges"));
  EXPECT_EQ(s.match("orders.eu", true)->name, "a");
  EXPECT_EQ(s.match("invoices", true)->name, "low");
  EXPECT_EQ(s.match("invoices", false)->name, "x-only");
  EXPECT_TRUE(s.clear("x-only"));
  EXPECT_FALSE(s.clear("x-only"));
  EXPECT_EQ(s.match("invoices", false)->name, "low");
}

TEST_F(VHostTest, APolicyAppliesAtOnceAndGoesAway) {
  ASSERT_FALSE(declare_queue("orders"));
  for (int i = 0; i < 5; ++i) publish("", "orders", "m" + std::to_string(i));
  ASSERT_FALSE(v.set_policy(policy("cap", "^orders$", {{"max-length", 2}}), now));
  QueuePtr q = v.find_queue("orders");
  EXPECT_EQ(q->ready_count(), 2u);  // drop-head, now
  EXPECT_EQ(q->policy_name(), "cap");
  EXPECT_EQ(take("orders"), (Texts{"m3", "m4"}));
  ASSERT_TRUE(v.clear_policy("cap", now));
  EXPECT_EQ(q->policy_name(), "");
  for (int i = 0; i < 5; ++i) publish("", "orders", "n");
  EXPECT_EQ(q->ready_count(), 5u);  // back to as declared: no limit
  EXPECT_FALSE(v.clear_policy("cap", now));
}

TEST_F(VHostTest, QueuesDeclaredLaterTakeThePolicy) {
  ASSERT_FALSE(v.set_policy(policy("dlx", "^work\\.", {{"dead-letter-exchange", "amq.fanout"}}, 0, "queues"), now));
  ASSERT_FALSE(declare_queue("work.a"));
  ASSERT_FALSE(declare_queue("dead"));
  ASSERT_FALSE(bind("dead", "amq.fanout"));
  publish("", "work.a", "rejected-one");
  QueuePtr q = v.find_queue("work.a");
  std::optional<Delivery> d = q->get(false, now);
  ASSERT_TRUE(d);
  q->settle(d->seq, Outcome::Rejected, now);
  EXPECT_EQ(take("dead"), Texts{"rejected-one"});
  EXPECT_EQ(v.find_queue("dead")->policy_name(), "");
}

TEST_F(VHostTest, AnExchangePolicyGivesAnAlternateExchangeUnlessItHasOne) {
  ASSERT_FALSE(declare_exchange("in"));
  ASSERT_FALSE(declare_exchange("own-ae", "direct", {{"alternate-exchange", "amq.direct"}}));
  ASSERT_FALSE(declare_queue("unrouted"));
  ASSERT_FALSE(bind("unrouted", "amq.fanout"));
  ASSERT_FALSE(v.set_policy(policy("ae", "^(in|own-ae)$", {{"alternate-exchange", "amq.fanout"}}, 0, "exchanges"), now));
  EXPECT_EQ(publish("in", "nowhere").queues, 1u);
  EXPECT_EQ(publish("own-ae", "nowhere").queues, 0u);  // its argument wins: amq.direct, unbound
  ASSERT_TRUE(v.clear_policy("ae", now));
  EXPECT_EQ(publish("in", "nowhere").queues, 0u);  // the cached route went with the policy
}

TEST_F(VHostTest, AnInvalidPolicyChangesNothing) {
  ASSERT_FALSE(declare_queue("q"));
  EXPECT_TRUE(v.set_policy(policy("p", ".*", {{"max-priority", 5}}), now));
  EXPECT_TRUE(v.policies().empty());
  EXPECT_EQ(v.find_queue("q")->policy_name(), "");
}

}  // namespace
}  // namespace warren::broker
