// x-queue-type: quorum queues and streams are declared with RabbitMQ 3.10's
// rules and then behave as classic queues (Warren is a single node).
#include <gtest/gtest.h>

#include "broker/test_util.hpp"
#include "broker/vhost.hpp"

namespace warren::broker {
namespace {

using namespace test;

class QueueTypeTest : public VHostTest {
 protected:
  // declare_queue with the flags spelled out.
  Error declare(std::string name, Table args, bool durable, bool exclusive = false, bool auto_delete = false) {
    return declare_queue(std::move(name), std::move(args), exclusive, auto_delete, kConn, durable);
  }
  static std::string text(const Error& e) { return e.text(); }
};

TEST_F(QueueTypeTest, DurableQuorumQueuesAndStreamsBehaveAsClassicQueues) {
  ASSERT_FALSE(declare("qq", {{"x-queue-type", "quorum"}}, true));
  ASSERT_FALSE(declare("st", {{"x-queue-type", "stream"}}, true));
  ASSERT_FALSE(declare("cl", {{"x-queue-type", "classic"}}, false));
  EXPECT_EQ(v.find_queue("qq")->options().args.type, QueueType::Quorum);
  EXPECT_EQ(v.find_queue("st")->options().args.type, QueueType::Stream);
  EXPECT_EQ(v.find_queue("cl")->options().args.type, QueueType::Classic);
  for (const char* q : {"qq", "st", "cl"}) {
    EXPECT_EQ(publish("", q, q).queues, 1u);
    EXPECT_EQ(take(q), (Texts{q}));
  }
  // Quorum queues take a message TTL in 3.10, and the other arguments.
  EXPECT_FALSE(declare("qq2", {{"x-queue-type", "quorum"}, {"x-message-ttl", 100}, {"x-max-length", 2}}, true));
}

TEST_F(QueueTypeTest, TheyMustBeDurableNotExclusiveNotAutoDelete) {
  for (const char* type : {"quorum", "stream"}) {
    Table args{{"x-queue-type", type}};
    EXPECT_EQ(text(declare("q", args, false)),
              "PRECONDITION_FAILED - invalid property 'non-durable' for queue 'q' in vhost '/'");
    EXPECT_EQ(text(declare("q", args, true, /*exclusive=*/true)),
              "PRECONDITION_FAILED - invalid property 'exclusive-owner' for queue 'q' in vhost '/'");
    EXPECT_EQ(text(declare("q", args, true, false, /*auto_delete=*/true)),
              "PRECONDITION_FAILED - invalid property 'auto-delete' for queue 'q' in vhost '/'");
    // RabbitMQ's order: auto-delete, then exclusive, then durability.
    EXPECT_EQ(text(declare("q", args, false, true, true)),
              "PRECONDITION_FAILED - invalid property 'auto-delete' for queue 'q' in vhost '/'");
    EXPECT_EQ(text(declare("q", args, false, true, false)),
              "PRECONDITION_FAILED - invalid property 'exclusive-owner' for queue 'q' in vhost '/'");
    // A server-named one too (names differ, so only the prefix is compared).
    Error e = declare("", args, false);
    EXPECT_EQ(e.code, ErrorCode::PreconditionFailed);
    EXPECT_TRUE(e.text().starts_with("PRECONDITION_FAILED - invalid property 'non-durable' for queue 'amq.gen-")) << e.text();
  }
  EXPECT_EQ(v.queue_count(), 0u);
}

TEST_F(QueueTypeTest, ArgumentsTheirTypeRefuses) {
  EXPECT_EQ(text(declare("q", {{"x-queue-type", "quorum"}, {"x-max-priority", 5}}, true)),
            "PRECONDITION_FAILED - invalid arg 'x-max-priority' for queue 'q' in vhost '/'");
  EXPECT_EQ(text(declare("q", {{"x-queue-type", "quorum"}, {"x-overflow", "reject-publish-dlx"}}, true)),
            "PRECONDITION_FAILED - invalid arg 'x-overflow' with value 'reject-publish-dlx' for queue 'q' in vhost '/'");
  EXPECT_EQ(text(declare("q", {{"x-queue-type", "stream"}, {"x-message-ttl", 5}}, true)),
            "PRECONDITION_FAILED - invalid arg 'x-message-ttl' for queue 'q' in vhost '/'");
  EXPECT_EQ(text(declare("q", {{"x-queue-type", "stream"}, {"x-overflow", "drop-head"}}, true)),
            "PRECONDITION_FAILED - invalid arg 'x-overflow' for queue 'q' in vhost '/'");
  // Arguments are checked before the flags, and their values before that.
  EXPECT_EQ(text(declare("q", {{"x-queue-type", "stream"}, {"x-expires", 5}}, false)),
            "PRECONDITION_FAILED - invalid arg 'x-expires' for queue 'q' in vhost '/'");
  EXPECT_EQ(text(declare("q", {{"x-queue-type", "quorum"}, {"x-max-priority", "high"}}, true)),
            "PRECONDITION_FAILED - invalid arg 'x-max-priority' for queue 'q' in vhost '/': {unacceptable_type,longstr}");
  // Classic queues have no such rules.
  EXPECT_FALSE(declare("c", {{"x-queue-type", "classic"}, {"x-max-priority", 5}}, false, true, true));
}

TEST_F(QueueTypeTest, UnknownTypesAreRefused) {
  EXPECT_EQ(text(declare("q", {{"x-queue-type", "mirrored"}}, true)),
            "PRECONDITION_FAILED - invalid arg 'x-queue-type' for queue 'q' in vhost '/': invalid_queue_type");
  EXPECT_EQ(text(declare("q", {{"x-queue-type", 1}}, true)),
            "PRECONDITION_FAILED - invalid arg 'x-queue-type' for queue 'q' in vhost '/': {unacceptable_type,signedint}");
  EXPECT_EQ(v.queue_count(), 0u);
}

TEST_F(QueueTypeTest, RedeclaringWithAnotherTypeIsInequivalent) {
  ASSERT_FALSE(declare("q", {{"x-queue-type", "quorum"}}, true));
  EXPECT_FALSE(declare("q", {{"x-queue-type", "quorum"}}, true));
  EXPECT_EQ(text(declare("q", {{"x-queue-type", "stream"}}, true)),
            "PRECONDITION_FAILED - inequivalent arg 'x-queue-type' for queue 'q' in vhost '/': received the value "
            "'stream' of type 'longstr' but current is the value 'quorum' of type 'longstr'");
  EXPECT_EQ(text(declare("q", {}, true)),
            "PRECONDITION_FAILED - inequivalent arg 'x-queue-type' for queue 'q' in vhost '/': received none but "
            "current is the value 'quorum' of type 'longstr'");
  // The durable flag is compared first, as for any queue.
  EXPECT_EQ(text(declare("q", {{"x-queue-type", "quorum"}}, false)),
            "PRECONDITION_FAILED - inequivalent arg 'durable' for queue 'q' in vhost '/': received 'false' but current "
            "is 'true'");
  ASSERT_FALSE(declare("c", {}, true));
  EXPECT_EQ(text(declare("c", {{"x-queue-type", "classic"}}, true)),
            "PRECONDITION_FAILED - inequivalent arg 'x-queue-type' for queue 'c' in vhost '/': received the value "
            "'classic' of type 'longstr' but current is none");
}

}  // namespace
}  // namespace warren::broker
