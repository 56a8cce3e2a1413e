// The hot path allocates nothing: splitting frames, decoding methods and
// content headers, reading properties from a view, and encoding into an
// output string that already has room. Counted by replacing operator new.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>

#include "amqp091/frame.hpp"
#include "amqp091/frame_cutter.hpp"
#include "amqp091/methods_test_util.hpp"
#include "amqp091/properties.hpp"

#include "common/testing/count_allocations.hpp"

namespace warren::amqp091 {
namespace {

// A consumer's traffic: deliveries with properties, acks, a declare.
std::string traffic() {
  std::string in;
  QueueDeclare qd;
  qd.queue = "jobs";
  qd.arguments = TableView(std::span(kSampleTable));
  append_method_frame(in, 1, qd);
  BasicProperties props;
  props.content_type = "application/json";
  props.headers = FieldTable{{"x-trace", std::string("abc")}};
  props.delivery_mode = 2;
  props.priority = 5;
  props.expiration = "60000";
  for (uint64_t tag = 1; tag <= 3; ++tag) {
    BasicDeliver d;
    d.consumer_tag = "ctag";
    d.delivery_tag = tag;
    d.routing_key = "jobs";
    append_method_frame(in, 1, d);
    size_t at = begin_frame(in, kFrameHeader, 1);
    encode_content_header(in, 5, props);
    end_frame(in, at);
    append_frame(in, kFrameBody, 1, as_bytes(std::string_view("hello")));
  }
  BasicAck ack;
  ack.delivery_tag = 3;
  ack.multiple = true;
  append_method_frame(in, 1, ack);
  append_heartbeat(in);
  return in;
}

TEST(HotPath, DecodingAllocatesNothing) {
  const std::string in = traffic();
  Method m;
  ContentHeader h;
  int methods = 0, headers = 0, persistent = 0;
  uint64_t before = warren::testing::allocations();
  FrameReader reader(as_bytes(in), 131072);
  Frame f;
  while (reader.next(f)) {
    if (f.type == kFrameMethod) {
      methods += decode_method(f.payload, m).ok();
    } else if (f.type == kFrameHeader) {
      headers += decode_content_header(f.payload, h).ok();
      persistent += h.properties.delivery_mode() == 2 && h.properties.priority() == 5 &&
                    h.properties.expiration() == "60000";
    }
  }
  uint64_t allocs = warren::testing::allocations() - before;
  EXPECT_EQ(allocs, 0u);
  EXPECT_FALSE(reader.failed());
  EXPECT_EQ(methods, 5);
  EXPECT_EQ(headers, 3);
  EXPECT_EQ(persistent, 3);

  // The counter works: the decoded, owning form does allocate.
  BasicProperties p;
  before = warren::testing::allocations();
  ASSERT_TRUE(h.properties.decode(p).ok());
  EXPECT_GT(warren::testing::allocations() - before, 0u);
}

TEST(HotPath, ForwardingAllocatesNothingOnceTheBufferHasRoom) {
  const std::string in = traffic();
  std::string out;
  out.reserve(2 * in.size());
  Method m;
  ContentHeader h;
  uint64_t before = warren::testing::allocations();
  FrameReader reader(as_bytes(in), 131072);
  Frame f;
  while (reader.next(f)) {
    if (f.type == kFrameMethod && decode_method(f.payload, m).ok()) {
      append_method_frame(out, f.channel, m);
    } else if (f.type == kFrameHeader && decode_content_header(f.payload, h).ok()) {
      size_t at = begin_frame(out, kFrameHeader, f.channel);
      encode_content_header(out, h);  // properties verbatim
      end_frame(out, at);
    } else {
      append_frame(out, f.type, f.channel, f.payload);
    }
  }
  EXPECT_EQ(warren::testing::allocations() - before, 0u);
  EXPECT_EQ(to_hex(out), to_hex(in));
}

TEST(HotPath, CuttingAllocatesNothingOnceTheBatchHasRoom) {
  const std::string in = traffic();
  FrameCutter cutter(131072);
  FrameBatch batch;
  cutter.cut(kProtocolHeader, batch);
  cutter.cut(as_bytes(in), batch);  // the batch grows to fit
  const size_t frames = batch.frames.size();
  uint64_t before = warren::testing::allocations();
  cutter.cut(as_bytes(in), batch);
  EXPECT_EQ(warren::testing::allocations() - before, 0u);
  EXPECT_EQ(batch.frames.size(), frames);
  EXPECT_EQ(frames, 12u);
}

}  // namespace
}  // namespace warren::amqp091
