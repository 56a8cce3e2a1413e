// Every recipe against a private warrend, and (when rabbitmq-server is
// installed) the ones that need no Warren against a private RabbitMQ node:
// one holder at a time, the broker releasing a dead holder's lock,
// semaphores admitting their permits, and verify by transaction; and the
// AMQP transport's own contract (amqp_conn.hpp) on each broker.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <map>
#include <stdexcept>
#include <thread>

#include "broker.hpp"  // apps/prover's: the brokers a test starts and stops, as the prover does
#include "recipes/amqp_conn.hpp"
#include "recipes/lock_client.hpp"

namespace warren::recipes {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

enum class BrokerKind { Warren, RabbitMQ };

// $WARREN_WARREND (set by CTest), or a private RabbitMQ node; null when
// rabbitmq-server is not installed.
std::unique_ptr<prover::Broker> start_broker(BrokerKind k) {
  std::unique_ptr<prover::Broker> b;
  if (k == BrokerKind::Warren) {
    const char* bin = std::getenv("WARREN_WARREND");
    if (!bin) throw std::runtime_error("$WARREN_WARREND must name warrend (set by CTest)");
    b = prover::make_warrend(bin);
  } else {
    if (!prover::rabbitmq_installed()) return nullptr;
    b = prover::make_rabbitmq();
  }
  b->start();
  return b;
}

Endpoint endpoint_of(const prover::Broker& b) {
  Endpoint ep;
  ep.port = b.port();
  return ep;
}

// One broker of each kind for the whole binary, started by the first test
// that needs it and stopped (and checked) at the end.
class Brokers : public ::testing::Environment {
 public:
  // null: RabbitMQ is not installed.
  static prover::Broker* get(BrokerKind k) {
    auto it = started().find(k);
    if (it == started().end())
      it = started().emplace(k, start_broker(k)).first;
    return it->second.get();
  }
  void TearDown() override {
    for (auto& [kind, broker] : started())
      if (broker)
        if (std::string problem = broker->stop(); !problem.empty()) ADD_FAILURE() << problem;
    started().clear();
  }

 private:
  static std::map<BrokerKind, std::unique_ptr<prover::Broker>>& started() {
    static std::map<BrokerKind, std::unique_ptr<prover::Broker>> m;
    return m;
  }
};
[[maybe_unused]] ::testing::Environment* const kBrokers = ::testing::AddGlobalTestEnvironment(new Brokers);

struct Case {
  BrokerKind broker;
  std::string recipe;
};

class RecipeTest : public ::testing::TestWithParam<Case> {
 protected:
  void SetUp() override {
    broker_ = Brokers::get(GetParam().broker);
    if (!broker_) GTEST_SKIP() << "rabbitmq-server is not installed";
  }

  const std::string& recipe() const { return GetParam().recipe; }
  bool native() const { return recipe_needs_warren(recipe()); }

  // A lock name no other test (or earlier run on the same broker) uses.
  std::string lock_name() const {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    return "recipes." + std::to_string(getpid()) + "." + recipe() + "." + info->name();
  }

  std::unique_ptr<LockClient> client(const std::string& lock, const Options& o = {}) const {
    return make_lock_client(recipe(), endpoint_of(*broker_), lock, o);
  }

  // Every grant has a token: the broker's (native), or the recipe's counter
  // queue's (recipes/fence.hpp).
  void expect_token(const std::optional<Held>& h) const {
    ASSERT_TRUE(h);
    EXPECT_GT(h->token, 0u);
  }

