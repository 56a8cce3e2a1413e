// Dead-lettering through a VHost: where the message goes, its x-death
// history as RabbitMQ 3.10 writes it, and the cycles it drops.
#include <gtest/gtest.h>

#include "broker/test_util.hpp"
#include "broker/vhost.hpp"

namespace warren::broker {
namespace {

using namespace test;

class DeadLetterTest : public VHostTest {
 protected:
  // "work" dead-letters to the fanout "dlx", which feeds "dead".
  void SetUp() override {
    ASSERT_FALSE(declare_exchange("dlx", "fanout"));
    ASSERT_FALSE(declare_queue("dead"));
    ASSERT_FALSE(bind("dead", "dlx"));
  }
  void work_queue(Table extra = {}) {
    Table args{{"x-dead-letter-exchange", "dlx"}};
    args.insert(args.end(), extra.begin(), extra.end());
    ASSERT_FALSE(declare_queue("work", args));
  }
  void reject_head(std::string_view queue) {
    QueuePtr q = v.find_queue(queue);
    auto d = q->get(false, now);
    ASSERT_TRUE(d);
    q->settle(d->seq, Outcome::Rejected, now);
  }
  // Takes the head of `queue` (no-ack), or null.
  MessagePtr head(std::string_view queue) {
    QueuePtr q = v.find_queue(queue);
    auto d = q ? q->get(true, now) : std::nullopt;
    return d ? d->message : nullptr;
  }
  MessagePtr dead_message() { return head("dead"); }
  static const Array* deaths(const MessagePtr& m) {
    if (!m || !m->properties().headers) return nullptr;
    const Value* xd = find(*m->properties().headers, "x-death");
    return xd ? xd->as_array() : nullptr;
  }
  // The i-th x-death table (empty when there is none, so a test fails cleanly).
  static const Table& deaths_table(const MessagePtr& m, size_t i) {
    static const Table none;
    const Array* a = deaths(m);
    const Table* t = a && i < a->size() ? (*a)[i].as_table() : nullptr;
    return t ? *t : none;
  }
  static size_t death_count(const MessagePtr& m) {
    const Array* a = deaths(m);
    return a ? a->size() : 0;
  }
  // *find(...) that fails a test instead of crashing on a missing key.
  static Value at(const Table& t, std::string_view key) {
    const Value* v = find(t, key);
    EXPECT_NE(v, nullptr) << "no " << key;
    return v ? *v : Value(Binary{"<missing>"});
  }
};

TEST_F(DeadLetterTest, RejectedMessagesCarryAnXDeathRecord) {
  work_queue();
  Properties p;
  p.headers = Table{{"app", "demo"}};
  p.delivery_mode = 2;
  p.content_type = "text/plain";
  publish("", "work", "hello", p);
  reject_head("work");
  MessagePtr m = dead_message();
  ASSERT_TRUE(m);
  EXPECT_EQ(text_of(m), "hello");
  EXPECT_EQ(m->exchange(), "dlx");
  EXPECT_EQ(m->routing_key(), "work");  // the original key
  EXPECT_TRUE(m->persistent());
  EXPECT_EQ(m->properties().content_type, "text/plain");
  ASSERT_TRUE(m->properties().headers);
  const Table& h = *m->properties().headers;
  // Headers come back sorted by key, as rabbit_misc:set_table_value leaves them.
  std::vector<std::string> keys;
  for (const auto& [k, _] : h) keys.push_back(k);
  EXPECT_EQ(keys, (std::vector<std::string>{"app", "x-death", "x-first-death-exchange", "x-first-death-queue",
                                            "x-first-death-reason"}));
  EXPECT_EQ(at(h, "app"), Value("demo"));
  EXPECT_EQ(at(h, "x-first-death-reason"), Value("rejected"));
  EXPECT_EQ(at(h, "x-first-death-queue"), Value("work"));
  EXPECT_EQ(at(h, "x-first-death-exchange"), Value(""));
  ASSERT_EQ(death_count(m), 1u);
  Table expected{{"count", Value(Int{1, IntKind::I64})},
                 {"reason", "rejected"},
                 {"queue", "work"},
                 {"time", Timestamp{kWallClock}},
                 {"exchange", ""},
                 {"routing-keys", Array{"work"}}};
  EXPECT_EQ(deaths_table(m, 0), expected);
  EXPECT_EQ(type_name(at(deaths_table(m, 0), "count")), "long");
}

TEST_F(DeadLetterTest, TheDeadLetterRoutingKeyReplacesTheKeyAndDropsCC) {
  work_queue({{"x-dead-letter-routing-key", "redirected"}});
  ASSERT_FALSE(declare_queue("by-key"));
  ASSERT_FALSE(declare_exchange("dlx-direct", "direct"));
  // Route through a direct exchange to see the key in use.
  ASSERT_FALSE(v.bind_exchange("dlx-direct", "dlx", "", {}));
  ASSERT_FALSE(bind("by-key", "dlx-direct", "redirected"));
  Properties p;
  p.headers = Table{{"CC", Array{"cc1", "cc2"}}};
  publish("", "work", "x", p);
  reject_head("work");
  MessagePtr m = dead_message();
  ASSERT_TRUE(m);
  EXPECT_EQ(m->routing_key(), "redirected");
  ASSERT_TRUE(m->properties().headers);
  EXPECT_EQ(find(*m->properties().headers, "CC"), nullptr);
  EXPECT_EQ(at(deaths_table(m, 0), "routing-keys"), Value(Array{"work", "cc1", "cc2"}));
  EXPECT_EQ(take("by-key"), (Texts{"x"}));
}

// rabbit_basic keeps BCC keys among the message's routing keys though the
// header goes: x-death lists them, and the dead letter is routed with them.
TEST_F(DeadLetterTest, BCCKeysAreListedAndRouteTheDeadLetter) {
  work_queue();
  ASSERT_FALSE(declare_exchange("dlx-direct", "direct"));
  ASSERT_FALSE(v.bind_exchange("dlx-direct", "dlx", "", {}));
  ASSERT_FALSE(declare_queue("by-bcc"));
  ASSERT_FALSE(bind("by-bcc", "dlx-direct", "bcc1"));
  ASSERT_FALSE(declare_queue("by-cc"));
  ASSERT_FALSE(bind("by-cc", "dlx-direct", "cc1"));
  Properties p;
  p.headers = Table{{"CC", Array{"cc1"}}, {"BCC", Array{"bcc1", "bcc2"}}};
  publish("", "work", "x", p);
  reject_head("work");
  MessagePtr m = dead_message();
  ASSERT_TRUE(m);
  EXPECT_EQ(at(deaths_table(m, 0), "routing-keys"), Value(Array{"work", "cc1", "bcc1", "bcc2"}));
  ASSERT_TRUE(m->properties().headers);
  EXPECT_EQ(find(*m->properties().headers, "BCC"), nullptr);
  EXPECT_EQ(take("by-bcc"), (Texts{"x"}));
  EXPECT_EQ(take("by-cc"), (Texts{"x"}));
}

TEST_F(DeadLetterTest, BCCKeysOnlyStillRouteTheDeadLetter) {
  work_queue();
  ASSERT_FALSE(declare_exchange("dlx-direct", "direct"));
  ASSERT_FALSE(v.bind_exchange("dlx-direct", "dlx", "", {}));
  ASSERT_FALSE(declare_queue("by-bcc"));
  ASSERT_FALSE(bind("by-bcc", "dlx-direct", "bcc1"));
  Properties p;
  p.headers = Table{{"BCC", Array{"bcc1"}}};
  publish("", "work", "only-bcc", p);
  reject_head("work");
  MessagePtr m = dead_message();
  ASSERT_TRUE(m);
  EXPECT_EQ(at(deaths_table(m, 0), "routing-keys"), Value(Array{"work", "bcc1"}));
  EXPECT_EQ(take("by-bcc"), (Texts{"only-bcc"}));
}

TEST_F(DeadLetterTest, TheDeadLetterRoutingKeyReplacesBCCKeysToo) {
  work_queue({{"x-dead-letter-routing-key", "redirected"}});
  ASSERT_FALSE(declare_exchange("dlx-direct", "direct"));
  ASSERT_FALSE(v.bind_exchange("dlx-direct", "dlx", "", {}));
  ASSERT_FALSE(declare_queue("by-bcc"));
  ASSERT_FALSE(bind("by-bcc", "dlx-direct", "bcc1"));
  Properties p;
  p.headers = Table{{"BCC", Array{"bcc1"}}};
  publish("", "work", "x", p);
  reject_head("work");
  MessagePtr m = dead_message();
  ASSERT_TRUE(m);
  EXPECT_EQ(at(deaths_table(m, 0), "routing-keys"), Value(Array{"work", "bcc1"}));
  EXPECT_TRUE(m->bcc_keys().empty());
  EXPECT_EQ(take("by-bcc"), Texts{});
}

TEST_F(DeadLetterTest, ExpiredMessagesKeepTheirOriginalExpiration) {
  work_queue();
  Properties p;
  p.expiration = "500";
  p.priority = 3;
  publish("amq.direct", "none", "nobody", {});  // unroutable: ignored
  ASSERT_FALSE(bind("work", "amq.direct", "rk"));
  publish("amq.direct", "rk", "short-lived", p);
  v.advance(now + 500ms);
  EXPECT_EQ(v.find_queue("work")->ready_count(), 0u);
  MessagePtr m = dead_message();
  ASSERT_TRUE(m);
  EXPECT_EQ(m->properties().expiration, std::nullopt);
  EXPECT_EQ(m->ttl(), std::nullopt);
  EXPECT_EQ(m->priority(), 3);
  const Table& death = deaths_table(m, 0);
  EXPECT_EQ(at(death, "reason"), Value("expired"));
  EXPECT_EQ(at(death, "exchange"), Value("amq.direct"));
  EXPECT_EQ(at(death, "routing-keys"), Value(Array{"rk"}));
  EXPECT_EQ(at(death, "original-expiration"), Value("500"));
}

TEST_F(DeadLetterTest, MaxLenDeathsAreRecorded) {
  work_queue({{"x-max-length", 1}});
  publish("", "work", "first");
  publish("", "work", "second");
  MessagePtr m = dead_message();
  ASSERT_TRUE(m);
  EXPECT_EQ(text_of(m), "first");
  EXPECT_EQ(at(deaths_table(m, 0), "reason"), Value("maxlen"));
  EXPECT_EQ(find(deaths_table(m, 0), "original-expiration"), nullptr);
  EXPECT_EQ(take("work"), (Texts{"second"}));
}

TEST_F(DeadLetterTest, RejectPublishDlxDeadLettersTheRefusedMessage) {
  work_queue({{"x-max-length", 1}, {"x-overflow", "reject-publish-dlx"}});
  publish("", "work", "kept");
  PublishResult r = publish("", "work", "refused");
  EXPECT_TRUE(r.rejected);
  MessagePtr m = dead_message();
  ASSERT_TRUE(m);
  EXPECT_EQ(text_of(m), "refused");
  EXPECT_EQ(at(deaths_table(m, 0), "reason"), Value("maxlen"));
}

TEST_F(DeadLetterTest, RepeatedDeathsCountUpAndMoveToTheFront) {
  // "work" rejects into "dlx" -> "dead"; "dead" rejects back into "work".
  work_queue();
  ASSERT_FALSE(declare_exchange("back", "fanout"));
  uint64_t purged = 0;
  ASSERT_FALSE(v.delete_queue("dead", false, false, kConn, now, purged));
  ASSERT_FALSE(declare_queue("dead", {{"x-dead-letter-exchange", "back"}}));
  ASSERT_FALSE(bind("dead", "dlx"));
  ASSERT_FALSE(bind("work", "back"));
  publish("", "work", "ping");
  reject_head("work");  // work/rejected #1
  env.set_unix_seconds(kWallClock + 60);
  reject_head("dead");  // dead/rejected #1
  reject_head("work");  // work/rejected #2
  MessagePtr m = head("dead");
  ASSERT_TRUE(m);
  ASSERT_EQ(death_count(m), 2u);
  const Table& latest = deaths_table(m, 0);
  EXPECT_EQ(at(latest, "queue"), Value("work"));
  EXPECT_EQ(at(latest, "count").as_int(), 2);
  EXPECT_EQ(at(latest, "time"), Value(Timestamp{kWallClock}));  // the first such death's time stays
  std::vector<std::string> keys;
  for (const auto& [k, _] : latest) keys.push_back(k);
  EXPECT_EQ(keys, (std::vector<std::string>{"count", "exchange", "queue", "reason", "routing-keys", "time"}));
  const Table& older = deaths_table(m, 1);
  EXPECT_EQ(at(older, "queue"), Value("dead"));
  EXPECT_EQ(at(older, "count").as_int(), 1);
  EXPECT_EQ(at(older, "time"), Value(Timestamp{kWallClock + 60}));
  EXPECT_EQ(at(older, "exchange"), Value("dlx"));  // where it was when it died there
  // The first death is remembered at the top level.
  EXPECT_EQ(at(m->properties().headers.value_or(Table{}), "x-first-death-queue"), Value("work"));
}

TEST_F(DeadLetterTest, AnAutomaticCycleIsDropped) {
  // Expiring back into the queue it died in: RabbitMQ drops it.
  ASSERT_FALSE(declare_queue("loop", {{"x-message-ttl", 100},
                                      {"x-dead-letter-exchange", ""},
                                      {"x-dead-letter-routing-key", "loop"}}));
  publish("", "loop", "round");
  v.advance(now + 100ms);
  EXPECT_EQ(v.find_queue("loop")->ready_count(), 0u);
  EXPECT_EQ(v.next_deadline(), std::nullopt);
}

TEST_F(DeadLetterTest, ACycleThroughTwoQueuesIsDroppedOnItsSecondLap) {
  ASSERT_FALSE(declare_queue("a", {{"x-message-ttl", 100}, {"x-dead-letter-exchange", ""},
                                   {"x-dead-letter-routing-key", "b"}}));
  ASSERT_FALSE(declare_queue("b", {{"x-message-ttl", 100}, {"x-dead-letter-exchange", ""},
                                   {"x-dead-letter-routing-key", "a"}}));
  publish("", "a", "lap");
  v.advance(now + 100ms);
  EXPECT_EQ(v.find_queue("b")->ready_count(), 1u);  // a -> b is not a cycle yet
  v.advance(now + 200ms);
  EXPECT_EQ(v.find_queue("a")->ready_count(), 0u);  // b -> a would be
  EXPECT_EQ(v.find_queue("b")->ready_count(), 0u);
}

TEST_F(DeadLetterTest, ARejectionBreaksTheCycleRule) {
  ASSERT_FALSE(declare_queue("self", {{"x-dead-letter-exchange", ""}, {"x-dead-letter-routing-key", "self"}}));
  publish("", "self", "again");
  reject_head("self");
  reject_head("self");
  MessagePtr m = head("self");
  ASSERT_TRUE(m);
  EXPECT_EQ(text_of(m), "again");
  EXPECT_EQ(at(deaths_table(m, 0), "count").as_int(), 2);
}

TEST_F(DeadLetterTest, ExpiryAfterARejectionInTheSameQueueIsStillACycle) {
  // x-death for "q" holds {q, expired} at the front after the expiry:
  // RabbitMQ only looks back to the most recent death in the target queue.
  ASSERT_FALSE(declare_queue("q", {{"x-message-ttl", 100}, {"x-dead-letter-exchange", ""},
                                   {"x-dead-letter-routing-key", "q"}}));
  publish("", "q", "m");
  reject_head("q");  // rejected: back into q, not a cycle
  EXPECT_EQ(v.find_queue("q")->ready_count(), 1u);
  v.advance(now + 100ms);
  EXPECT_EQ(v.find_queue("q")->ready_count(), 0u);
}

TEST_F(DeadLetterTest, ARejectionInsideTheLoopLetsTheMessageThrough) {
  // a --rejected--> b --expired--> a: the way back to a has a rejection in
  // it, so it is not "fully automatic" and RabbitMQ delivers it.
  ASSERT_FALSE(declare_queue("a", {{"x-dead-letter-exchange", ""}, {"x-dead-letter-routing-key", "b"}}));
  ASSERT_FALSE(declare_queue("b", {{"x-message-ttl", 100}, {"x-dead-letter-exchange", ""},
                                   {"x-dead-letter-routing-key", "a"}}));
  publish("", "a", "m");
  reject_head("a");
  v.advance(now + 100ms);
  ASSERT_EQ(v.find_queue("a")->ready_count(), 1u);
  MessagePtr m = head("a");
  ASSERT_TRUE(m);
  ASSERT_EQ(death_count(m), 2u);
  EXPECT_EQ(at(deaths_table(m, 0), "queue"), Value("b"));
  EXPECT_EQ(at(deaths_table(m, 0), "reason"), Value("expired"));
  EXPECT_EQ(at(deaths_table(m, 1), "queue"), Value("a"));
  EXPECT_EQ(at(deaths_table(m, 1), "reason"), Value("rejected"));
}

TEST_F(DeadLetterTest, AMissingDeadLetterExchangeDropsTheMessage) {
  ASSERT_FALSE(declare_queue("orphan", {{"x-dead-letter-exchange", "gone"}}));
  publish("", "orphan", "m");
  reject_head("orphan");
  EXPECT_EQ(v.find_queue("orphan")->ready_count(), 0u);
  EXPECT_EQ(v.find_queue("dead")->ready_count(), 0u);
}

TEST_F(DeadLetterTest, DeadLettersFollowExchangeBindingsAndAlternates) {
  ASSERT_FALSE(declare_exchange("dlx2", "direct", {{"alternate-exchange", "dlx"}}));
  ASSERT_FALSE(declare_queue("src", {{"x-dead-letter-exchange", "dlx2"}}));
  publish("", "src", "m");
  reject_head("src");
  EXPECT_EQ(take("dead"), (Texts{"m"}));
}

TEST_F(DeadLetterTest, AnXDeathThatIsNotAnArrayStartsAgain) {
  work_queue();
  Properties p;
  p.headers = Table{{"x-death", "mangled by a client"}};
  publish("", "work", "m", p);
  reject_head("work");
  MessagePtr m = dead_message();
  ASSERT_EQ(death_count(m), 1u);
  EXPECT_EQ(at(deaths_table(m, 0), "count").as_int(), 1);
  ASSERT_TRUE(m->properties().headers);
  EXPECT_EQ(find(*m->properties().headers, "x-first-death-queue"), nullptr);  // x-death was there already
}

}  // namespace
}  // namespace warren::broker
