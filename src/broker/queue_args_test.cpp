// QueueArgs::parse: what RabbitMQ 3.10 accepts and its error texts.
#include <gtest/gtest.h>

#include "broker/queue.hpp"
#include "broker/test_util.hpp"

namespace warren::broker {
namespace {

QueueArgs parse_ok(const Table& t) {
  Error err;
  QueueArgs a = QueueArgs::parse(t, err, "q");
  EXPECT_FALSE(err) << err.text();
  return a;
}

std::string parse_error(const Table& t) {
  Error err;
  QueueArgs::parse(t, err, "q");
  EXPECT_EQ(err.code, ErrorCode::PreconditionFailed);
  return err.text();
}

TEST(QueueArgs, NoArgumentsMeansPlainQueue) {
  QueueArgs a = parse_ok({});
  EXPECT_EQ(a.message_ttl, std::nullopt);
  EXPECT_EQ(a.expires, std::nullopt);
  EXPECT_EQ(a.max_length, std::nullopt);
  EXPECT_EQ(a.max_length_bytes, std::nullopt);
  EXPECT_EQ(a.overflow, Overflow::DropHead);
  EXPECT_EQ(a.dead_letter_exchange, std::nullopt);
  EXPECT_EQ(a.dead_letter_routing_key, std::nullopt);
  EXPECT_EQ(a.max_priority, 0);
  EXPECT_FALSE(a.single_active_consumer);
}

TEST(QueueArgs, EveryArgumentParses) {
  QueueArgs a = parse_ok({{"x-message-ttl", 0},
                          {"x-expires", Int{1000, IntKind::U16}},
                          {"x-max-length", int64_t{10}},
                          {"x-max-length-bytes", Int{0, IntKind::I8}},
                          {"x-overflow", "reject-publish"},
                          {"x-dead-letter-exchange", ""},
                          {"x-dead-letter-routing-key", "dead"},
                          {"x-max-priority", 255},
                          {"x-single-active-consumer", true},
                          {"x-unknown", Table{}}});
  EXPECT_EQ(a.message_ttl, Duration(0));
  EXPECT_EQ(a.expires, Duration(1000));
  EXPECT_EQ(a.max_length, 10u);
  EXPECT_EQ(a.max_length_bytes, 0u);
  EXPECT_EQ(a.overflow, Overflow::RejectPublish);
  EXPECT_EQ(a.dead_letter_exchange, "");
  EXPECT_EQ(a.dead_letter_routing_key, "dead");
  EXPECT_EQ(a.max_priority, 255);
  EXPECT_TRUE(a.single_active_consumer);
  EXPECT_EQ(parse_ok({{"x-overflow", "drop-head"}}).overflow, Overflow::DropHead);
  EXPECT_EQ(parse_ok({{"x-overflow", "reject-publish-dlx"}}).overflow, Overflow::RejectPublishDlx);
  EXPECT_EQ(parse_ok({{"x-message-ttl", int64_t{4294967295}}}).message_ttl, Duration(4294967295));
}

TEST(QueueArgs, WrongTypesAreRefusedWithRabbitMQsTerm) {
  EXPECT_EQ(parse_error({{"x-max-length", "10"}}),
            "PRECONDITION_FAILED - invalid arg 'x-max-length' for queue 'q' in vhost '/': "
            "{unacceptable_type,longstr}");
  EXPECT_EQ(parse_error({{"x-message-ttl", 1.5}}),
            "PRECONDITION_FAILED - invalid arg 'x-message-ttl' for queue 'q' in vhost '/': "
            "{unacceptable_type,double}");
  EXPECT_EQ(parse_error({{"x-expires", true}}),
            "PRECONDITION_FAILED - invalid arg 'x-expires' for queue 'q' in vhost '/': {unacceptable_type,bool}");
  EXPECT_EQ(parse_error({{"x-single-active-consumer", 1}}),
            "PRECONDITION_FAILED - invalid arg 'x-single-active-consumer' for queue 'q' in vhost '/': "
            "{unacceptable_type,signedint}");
  EXPECT_EQ(parse_error({{"x-overflow", 1}}),
            "PRECONDITION_FAILED - invalid arg 'x-overflow' for queue 'q' in vhost '/': "
            "{unacceptable_type,signedint}");
  EXPECT_EQ(parse_error({{"x-max-priority", Table{}}}),
            "PRECONDITION_FAILED - invalid arg 'x-max-priority' for queue 'q' in vhost '/': "
            "{unacceptable_type,table}");
  EXPECT_EQ(parse_error({{"x-dead-letter-exchange", "dlx"}, {"x-dead-letter-routing-key", 5}}),
            "PRECONDITION_FAILED - invalid arg 'x-dead-letter-routing-key' for queue 'q' in vhost '/': "
            "{unacceptable_type,signedint}");
}

TEST(QueueArgs, ADeadLetterExchangeOfTheWrongTypeUsesTheChannelsText) {
  EXPECT_EQ(parse_error({{"x-dead-letter-exchange", int64_t{1}}}),
            "PRECONDITION_FAILED - invalid type 'long' for arg 'x-dead-letter-exchange' in queue 'q' in vhost '/'");
}

TEST(QueueArgs, RangesAreChecked) {
  EXPECT_EQ(parse_error({{"x-max-length", -1}}),
            "PRECONDITION_FAILED - invalid arg 'x-max-length' for queue 'q' in vhost '/': {value_negative,-1}");
  EXPECT_EQ(parse_error({{"x-max-length-bytes", int64_t{-5}}}),
            "PRECONDITION_FAILED - invalid arg 'x-max-length-bytes' for queue 'q' in vhost '/': "
            "{value_negative,-5}");
  EXPECT_EQ(parse_error({{"x-message-ttl", -1}}),
            "PRECONDITION_FAILED - invalid arg 'x-message-ttl' for queue 'q' in vhost '/': {value_negative,-1}");
  EXPECT_EQ(parse_error({{"x-message-ttl", int64_t{4294967296}}}),
            "PRECONDITION_FAILED - invalid arg 'x-message-ttl' for queue 'q' in vhost '/': "
            "{value_too_large,4294967296,4294967295}");
  EXPECT_EQ(parse_error({{"x-expires", 0}}),
            "PRECONDITION_FAILED - invalid arg 'x-expires' for queue 'q' in vhost '/': {value_zero,0}");
  EXPECT_EQ(parse_error({{"x-expires", -10}}),
            "PRECONDITION_FAILED - invalid arg 'x-expires' for queue 'q' in vhost '/': {value_negative,-10}");
  EXPECT_EQ(parse_error({{"x-max-priority", 256}}),
            "PRECONDITION_FAILED - invalid arg 'x-max-priority' for queue 'q' in vhost '/': "
            "{max_value_exceeded,256}");
  EXPECT_EQ(parse_error({{"x-max-priority", -1}}),
            "PRECONDITION_FAILED - invalid arg 'x-max-priority' for queue 'q' in vhost '/': {value_negative,-1}");
}

TEST(QueueArgs, HugeUnsignedValuesAreLargeNotNegative) {
  QueueArgs a = parse_ok({{"x-max-length", Int{-1, IntKind::U64}}});
  EXPECT_EQ(a.max_length, UINT64_MAX);
}

TEST(QueueArgs, StringValuesMustBeKnown) {
  EXPECT_EQ(parse_error({{"x-overflow", "drop-tail"}}),
            "PRECONDITION_FAILED - invalid arg 'x-overflow' for queue 'q' in vhost '/': invalid_overflow");
  EXPECT_EQ(parse_error({{"x-queue-mode", "eager"}}),
            "PRECONDITION_FAILED - invalid arg 'x-queue-mode' for queue 'q' in vhost '/': invalid_queue_mode");
  EXPECT_EQ(parse_error({{"x-queue-type", "fancy"}}),
            "PRECONDITION_FAILED - invalid arg 'x-queue-type' for queue 'q' in vhost '/': invalid_queue_type");
  parse_ok({{"x-queue-mode", "lazy"}, {"x-queue-type", "classic"}});
}

TEST(QueueArgs, ARoutingKeyNeedsADeadLetterExchange) {
  EXPECT_EQ(parse_error({{"x-dead-letter-routing-key", "k"}}),
            "PRECONDITION_FAILED - invalid arg 'x-dead-letter-routing-key' for queue 'q' in vhost '/': "
            "routing_key_but_no_dlx_defined");
}

TEST(QueueArgs, TheFirstProblemInRabbitMQsOrderIsReported) {
  // x-expires is checked before x-max-length, whatever the table order.
  EXPECT_EQ(parse_error({{"x-max-length", "a"}, {"x-expires", "b"}}),
            "PRECONDITION_FAILED - invalid arg 'x-expires' for queue 'q' in vhost '/': {unacceptable_type,longstr}");
}

TEST(QueueArgs, TheTextNamesTheQueueAndVhost) {
  Error err;
  QueueArgs::parse({{"x-max-length", "x"}}, err, "orders", "prod");
  EXPECT_EQ(err.text(),
            "PRECONDITION_FAILED - invalid arg 'x-max-length' for queue 'orders' in vhost 'prod': "
            "{unacceptable_type,longstr}");
}

TEST(QueueArgs, RedeclareComparesRabbitMQsKnownKeysOnly) {
  EXPECT_TRUE(QueueArgs::is_compared_on_redeclare("x-max-length"));
  EXPECT_TRUE(QueueArgs::is_compared_on_redeclare("x-message-ttl"));
  EXPECT_TRUE(QueueArgs::is_compared_on_redeclare("x-dead-letter-exchange"));
  EXPECT_TRUE(QueueArgs::is_compared_on_redeclare("x-single-active-consumer"));
  EXPECT_TRUE(QueueArgs::is_compared_on_redeclare("x-queue-type"));
  EXPECT_FALSE(QueueArgs::is_compared_on_redeclare("x-priority"));
  EXPECT_FALSE(QueueArgs::is_compared_on_redeclare("custom"));
}

}  // namespace
}  // namespace warren::broker