  prover::Broker* broker_ = nullptr;
};

TEST_P(RecipeTest, OneHolderAtATime) {
  const std::string lock = lock_name();
  auto a = client(lock), b = client(lock);
  std::optional<Held> ha = a->acquire(5s);
  expect_token(ha);

  const auto t0 = Clock::now();
  EXPECT_FALSE(b->acquire(300ms)) << "two holders at once";
  EXPECT_GE(Clock::now() - t0, 250ms) << "gave up before its timeout";
  EXPECT_TRUE(a->verify());

  a->release();
  EXPECT_FALSE(a->verify()) << "released, yet held";
  std::optional<Held> hb = b->acquire(5s);
  expect_token(hb);
  if (ha && hb) EXPECT_GT(hb->token, ha->token) << "tokens must increase";
  EXPECT_TRUE(b->verify());
  EXPECT_FALSE(a->acquire(300ms)) << "two holders at once";
  b->release();

  // The same clients take it again.
  EXPECT_TRUE(a->acquire(5s));
  EXPECT_TRUE(a->verify());
  a->release();
}

TEST_P(RecipeTest, DisconnectReleases) {
  const std::string lock = lock_name();
  auto a = client(lock), b = client(lock);
  std::optional<Held> ha = a->acquire(5s);
  ASSERT_TRUE(ha);
  a->disconnect();
  EXPECT_FALSE(a->verify());
  std::optional<Held> hb = b->acquire(10s);
  ASSERT_TRUE(hb) << "the broker did not release a dead holder's lock";
  EXPECT_GT(hb->token, ha->token) << "a dead holder's token must be below the next one's";
  EXPECT_TRUE(b->verify());

  // a reconnects, and waits its turn.
  EXPECT_FALSE(a->acquire(300ms)) << "two holders at once";
  b->release();
  EXPECT_TRUE(a->acquire(5s));
  a->release();
}

TEST_P(RecipeTest, SemaphoreAdmitsItsPermits) {
  const std::string lock = lock_name();
  const Options o{.permits = 2};
  auto a = client(lock, o), b = client(lock, o), c = client(lock, o);
  std::optional<Held> ha = a->acquire(5s);
  ASSERT_TRUE(ha);
  if (!recipe_is_semaphore(recipe())) {  // a mutex has no permits to give
    EXPECT_EQ(ha->permit, 0u);
    EXPECT_FALSE(b->acquire(300ms)) << "a mutex admitted 2";
    a->release();
    return;
  }
  std::optional<Held> hb = b->acquire(5s);
  ASSERT_TRUE(hb) << "a semaphore of 2 admitted 1";
  EXPECT_FALSE(c->acquire(300ms)) << "a semaphore of 2 admitted 3";
  EXPECT_TRUE(a->verify());
  EXPECT_TRUE(b->verify());
  a->release();
  std::optional<Held> hc = c->acquire(5s);
  ASSERT_TRUE(hc);
  // Each holder has a permit slot: Warren's x-lock-permit (the lowest free),
  // semaphore-ab's slot (scanned from 1), the token semaphores' token (a
  // rejected one goes back to the head). So c takes a's, with a higher token.
  EXPECT_EQ(ha->permit, 1u);
  EXPECT_EQ(hb->permit, 2u);
  EXPECT_EQ(hc->permit, 1u);
  EXPECT_GT(hc->token, ha->token) << "a slot's tokens must increase";
  EXPECT_TRUE(b->verify());
  EXPECT_TRUE(c->verify());
  b->disconnect();
  EXPECT_TRUE(a->acquire(10s)) << "the broker did not release a dead holder's permit";
  a->release();
  c->release();
}

TEST_P(RecipeTest, VerifyByTransaction) {
  const std::string lock = lock_name();
  auto a = client(lock, Options{.verify = Verify::Tx}), b = client(lock, Options{.verify = Verify::Tx});
  ASSERT_TRUE(a->acquire(5s));
  EXPECT_TRUE(a->verify());
  EXPECT_TRUE(a->verify());
  EXPECT_FALSE(b->acquire(300ms)) << "two holders at once";
  a->release();
  ASSERT_TRUE(b->acquire(5s));
  EXPECT_TRUE(b->verify());
  b->release();
}

// The queue whose deletion (by an administrator, another program) ends a
// recipe's hold: the names docs/locks.md gives. exclusive-queue has none:
// only its holder's connection may delete an exclusive queue.
std::optional<std::string> lifeline(const std::string& recipe, const std::string& lock) {
  if (recipe == "exclusive-queue") return std::nullopt;
  if (recipe == "semaphore-ab") return lock + "-1-A";  // "removing slots"
  return lock;
}

TEST_P(RecipeTest, VerifySeesTheLockGone) {
  const std::string lock = lock_name();
  std::optional<std::string> queue = lifeline(recipe(), lock);
  if (!queue) GTEST_SKIP() << "nobody else can delete it";
  auto a = client(lock);
  ASSERT_TRUE(a->acquire(5s));
  ASSERT_TRUE(a->verify());
  amqp::Connection admin(endpoint_of(*broker_), 5s);
  const uint16_t ch = admin.open_channel();
  ASSERT_TRUE(admin.delete_queue(ch, *queue).ok());
  EXPECT_FALSE(a->verify()) << "verify did not notice that " << *queue << " was deleted";
  a->release();  // not held any more: nothing to do, and no error
}

std::vector<Case> cases(BrokerKind k) {
  std::vector<Case> out;
  for (const std::string& r : recipe_names())
    if (k == BrokerKind::Warren || !recipe_needs_warren(r)) out.push_back({k, r});
  return out;
}

std::string case_name(const ::testing::TestParamInfo<Case>& i) {
  std::string n = i.param.recipe;
  for (char& ch : n)
    if (ch == '-') ch = '_';
  return n;
}

INSTANTIATE_TEST_SUITE_P(Warren, RecipeTest, ::testing::ValuesIn(cases(BrokerKind::Warren)), case_name);
INSTANTIATE_TEST_SUITE_P(RabbitMQ, RecipeTest, ::testing::ValuesIn(cases(BrokerKind::RabbitMQ)), case_name);

// The transport's contract (amqp_conn.hpp), which the recipes build on
// whatever client library is under it: channel errors as a Status on their
// channel only, the broker's verdicts, tokens in headers, deliveries, a
// broker's cancel, drop().
class ConnTest : public ::testing::TestWithParam<BrokerKind> {
 protected:
  void SetUp() override {
    broker_ = Brokers::get(GetParam());
    if (!broker_) GTEST_SKIP() << "rabbitmq-server is not installed";
  }
  std::string name(const std::string& what) const {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    return "recipes." + std::to_string(getpid()) + ".conn." + info->test_suite_name() + "." + info->name() + "." + what;
  }
  Endpoint ep() const { return endpoint_of(*broker_); }
  prover::Broker* broker_ = nullptr;
};

TEST_P(ConnTest, ChannelErrorsCloseOnlyTheirChannel) {
  amqp::Connection c(ep(), 5s);
  const uint16_t a = c.open_channel(), b = c.open_channel();
  EXPECT_EQ(c.declare(a, name("missing"), {.passive = true}).status.code, amqp::kNotFound);
  EXPECT_FALSE(c.is_open(a));
  EXPECT_EQ(c.qos(a, 1).code, amqp::kNotFound) << "a closed channel answers with why it closed";
  EXPECT_EQ(c.publish(a, name("missing"), "x", {}), 0u);
  c.close_channel(a);  // forgotten, no error
  ASSERT_TRUE(c.is_open(b));
  const std::string q = name("exclusive");
  ASSERT_TRUE(c.declare(b, q, {.exclusive = true}).status.ok());

  amqp::Connection other(ep(), 5s);
  EXPECT_EQ(other.declare(other.open_channel(), q, {.exclusive = true}).status.code, amqp::kResourceLocked);
  c.drop();  // no connection.close: the broker sees a dead peer, and its exclusive queue goes
  EXPECT_FALSE(c.alive());
  EXPECT_THROW(c.open_channel(), Error);
  bool taken = false;
  for (auto until = Clock::now() + 5s; !taken && Clock::now() < until; std::this_thread::sleep_for(20ms))
    taken = other.declare(other.open_channel(), q, {.exclusive = true}).status.ok();
  EXPECT_TRUE(taken) << "the dropped connection's exclusive queue is still there";
}

TEST_P(ConnTest, VerdictsAndTokens) {
  amqp::Connection c(ep(), 5s);
  const std::string q = name("q"), nowhere = name("nowhere");
  const uint16_t ch = c.open_channel();
  ASSERT_TRUE(c.declare(ch, q, {}).status.ok());
  ASSERT_TRUE(c.confirm_select(ch).ok());
  const uint64_t s1 = c.publish(ch, q, "one", {.mandatory = true, .token = 41});
  const uint64_t s2 = c.publish(ch, nowhere, "two", {.mandatory = true});
  const uint64_t s3 = c.publish(ch, nowhere, "three", {});
  EXPECT_EQ(s2, s1 + 1);
  EXPECT_EQ(c.wait_confirm(ch, s2), amqp::Verdict::Returned);
  EXPECT_EQ(c.wait_confirm(ch, s3), amqp::Verdict::Acked) << "not mandatory: dropped, and acked";
  EXPECT_EQ(c.wait_confirm(ch, s1), amqp::Verdict::Acked);

  const uint16_t tx = c.open_channel();
  ASSERT_TRUE(c.tx_select(tx).ok());
  c.publish(tx, nowhere, "four", {.mandatory = true});
  EXPECT_EQ(c.commit(tx), amqp::Verdict::Returned);
  c.publish(tx, q, "five", {.mandatory = true, .persistent = true, .token = 42});
  EXPECT_EQ(c.commit(tx), amqp::Verdict::Acked) << "a return counts for the commit it came before only";

  amqp::Status st;
  std::optional<amqp::Delivery> m = c.get(ch, q, &st);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->body, "one");
  EXPECT_EQ(m->token, 41);
  c.ack(ch, m->tag);
  m = c.get(ch, q, &st);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->body, "five");
  EXPECT_EQ(m->token, 42);
  c.ack(ch, m->tag);
  EXPECT_FALSE(c.get(ch, q, &st));
  EXPECT_TRUE(st.ok()) << "get-empty is no error";
  EXPECT_FALSE(c.get(ch, name("missing"), &st));
  EXPECT_EQ(st.code, amqp::kNotFound);
  EXPECT_TRUE(c.is_open(tx));
  EXPECT_TRUE(c.delete_queue(tx, q).ok());
}

