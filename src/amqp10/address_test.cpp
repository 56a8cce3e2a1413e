#include "amqp10/address.hpp"

#include <gtest/gtest.h>

namespace warren::amqp10 {
namespace {

Address parse(std::string_view s, bool bare = true) {
  Address a;
  std::string err;
  EXPECT_TRUE(parse_address(s, bare, a, err)) << s << ": " << err;
  return a;
}

TEST(Address, RabbitMQ4Forms) {
  Address a = parse("/queues/my%2Fq");
  EXPECT_EQ(a.kind, Address::Kind::Queue);
  EXPECT_EQ(a.name, "my/q");
  EXPECT_FALSE(a.declare);
  EXPECT_FALSE(a.v1);
  a = parse("/exchanges/amq.topic/a.%2A");
  EXPECT_EQ(a.kind, Address::Kind::Exchange);
  EXPECT_EQ(a.name, "amq.topic");
  EXPECT_EQ(a.key, "a.*");
  a = parse("/exchanges/x");
  EXPECT_EQ(a.name, "x");
  EXPECT_FALSE(a.key);
  a = parse("/exchanges/amq.default/k");
  EXPECT_EQ(a.name, "");
}

TEST(Address, RabbitMQ3Forms) {
  Address a = parse("/queue/q");
  EXPECT_TRUE(a.declare);
  EXPECT_TRUE(a.v1);
  a = parse("/amq/queue/q");
  EXPECT_FALSE(a.declare);
  a = parse("/exchange/x/k.1");
  EXPECT_EQ(a.kind, Address::Kind::Exchange);
  EXPECT_EQ(a.key, "k.1");
  a = parse("/topic/a.b");
  EXPECT_EQ(a.name, "amq.topic");
  EXPECT_EQ(a.key, "a.b");
  a = parse("plain");
  EXPECT_EQ(a.name, "plain");
  EXPECT_TRUE(a.declare);
  EXPECT_FALSE(parse("plain", false).declare);
}

TEST(Address, Invalid) {
  Address a;
  std::string err;
  EXPECT_FALSE(parse_address("/queues/", true, a, err));
  EXPECT_FALSE(parse_address("/queues/bad%2", true, a, err));
  EXPECT_FALSE(parse_address("/queues/bad%zz", true, a, err));
  EXPECT_FALSE(parse_address("/other/x", true, a, err));
  EXPECT_FALSE(parse_address("", true, a, err));
}

TEST(Address, PercentEncodeRoundTrips) {
  std::string s = "a/b c%d.e~_-";
  std::string enc = percent_encode(s);
  EXPECT_EQ(enc, "a%2Fb%20c%25d.e~_-");
  std::string back;
  ASSERT_TRUE(percent_decode(enc, back));
  EXPECT_EQ(back, s);
}

}  // namespace
}  // namespace warren::amqp10
