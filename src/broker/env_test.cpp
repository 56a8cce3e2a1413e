// The core's randomness and wall clock come from its Env: on the same
// seeded Env, two brokers do the same thing.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "broker/broker.hpp"
#include "broker/seeded_env.hpp"
#include "broker/test_util.hpp"

namespace warren::broker {
namespace {

using namespace test;

class NullReceiver final : public ReplyReceiver {
 public:
  bool deliver_reply(const MessagePtr&) override { return true; }
};

// What a broker on `env` names: three server-named queues and two direct
// reply-to receivers in "/", then a server-named queue in a second vhost.
std::vector<std::string> names_made(Env& env) {
  Broker b(env, t0);
  VHost& v = *b.vhost("/");
  std::vector<std::string> names;
  for (int i = 0; i < 3; ++i) {
    QueueDeclareOk ok;
    EXPECT_FALSE(v.declare_queue(QueueDeclare{"", false, false, true, false, {}, 1}, t0, ok));
    names.push_back(ok.name);
  }
  NullReceiver r;
  for (int i = 0; i < 2; ++i) names.push_back(v.direct_reply().add(r));
  for (size_t i = names.size() - 2; i < names.size(); ++i) v.direct_reply().remove(names[i]);
  QueueDeclareOk ok;
  EXPECT_FALSE(b.add_vhost("other", t0).declare_queue(QueueDeclare{"", false, false, true, false, {}, 1}, t0, ok));
  names.push_back(ok.name);
  return names;
}

TEST(BrokerEnv, SameSeedSameNames) {
  SeededEnv a(42), b(42);
  const std::vector<std::string> first = names_made(a), second = names_made(b);
  ASSERT_EQ(first.size(), 6u);
  EXPECT_EQ(first, second);
  // Every name distinct, of the expected shape.
  for (size_t i = 0; i < first.size(); ++i) {
    EXPECT_TRUE(first[i].starts_with(i == 3 || i == 4 ? "amq.rabbitmq.reply-to." : "amq.gen-")) << first[i];
    for (size_t j = 0; j < i; ++j) EXPECT_NE(first[i], first[j]);
  }
}

TEST(BrokerEnv, OtherSeedOtherNames) {
  SeededEnv a(42), b(43);
  const std::vector<std::string> first = names_made(a), second = names_made(b);
  ASSERT_EQ(first.size(), second.size());
  for (size_t i = 0; i < first.size(); ++i) EXPECT_NE(first[i], second[i]);
}

TEST(BrokerEnv, SeededEnvIsReproducible) {
  SeededEnv a(7), b(7);
  uint8_t x[13], y[13];
  a.fill_random(x);
  b.fill_random(y);
  EXPECT_EQ(std::vector<uint8_t>(x, x + 13), std::vector<uint8_t>(y, y + 13));
  EXPECT_EQ(a.random_u64(), b.random_u64());
  EXPECT_EQ(a.unix_seconds(), SeededEnv::kDefaultUnixSeconds);
  a.set_unix_seconds(5);
  EXPECT_EQ(a.unix_seconds(), 5u);
}

}  // namespace
}  // namespace warren::broker