TEST_P(ConnTest, DeliveriesAndTheBrokersCancel) {
  amqp::Connection c(ep(), 5s), admin(ep(), 5s);
  const std::string q = name("q");
  const uint16_t pub = c.open_channel();
  ASSERT_TRUE(c.declare(pub, q, {}).status.ok());
  c.publish(pub, q, "x", {.token = 7});
  c.publish(pub, q, "y", {});
  const uint16_t ch = c.open_channel();
  ASSERT_TRUE(c.qos(ch, 10).ok());
  std::string tag;
  ASSERT_TRUE(c.consume(ch, q, false, false, {}, &tag).ok());
  EXPECT_FALSE(tag.empty());
  std::optional<amqp::Delivery> d = c.next_delivery(ch, Clock::now() + 5s);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->body, "x");
  EXPECT_EQ(d->token, 7);
  EXPECT_EQ(d->consumer_tag, tag);
  EXPECT_FALSE(d->redelivered);
  EXPECT_FALSE(c.next_delivery(pub, Clock::now() + 50ms)) << "another channel's delivery";
  c.reject(ch, d->tag, true);
  for (int i = 0; i < 2; ++i) {  // y, then x again (requeued)
    d = c.next_delivery(ch, Clock::now() + 5s);
    ASSERT_TRUE(d);
    EXPECT_EQ(d->redelivered, d->body == "x") << d->body;
    EXPECT_EQ(d->token, d->body == "x" ? std::optional<int64_t>(7) : std::nullopt);
    c.ack(ch, d->tag);
  }
  auto t0 = Clock::now();
  EXPECT_FALSE(c.next_delivery(ch, t0 + 200ms));
  EXPECT_GE(Clock::now() - t0, 200ms) << "returned before its deadline";

  ASSERT_TRUE(admin.delete_queue(admin.open_channel(), q).ok());
  t0 = Clock::now();
  EXPECT_FALSE(c.next_delivery(ch, t0 + 5s));
  EXPECT_LT(Clock::now() - t0, 4s) << "the broker's basic.cancel did not end the wait";
  EXPECT_TRUE(c.cancelled_by_broker(ch, tag));
  EXPECT_FALSE(c.cancelled_by_broker(pub, tag));
  EXPECT_TRUE(c.is_open(ch));
  c.close_channel(ch);
  EXPECT_FALSE(c.is_open(ch));
  EXPECT_FALSE(c.cancelled_by_broker(ch, tag));
}

