// warren-perf's pieces without a broker: the histogram, the flags, the loss/dup tracker.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "histogram.hpp"
#include "options.hpp"
#include "payload.hpp"
#include "seq_tracker.hpp"

namespace warren::perf {
namespace {

TEST(Histogram, SmallValuesAreExact) {
  Histogram h;
  for (uint64_t v = 0; v < 256; ++v) h.record(v);
  EXPECT_EQ(h.count(), 256u);
  EXPECT_EQ(h.min(), 0u);
  EXPECT_EQ(h.max(), 255u);
  EXPECT_EQ(h.percentile(50), 127u);
  EXPECT_EQ(h.percentile(100), 255u);
}

TEST(Histogram, BucketsTileTheRangeWithoutGaps) {
  for (size_t i = 1; i < 5000; ++i) {
    EXPECT_EQ(Histogram::lowest_in(i), Histogram::lowest_in(i - 1) + Histogram::width_of(i - 1)) << i;
    EXPECT_EQ(Histogram::index_of(Histogram::lowest_in(i)), i);
    EXPECT_EQ(Histogram::index_of(Histogram::lowest_in(i) + Histogram::width_of(i) - 1), i);
  }
}

TEST(Histogram, BucketsAreWithinOnePercent) {
  for (uint64_t v : {300ull, 1000ull, 12345ull, 999999ull, 123456789ull, 1ull << 40}) {
    size_t i = Histogram::index_of(v);
    EXPECT_LE(double(Histogram::width_of(i)) / double(Histogram::lowest_in(i)), 0.01) << v;
  }
}

TEST(Histogram, PercentilesOfAUniformSpreadAreWithinOnePercent) {
  Histogram h;
  for (uint64_t v = 1; v <= 100000; ++v) h.record(v * 1000);  // 1 µs .. 100 ms
  for (double p : {50.0, 75.0, 95.0, 99.0, 99.9}) {
    double want = p / 100.0 * 100000 * 1000;
    EXPECT_NEAR(double(h.percentile(p)), want, want * 0.01) << p;
  }
  EXPECT_EQ(h.min(), 1000u);
  EXPECT_EQ(h.max(), 100000000u);
  EXPECT_NEAR(h.mean(), 50000.5 * 1000, 1);
}

TEST(Histogram, MergeEqualsRecordingEverything) {
  Histogram a, b, all;
  std::mt19937_64 rng(7);
  for (int i = 0; i < 10000; ++i) {
    uint64_t v = rng() % 10'000'000;
    (i % 3 ? a : b).record(v);
    all.record(v);
  }
  a.merge(b);
  EXPECT_EQ(a.count(), all.count());
  EXPECT_EQ(a.min(), all.min());
  EXPECT_EQ(a.max(), all.max());
  for (double p : {1.0, 50.0, 99.0, 99.99}) EXPECT_EQ(a.percentile(p), all.percentile(p));
  a.reset();
  EXPECT_EQ(a.count(), 0u);
  EXPECT_EQ(a.percentile(50), 0u);
}

TEST(Histogram, HugeValuesAreClamped) {
  Histogram h;
  h.record(UINT64_MAX);
  EXPECT_EQ(h.max(), Histogram::kMaxValue);
}

TEST(SeqTracker, CountsLostAndDuplicated) {
  SeqTracker t;
  for (uint64_t s = 0; s < 1000; ++s)
    if (s != 10 && s != 500) {
      EXPECT_TRUE(t.record(3, s));
    }
  EXPECT_FALSE(t.record(3, 7));
  EXPECT_EQ(t.duplicates(), 1u);
  EXPECT_EQ(t.distinct(3), 998u);
  EXPECT_EQ(t.lost(3, 1000), 2u);
  EXPECT_EQ(t.lost(0, 5), 5u);  // a producer never heard from
  EXPECT_EQ(t.unexpected(3, 1000), 0u);
  t.record(3, 1000);
  EXPECT_EQ(t.unexpected(3, 1000), 1u);
  EXPECT_EQ(t.lost(3, 1000), 2u);
}

TEST(SeqTracker, MergeCountsOverlapAsDuplicates) {
  SeqTracker a, b;
  for (uint64_t s = 0; s < 100; ++s) (s % 2 ? a : b).record(0, s);
  b.record(0, 1);  // seen by both consumers
  b.record(0, 1);  // and twice by b
  a.merge(b);
  EXPECT_EQ(a.distinct(0), 100u);
  EXPECT_EQ(a.lost(0, 100), 0u);
  EXPECT_EQ(a.duplicates(), 2u);
}

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s) {
    if (c == ' ') {
      if (!cur.empty()) out.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (!cur.empty()) out.push_back(cur);
  return out;
}

TEST(Options, PerfTestDefaults) {
  Options o = parse_options({});
  EXPECT_EQ(o.producers, 1);
  EXPECT_EQ(o.consumers, 1);
  EXPECT_EQ(o.exchange, "direct");
  EXPECT_EQ(o.exchange_type, "direct");
  EXPECT_TRUE(o.routing_key.empty());
  EXPECT_FALSE(o.confirms());
  EXPECT_EQ(o.body_size, kMinBodySize);
  EXPECT_EQ(o.protocol, Protocol::Amqp091);
  EXPECT_EQ(o.amqp10_address_prefix, "/queue/");  // RabbitMQ 3.x's form, which warrend knows too
}

TEST(Options, Amqp10AddressPrefix) {
  Options o = parse_options(split("--protocol amqp10 --amqp10-address-prefix /queues/"));
  EXPECT_EQ(o.protocol, Protocol::Amqp10);
  EXPECT_EQ(o.amqp10_address_prefix, "/queues/");
}

TEST(Options, PerfTestFlags) {
  Options o = parse_options(split(
      "-x 2 -y 3 -u q1 -s 1024 -z 10 -C 500 -D 400 -a -A 100 -q 1000 -c 256 -f persistent -f mandatory -r 1000.5 "
      "-e ex -t fanout -k key -qa x-max-length=1000,x-queue-type=classic -ad false "
      "-h amqp://u:p@example.org:5673/v%2Fh --protocol amqp10 --json"));
  EXPECT_EQ(o.producers, 2);
  EXPECT_EQ(o.consumers, 3);
  EXPECT_EQ(o.queue, "q1");
  EXPECT_EQ(o.body_size, 1024u);
  EXPECT_EQ(o.seconds, 10);
  EXPECT_EQ(o.producer_count, 500u);
  EXPECT_EQ(o.consumer_count, 400u);
  EXPECT_TRUE(o.auto_ack);
  EXPECT_EQ(o.multi_ack_every, 100u);
  EXPECT_EQ(o.prefetch, 1000);
  EXPECT_EQ(o.confirm, 256);
  EXPECT_TRUE(o.persistent);
  EXPECT_TRUE(o.mandatory);
  EXPECT_DOUBLE_EQ(o.rate, 1000.5);
  EXPECT_EQ(o.exchange, "ex");
  EXPECT_EQ(o.exchange_type, "fanout");
  EXPECT_EQ(o.routing_key, "key");
  ASSERT_EQ(o.queue_args.size(), 2u);
  EXPECT_EQ(o.queue_args[0].key, "x-max-length");
  EXPECT_EQ(o.queue_args[0].value, "1000");
  EXPECT_EQ(o.queue_args[1].value, "classic");
  EXPECT_FALSE(o.auto_delete);
  EXPECT_EQ(o.protocol, Protocol::Amqp10);
  EXPECT_TRUE(o.json);
  Uri u = parse_uri(o.uri);
  EXPECT_EQ(u.user, "u");
  EXPECT_EQ(u.password, "p");
  EXPECT_EQ(u.host, "example.org");
  EXPECT_EQ(u.port, 5673);
  EXPECT_EQ(u.vhost, "v/h");
}

TEST(Options, LongFormsAndQueuePattern) {
  Options o = parse_options(split("--producers 4 --queue-pattern perf-%d --queue-pattern-from 5 --queue-pattern-to 8 --rate=10"));
  EXPECT_EQ(o.producers, 4);
  EXPECT_EQ(o.queue_pattern_count(), 4);
  EXPECT_EQ(o.pattern_queue(0), "perf-5");
  EXPECT_EQ(o.pattern_queue(3), "perf-8");
  EXPECT_EQ(o.rate, 10);
}

TEST(Options, SmallBodiesAreRaisedTo16) {
  Options o = parse_options(split("-s 12"));
  EXPECT_EQ(o.body_size, 16u);
  EXPECT_TRUE(o.body_size_raised);
}

TEST(Options, Errors) {
  EXPECT_THROW(parse_options(split("-x")), UsageError);
  EXPECT_THROW(parse_options(split("-x two")), UsageError);
  EXPECT_THROW(parse_options(split("--nope")), UsageError);
  EXPECT_THROW(parse_options(split("-f fast")), UsageError);
  EXPECT_THROW(parse_options(split("-c 0")), UsageError);
  EXPECT_THROW(parse_options(split("--protocol stomp")), UsageError);
  EXPECT_THROW(parse_options(split("--queue-pattern perf")), UsageError);
  EXPECT_THROW(parse_options(split("-qa novalue")), UsageError);
  EXPECT_THROW(parse_options(split("-z -1")), UsageError);
  EXPECT_THROW(parse_options(split("--queue-pattern q-%d --queue-pattern-from 3 --queue-pattern-to 2")), UsageError);
}

TEST(Options, UriDefaults) {
  Uri u = parse_uri("amqp://127.0.0.1");
  EXPECT_EQ(u.port, 5672);
  EXPECT_EQ(u.user, "guest");
  EXPECT_EQ(u.vhost, "/");
  EXPECT_EQ(parse_uri("amqp://guest:guest@localhost:5680/%2F").vhost, "/");
}

TEST(Payload, StampRoundTrips) {
  std::vector<uint8_t> body(16);
  write_stamp(body, Stamp{.sent_ns = 123456789012345, .producer = 7, .seq = 4000000000u});
  Stamp s;
  ASSERT_TRUE(read_stamp(body, s));
  EXPECT_EQ(s.sent_ns, 123456789012345u);
  EXPECT_EQ(s.producer, 7u);
  EXPECT_EQ(s.seq, 4000000000u);
  EXPECT_FALSE(read_stamp(std::span<const uint8_t>(body).first(15), s));
}

}  // namespace
}  // namespace warren::perf
