// parse_uri: amqp://user:password@host:port/vhost?heartbeat=N&frame_max=N
#include "client/uri.hpp"

#include <gtest/gtest.h>

#include "client/types.hpp"

namespace warren::client {
namespace {

TEST(ClientParseUri, Defaults) {
  Uri u = parse_uri("amqp://");
  EXPECT_EQ(u.host, "127.0.0.1");
  EXPECT_EQ(u.port, 5672);
  EXPECT_EQ(u.user, "guest");
  EXPECT_EQ(u.password, "guest");
  EXPECT_EQ(u.vhost, "/");
  EXPECT_EQ(u.heartbeat_s, -1);
  EXPECT_EQ(u.frame_max, 0u);
}

TEST(ClientParseUri, HostOnlyAndHostPort) {
  Uri u = parse_uri("amqp://broker.example");
  EXPECT_EQ(u.host, "broker.example");
  EXPECT_EQ(u.port, 5672);
  u = parse_uri("amqp://broker.example:5673");
  EXPECT_EQ(u.host, "broker.example");
  EXPECT_EQ(u.port, 5673);
  u = parse_uri("amqp://:5674");  // port only: the default host
  EXPECT_EQ(u.host, "127.0.0.1");
  EXPECT_EQ(u.port, 5674);
}

TEST(ClientParseUri, UserAndPassword) {
  Uri u = parse_uri("amqp://alice:s3cret@h:1234/prod");
  EXPECT_EQ(u.user, "alice");
  EXPECT_EQ(u.password, "s3cret");
  EXPECT_EQ(u.host, "h");
  EXPECT_EQ(u.port, 1234);
  EXPECT_EQ(u.vhost, "prod");
}

TEST(ClientParseUri, UserWithoutPasswordHasAnEmptyOne) {
  Uri u = parse_uri("amqp://alice@h");
  EXPECT_EQ(u.user, "alice");
  EXPECT_EQ(u.password, "");
}

TEST(ClientParseUri, PercentEscapesInCredentialsAndVhost) {
  Uri u = parse_uri("amqp://a%40b:p%3Aw%2f@h/%2f");
  EXPECT_EQ(u.user, "a@b");
  EXPECT_EQ(u.password, "p:w/");
  EXPECT_EQ(u.vhost, "/");
  EXPECT_EQ(parse_uri("amqp://h/%2Fstaging").vhost, "/staging");
  EXPECT_EQ(parse_uri("amqp://h/with%20space").vhost, "with space");
}

TEST(ClientParseUri, EmptyOrMissingVhostIsSlash) {
  EXPECT_EQ(parse_uri("amqp://h/").vhost, "/");
  EXPECT_EQ(parse_uri("amqp://h").vhost, "/");
  EXPECT_EQ(parse_uri("amqp://h?heartbeat=5").vhost, "/");
}

TEST(ClientParseUri, Ipv6Literal) {
  Uri u = parse_uri("amqp://[::1]:5673/v");
  EXPECT_EQ(u.host, "::1");
  EXPECT_EQ(u.port, 5673);
  EXPECT_EQ(u.vhost, "v");
  u = parse_uri("amqp://u:p@[fe80::1]");
  EXPECT_EQ(u.host, "fe80::1");
  EXPECT_EQ(u.port, 5672);
  EXPECT_EQ(u.user, "u");
}

TEST(ClientParseUri, QueryParameters) {
  Uri u = parse_uri("amqp://h/v?heartbeat=10&frame_max=8192");
  EXPECT_EQ(u.heartbeat_s, 10);
  EXPECT_EQ(u.frame_max, 8192u);
  EXPECT_EQ(u.vhost, "v");
  EXPECT_EQ(parse_uri("amqp://h?heartbeat=0").heartbeat_s, 0);
  // Others are accepted and ignored.
  u = parse_uri("amqp://h?connection_timeout=5&heartbeat=3&channel_max=9");
  EXPECT_EQ(u.heartbeat_s, 3);
  EXPECT_EQ(u.frame_max, 0u);
}

class ClientParseUriBad : public ::testing::TestWithParam<const char*> {};

TEST_P(ClientParseUriBad, Throws) {
  EXPECT_THROW(parse_uri(GetParam()), ClientError) << GetParam();
}

INSTANTIATE_TEST_SUITE_P(
    Inputs, ClientParseUriBad,
    ::testing::Values("", "localhost", "http://h", "amqps://h", "AMQP//h", "amqp://h:", "amqp://h:port",
                      "amqp://h:70000", "amqp://h:-1", "amqp://[::1", "amqp://[::1]:", "amqp://[::1]:x",
                      "amqp://[::1]junk", "amqp://h/%zz", "amqp://h/%4", "amqp://u%:p@h", "amqp://h?heartbeat=x",
                      "amqp://h?heartbeat=70000", "amqp://h?frame_max=", "amqp://h?frame_max=-5"));

TEST(ClientParseUri, ErrorSaysWhatWasWrong) {
  try {
    parse_uri("amqp://h:port");
    FAIL() << "no throw";
  } catch (const ClientError& e) {
    EXPECT_EQ(e.error().code, 0);
    EXPECT_NE(e.error().text.find("amqp://h:port"), std::string::npos) << e.error().text;
    EXPECT_NE(e.error().text.find("port"), std::string::npos);
  }
}

}  // namespace
}  // namespace warren::client