std::string broker_name(const ::testing::TestParamInfo<BrokerKind>& i) {
  return i.param == BrokerKind::Warren ? "Warren" : "RabbitMQ";
}
// The recipes' fencing counter (recipes/fence.hpp), step by step on a
// mutex recipe: seeded on first use, a counter someone holds unacknowledged
// waited for, several counters (left by a holder that died between publish
// and ack) folded into one above them all, and a holder that cannot get a
// token in time gives the lock back.
TEST_P(ConnTest, FenceCounter) {
  const std::string lock = name("fence"), counter = lock + ".fence";
  amqp::Connection x(ep(), 5s);
  uint16_t ch = x.open_channel();
  ASSERT_TRUE(x.declare(ch, counter, {.durable = true}).status.ok());  // a seeder that died before it published

  auto a = make_lock_client("exclusive-queue", ep(), lock);
  std::optional<Held> h = a->acquire(5s);
  ASSERT_TRUE(h);
  EXPECT_EQ(h->token, 1u);
  a->release();

  std::optional<amqp::Delivery> d = x.get(ch, counter);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->body, "1");
  EXPECT_EQ(d->remaining, 0u);
  std::thread settle([&] {
    std::this_thread::sleep_for(300ms);
    x.close_channel(ch);  // gives it back
  });
  const auto t0 = Clock::now();
  h = a->acquire(5s);
  settle.join();
  ASSERT_TRUE(h);
  EXPECT_EQ(h->token, 2u);
  EXPECT_GE(Clock::now() - t0, 250ms) << "took a token while the counter was out";
  a->release();

  ch = x.open_channel();
  ASSERT_TRUE(x.confirm_select(ch).ok());
  ASSERT_EQ(x.wait_confirm(ch, x.publish(ch, counter, "10", {.persistent = true})), amqp::Verdict::Acked);
  h = a->acquire(5s);
  ASSERT_TRUE(h);
  EXPECT_EQ(h->token, 11u) << "not above every counter in the queue";
  a->release();
  EXPECT_EQ(x.declare(ch, counter, {.passive = true}).messages, 1u) << "the counters were not folded into one";

  d = x.get(ch, counter);
  ASSERT_TRUE(d);
  EXPECT_FALSE(a->acquire(300ms)) << "a token while the counter was out";
  auto b = make_lock_client("exclusive-queue", ep(), lock, Options{.fence = false});
  std::optional<Held> hb = b->acquire(2s);
  ASSERT_TRUE(hb) << "a kept the lock it had no token for";
  EXPECT_EQ(hb->token, 0u) << "Options::fence false has no token";
  b->release();
  x.close_channel(ch);
}

INSTANTIATE_TEST_SUITE_P(Warren, ConnTest, ::testing::Values(BrokerKind::Warren), broker_name);
INSTANTIATE_TEST_SUITE_P(RabbitMQ, ConnTest, ::testing::Values(BrokerKind::RabbitMQ), broker_name);

// single-queue's first creation (docs/locks.md), played step by step: two
// clients that both find the new queue empty both publish a token, and two
// holders then take the lock at once. The recipe's fill (under the
// administration mutex, marked by LOCK.filled) starts the queue again with
// one token.
TEST(SingleQueueCreation, CheckThenPublishRacesTheFillDoesNot) {
  prover::Broker* broker = Brokers::get(BrokerKind::Warren);
  const std::string lock = "recipes." + std::to_string(getpid()) + ".single-queue-flaw";
  amqp::Connection c1(endpoint_of(*broker), 5s), c2(endpoint_of(*broker), 5s);
  const uint16_t ch1 = c1.open_channel(), ch2 = c2.open_channel();
  amqp::DeclareOk d1 = c1.declare(ch1, lock, {.durable = true});
  amqp::DeclareOk d2 = c2.declare(ch2, lock, {.durable = true});
  ASSERT_TRUE(d1.status.ok() && d2.status.ok());
  EXPECT_EQ(d1.messages + d1.consumers + d2.messages + d2.consumers, 0u) << "both see an empty queue";
  // Confirmed, so that both are in the queue before it is counted.
  ASSERT_TRUE(c1.confirm_select(ch1).ok() && c2.confirm_select(ch2).ok());
  const uint64_t s1 = c1.publish(ch1, lock, "token", {.persistent = true});
  const uint64_t s2 = c2.publish(ch2, lock, "token", {.persistent = true});
  ASSERT_EQ(c1.wait_confirm(ch1, s1), amqp::Verdict::Acked);
  ASSERT_EQ(c2.wait_confirm(ch2, s2), amqp::Verdict::Acked);
  amqp::DeclareOk after = c1.declare(ch1, lock, {.passive = true});
  EXPECT_EQ(after.messages, 2u);
  std::string t1, t2;
  ASSERT_TRUE(c1.qos(ch1, 1).ok() && c2.qos(ch2, 1).ok());
  ASSERT_TRUE(c1.consume(ch1, lock, false, false, {}, &t1).ok() && c2.consume(ch2, lock, false, false, {}, &t2).ok());
  EXPECT_TRUE(c1.next_delivery(ch1, Clock::now() + 5s)) << "no token for the first";
  EXPECT_TRUE(c2.next_delivery(ch2, Clock::now() + 5s)) << "check-then-publish made two holders";
  c1.close_channel(ch1);
  c2.close_channel(ch2);

  auto a = make_lock_client("single-queue", endpoint_of(*broker), lock);
  auto b = make_lock_client("single-queue", endpoint_of(*broker), lock);
  std::optional<Held> ha = a->acquire(5s);
  ASSERT_TRUE(ha);
  EXPECT_EQ(ha->permit, 0u) << "a mutex has no permit slot";
  EXPECT_FALSE(b->acquire(500ms)) << "the fill left two tokens";
  a->release();
  EXPECT_TRUE(b->acquire(5s));
  b->release();
}

// native with Options::shared: readers of an rwlock hold together; a
// writer waits for them.
TEST(NativeReaders, ShareTheLockAndKeepWritersOut) {
  prover::Broker* broker = Brokers::get(BrokerKind::Warren);
  const std::string lock = "recipes." + std::to_string(getpid()) + ".native-readers";
  const Options reader{.shared = true};
  auto r1 = make_lock_client("native", endpoint_of(*broker), lock, reader);
  auto r2 = make_lock_client("native", endpoint_of(*broker), lock, reader);
  auto w = make_lock_client("native", endpoint_of(*broker), lock);
  std::optional<Held> h1 = r1->acquire(5s), h2 = r2->acquire(5s);
  ASSERT_TRUE(h1 && h2) << "two readers did not hold together";
  EXPECT_NE(h1->token, h2->token);
  EXPECT_FALSE(w->acquire(300ms)) << "a writer got in with readers";
  EXPECT_TRUE(r1->verify() && r2->verify());
  r1->release();
  r2->release();
  std::optional<Held> hw = w->acquire(5s);
  ASSERT_TRUE(hw);
  EXPECT_GT(hw->token, std::max(h1->token, h2->token));
  EXPECT_FALSE(r1->acquire(300ms)) << "a reader got in with a writer";
  w->release();
}

// The recipes' tokens survive a broker's kill -9: the counter is a
// persistent message in a durable queue, confirmed once it is on disk.
TEST(FenceCounter, SurvivesABrokerRestart) {
  std::unique_ptr<prover::Broker> own = start_broker(BrokerKind::Warren);
  const std::string lock = "recipes." + std::to_string(getpid()) + ".fence-restart";
  uint64_t before = 0;
  {
    auto a = make_lock_client("single-queue", endpoint_of(*own), lock);
    for (int i = 0; i < 3; ++i) {
      std::optional<Held> h = a->acquire(5s);
      ASSERT_TRUE(h);
      EXPECT_GT(h->token, before);
      before = h->token;
      a->release();
    }
    own->kill9();
  }
  own->start();
  auto a = make_lock_client("single-queue", endpoint_of(*own), lock);
  std::optional<Held> h = a->acquire(5s);
  ASSERT_TRUE(h);
  EXPECT_GT(h->token, before) << "a token repeated across a restart";
  a->release();
  EXPECT_EQ(own->stop(), "");
}

// A broker that goes away is an Error (not a crash, not a hang, not a
// "false"), and acquire tries to connect again.
TEST(BrokerGone, IsAnError) {
  std::unique_ptr<prover::Broker> own = start_broker(BrokerKind::Warren);
  const std::string lock = "recipes." + std::to_string(getpid()) + ".broker-gone";
  auto a = make_lock_client("single-queue", endpoint_of(*own), lock);
  ASSERT_TRUE(a->acquire(5s));
  ASSERT_EQ(own->stop(), "");
  EXPECT_THROW(a->verify(), Error);
  EXPECT_FALSE(a->verify()) << "the connection is gone: nothing is held";
  a->release();  // nothing held: nothing to do
  EXPECT_THROW(a->acquire(1s), Error) << "nothing listens there any more";
}

TEST(RecipeNames, AreTheContract) {
  std::vector<std::string> want = {"native",       "native-semaphore", "exclusive-queue",     "exclusive-consumer",
                                   "single-queue", "semaphore-ab",     "token-semaphore-alo", "token-semaphore-amo"};
  EXPECT_EQ(recipe_names(), want);
  for (const std::string& r : want) EXPECT_EQ(recipe_needs_warren(r), r.starts_with("native")) << r;
  EXPECT_TRUE(recipe_is_semaphore("semaphore-ab"));
  EXPECT_FALSE(recipe_is_semaphore("single-queue"));
  EXPECT_THROW(make_lock_client("no-such-recipe", Endpoint{}, "x"), std::invalid_argument);
  EXPECT_THROW(recipe_is_semaphore("no-such-recipe"), std::invalid_argument);
}

}  // namespace
}  // namespace warren::recipes
