// The management API's JSON shapes and Prometheus text, and the core's
// counters behind them, without a running broker.
#include <gtest/gtest.h>

#include <regex>
#include <sstream>

#include "broker/seeded_env.hpp"
#include "broker/test_util.hpp"
#include "broker/vhost.hpp"
#include "mgmt/format.hpp"
#include "mgmt/http_server.hpp"
#include "mgmt/prometheus.hpp"

namespace warren::mgmt {
namespace {

using broker::test::t0;

TEST(MgmtFormat, QueueHasRabbitMQFields) {
  QueueInfo q;
  q.vhost = "/";
  q.name = "orders";
  q.durable = true;
  q.arguments = {{"x-max-length", broker::Value(int64_t(10))}, {"x-queue-mode", broker::Value("lazy")}};
  q.type = "classic";
  q.messages_ready = 3;
  q.messages_unacknowledged = 2;
  q.consumers = 1;
  q.counts.publish = 7;
  q.counts.deliver = 4;
  q.counts.get_no_ack = 1;
  q.counts.ack = 2;
  q.counts.redeliver = 1;
  q.memory = queue_memory(300, 3, 1, 2);
  Rates r{};
  r[kPublish] = 2.5;
  const json j = queue_json(q, r);
  for (const char* f : {"name", "vhost", "durable", "auto_delete", "exclusive", "arguments", "type", "state",
                        "messages", "messages_ready", "messages_unacknowledged", "consumers", "memory", "node",
                        "message_stats", "messages_details", "policy", "exclusive_consumer_tag"})
    EXPECT_TRUE(j.contains(f)) << f;
  EXPECT_EQ(j["messages"], 5);
  EXPECT_EQ(j["state"], "running");
  EXPECT_EQ(j["arguments"]["x-max-length"], 10);
  EXPECT_EQ(j["arguments"]["x-queue-mode"], "lazy");
  const json& m = j["message_stats"];
  EXPECT_EQ(m["publish"], 7);
  EXPECT_EQ(m["publish_details"]["rate"], 2.5);
  EXPECT_EQ(m["deliver_get"], 5);  // deliver + get_no_ack
  EXPECT_EQ(m["ack"], 2);
  EXPECT_EQ(m["redeliver"], 1);
  EXPECT_FALSE(m.contains("confirm"));  // a vhost's and the overview's, not a queue's
  EXPECT_EQ(j["memory"], 1024 + 300 + 2 * 144 + 32 + 2 * 208);
}

TEST(MgmtFormat, StreamedQueueEqualsTheObject) {
  QueueInfo q;
  q.vhost = "v\"/\\";
  q.name = std::string("odd \x01\n\xff\xc3\xa9 name");  // a control, a newline, a stray byte, é
  q.type = "lock";
  q.lock = true;
  q.lock_holders = 2;
  q.lock_waiters = 5;
  q.arguments = {{"x-queue-type", broker::Value("lock")}};
  q.messages_ready = 1;
  q.counts.ack = 9;
  Rates r{};
  r[kAck] = 1.25;
  r[kMessages] = -3;
  for (const QueueInfo& one : {q, QueueInfo{}}) {
    std::string text;
    write_queue_json(text, one, r);
    // As the API sends the object: invalid UTF-8 replaced.
    const std::string sent = queue_json(one, r).dump(-1, ' ', false, json::error_handler_t::replace);
    EXPECT_EQ(json::parse(text), json::parse(sent)) << text;
  }
  std::string s;
  write_json_string(s, "a\xff");
  EXPECT_EQ(json::parse(s), "a\xef\xbf\xbd");
}

TEST(MgmtFormat, ArgumentsRoundTrip) {
  const json in = json::parse(R"({"x-max-length": 5, "x-dead-letter-exchange": "dlx", "flag": true,
                                 "ratio": 0.5, "nested": {"a": [1, "b"]}, "none": null})");
  const broker::Table t = table_from_json(in);
  EXPECT_EQ(to_json(t), in);
  EXPECT_EQ(broker::find(t, "x-max-length")->as_int(), 5);
  EXPECT_THROW(table_from_json(json::array()), std::invalid_argument);
}

TEST(MgmtFormat, BindingPropertiesKeyAsRabbitMQPacksIt) {
  EXPECT_EQ(properties_key("", {}), "~");
  EXPECT_EQ(properties_key("a.b", {}), "a.b");
  EXPECT_EQ(properties_key("a b/c~d", {}), "a+b%2Fc%7Ed");
  const broker::Table args{{"x-match", broker::Value("all")}};
  const std::string k = properties_key("key", args);
  EXPECT_TRUE(k.starts_with("key~")) << k;
  EXPECT_EQ(k, properties_key("key", args));  // stable
  EXPECT_NE(k, properties_key("key", {{"x-match", broker::Value("any")}}));
  BindingInfo b{"/", "amq.direct", "q", false, "key", {}};
  const json j = binding_json(b);
  EXPECT_EQ(j["destination_type"], "queue");
  EXPECT_EQ(j["properties_key"], "key");
  EXPECT_EQ(j["arguments"], json::object());
}

TEST(MgmtFormat, PercentDecoding) {
  EXPECT_EQ(percent_decode("%2F"), "/");
  EXPECT_EQ(percent_decode("a%2fb"), "a/b");
  EXPECT_EQ(percent_decode("a+b"), "a+b");
  EXPECT_EQ(percent_decode("a+b", true), "a b");
  EXPECT_EQ(percent_decode("100%"), "100%");
}

TEST(MgmtFormat, ConnectionChannelConsumerShapes) {
  server::ConnectionSummary c;
  c.name = "127.0.0.1:54321 -> 127.0.0.1:5672";
  c.peer_host = "127.0.0.1";
  c.peer_port = 54321;
  c.host = "127.0.0.1";
  c.port = 5672;
  c.user = "guest";
  c.vhost = "/";
  c.info.protocol = "AMQP 0-9-1";
  c.info.state = "running";
  c.info.client_properties = {{"product", "pika"}};
  engine::ChannelInfo ch;
  ch.number = 1;
  ch.prefetch_count = 10;
  ch.consumers.push_back({"q", "ctag-1", true, false, 10});
  c.info.channels.push_back(ch);
  const json j = connection_json(c);
  EXPECT_EQ(j["name"], c.name);
  EXPECT_EQ(j["protocol"], "AMQP 0-9-1");
  EXPECT_EQ(j["channels"], 1);
  EXPECT_EQ(j["peer_port"], 54321);
  EXPECT_EQ(j["client_properties"]["product"], "pika");
  const json cj = channel_json(c, ch);
  EXPECT_EQ(cj["name"], c.name + " (1)");
  EXPECT_EQ(cj["consumer_count"], 1);
  EXPECT_EQ(cj["connection_details"]["name"], c.name);
  const json k = consumer_json(c, ch, ch.consumers[0]);
  EXPECT_EQ(k["queue"]["name"], "q");
  EXPECT_EQ(k["queue"]["vhost"], "/");
  EXPECT_EQ(k["consumer_tag"], "ctag-1");
  EXPECT_EQ(k["channel_details"]["connection_name"], c.name);
}

TEST(MgmtFormat, RatesOverTheLastSeconds) {
  RateTracker t;
  Counters c{};
  EXPECT_EQ(t.update("q", 100.0, c)[kPublish], 0);  // the first read knows no rate
  c[kPublish] = 50;
  EXPECT_DOUBLE_EQ(t.update("q", 102.0, c)[kPublish], 25);
  c[kPublish] = 150;
  EXPECT_DOUBLE_EQ(t.update("q", 104.0, c)[kPublish], 37.5);  // since the oldest sample in 10 s
  c[kPublish] = 310;
  // Samples older than 10 s go, but the newest of them stays the base.
  EXPECT_DOUBLE_EQ(t.update("q", 120.0, c)[kPublish], (310.0 - 150) / 16);
  EXPECT_DOUBLE_EQ(t.update("q", 131.0, c)[kPublish], 0);  // nothing since the sample at 120
}

// A strict reader of the text format: every line a comment, blank, or
// "name{labels} value" of a family declared by # TYPE before it.
void check_exposition(const std::string& text, std::map<std::string, double>& values) {
  static const std::regex sample(R"(^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\.)*",?)*\})? (\S+)$)");
  std::map<std::string, std::string> typed;  // family -> type
  std::istringstream in(text);
  std::string line;
  ASSERT_TRUE(text.empty() || text.back() == '\n');
  while (std::getline(in, line)) {
    if (line.starts_with("# HELP ")) continue;
    if (line.starts_with("# TYPE ")) {
      std::istringstream l(line.substr(7));
      std::string name, type;
      l >> name >> type;
      EXPECT_TRUE(type == "gauge" || type == "counter" || type == "untyped" || type == "histogram") << line;
      EXPECT_TRUE(typed.emplace(name, type).second) << "declared twice: " << name;
      continue;
    }
    std::smatch m;
    ASSERT_TRUE(std::regex_match(line, m, sample)) << "not a sample: " << line;
    // A histogram's samples are its name with _bucket, _sum and _count.
    std::string family = m[1].str();
    for (std::string_view suffix : {"_bucket", "_sum", "_count"})
      if (!typed.contains(family) && family.ends_with(suffix)) {
        family.resize(family.size() - suffix.size());
        EXPECT_EQ(typed[family], "histogram") << line;
      }
    EXPECT_TRUE(typed.contains(family)) << "no # TYPE for " << m[1];
    values[m[1].str() + m[2].str()] = std::stod(m[5].str());
  }
}

TEST(MgmtPrometheus, TextFormatIsWellFormed) {
  Snapshot s;
  s.totals.connections = 2;
  s.totals.queues = 1;
  s.totals.messages_ready = 4;
  s.totals.publish.received = 9;
  s.totals.counts.ack = 3;
  QueueInfo q;
  q.vhost = "v\"1";
  q.name = "a\\b\nc";
  q.messages_ready = 4;
  q.lock = true;
  q.lock_holders = 1;
  q.lock_waiters = 2;
  s.queues.push_back(q);
  for (bool per_object : {false, true}) {
    std::map<std::string, double> v;
    check_exposition(prometheus_text(s, ProcessInfo{}, per_object), v);
    EXPECT_EQ(v["rabbitmq_connections"], 2);
    EXPECT_EQ(v["rabbitmq_global_messages_received_total"], 9);
    EXPECT_EQ(v["rabbitmq_global_messages_acknowledged_total"], 3);
    const std::string labels = R"({vhost="v\"1",queue="a\\b\nc"})";
    EXPECT_EQ(v["warren_lock_waiters" + labels], 2);
    if (per_object)
      EXPECT_EQ(v["rabbitmq_queue_messages_ready" + labels], 4);
    else
      EXPECT_EQ(v["rabbitmq_queue_messages_ready"], 4);
  }
}

TEST(MgmtPrometheus, StoreSyncHistogramAndSocketlockGauges) {
  LatencyHistogram h;
  h.observe(std::chrono::microseconds(50));    // <= 0.0001
  h.observe(std::chrono::microseconds(300));   // <= 0.0005
  h.observe(std::chrono::microseconds(300));
  h.observe(std::chrono::seconds(3));          // +Inf
  Snapshot s;
  s.store_sync.push_back({"/", h.read()});
  std::map<std::string, double> v;
  check_exposition(prometheus_text(s, ProcessInfo{}, false), v);
  EXPECT_EQ(v[R"(warren_store_sync_seconds_bucket{vhost="/",le="0.0001"})"], 1);
  EXPECT_EQ(v[R"(warren_store_sync_seconds_bucket{vhost="/",le="0.00025"})"], 1);
  EXPECT_EQ(v[R"(warren_store_sync_seconds_bucket{vhost="/",le="0.0005"})"], 3);  // cumulative
  EXPECT_EQ(v[R"(warren_store_sync_seconds_bucket{vhost="/",le="2.5"})"], 3);
  EXPECT_EQ(v[R"(warren_store_sync_seconds_bucket{vhost="/",le="+Inf"})"], 4);
  EXPECT_EQ(v[R"(warren_store_sync_seconds_count{vhost="/"})"], 4);
  EXPECT_NEAR(v[R"(warren_store_sync_seconds_sum{vhost="/"})"], 3.00065, 1e-9);
  EXPECT_FALSE(v.contains("warren_socketlock_clients"));  // not this warrend's
  s.socketlock = SocketlockGauges{.clients = 3, .exclusive_holders = 1, .waiters = 2, .epoch = 7, .next_token = 42};
  v.clear();
  check_exposition(prometheus_text(s, ProcessInfo{}, false), v);
  EXPECT_EQ(v["warren_socketlock_clients"], 3);
  EXPECT_EQ(v[R"(warren_socketlock_holders{mode="exclusive"})"], 1);
  EXPECT_EQ(v[R"(warren_socketlock_holders{mode="shared"})"], 0);
  EXPECT_EQ(v["warren_socketlock_waiters"], 2);
  EXPECT_EQ(v["warren_socketlock_epoch"], 7);
  EXPECT_EQ(v["warren_socketlock_next_token"], 42);
}

// The core's counters: exact after each event.
TEST(MgmtCounters, QueueAndVHostCountEveryEvent) {
  broker::SeededEnv env;
  broker::VHost v("/", env, t0);
  broker::QueueDeclareOk ok;
  ASSERT_FALSE(v.declare_queue({.name = "q"}, t0, ok));
  broker::PublishResult r;
  for (int i = 0; i < 5; ++i) ASSERT_FALSE(v.publish("", broker::test::msg("m", "q"), t0, r));
  ASSERT_FALSE(v.publish("", broker::test::msg("m", "nowhere"), t0, r));
  broker::QueuePtr q = v.find_queue("q");
  std::optional<broker::Delivery> d1 = q->get(false, t0);
  std::optional<broker::Delivery> d2 = q->get(true, t0);
  q->settle(d1->seq, broker::Outcome::Released, t0);  // back, redelivered
  broker::test::FakeConsumer c;
  ASSERT_FALSE(q->add_consumer({&c, "c"}, t0));
  ASSERT_EQ(c.got.size(), 4u);
  for (const broker::Delivery& d : c.got) q->settle(d.seq, broker::Outcome::Accepted, t0);
  EXPECT_TRUE(q->get(false, t0) == std::nullopt);
  const broker::MessageCounts& k = q->counts();
  EXPECT_EQ(k.publish, 5u);
  EXPECT_EQ(k.get, 1u);
  EXPECT_EQ(k.get_no_ack, 1u);
  EXPECT_EQ(k.deliver, 4u);
  EXPECT_EQ(k.redeliver, 1u);
  EXPECT_EQ(k.ack, 4u);
  EXPECT_EQ(k.get_empty, 1u);
  EXPECT_EQ(v.publish_counts().received, 6u);
  EXPECT_EQ(v.publish_counts().routed, 5u);
  EXPECT_EQ(v.publish_counts().unroutable, 1u);
  // Deleting the queue keeps its counts in the vhost's.
  uint64_t n = 0;
  ASSERT_FALSE(v.delete_queue("q", false, false, 0, t0, n));
  EXPECT_EQ(v.deleted_queue_counts().ack, 4u);
}

// A listener stopped at once, before its thread has begun to listen (a
// warrend told to stop as it starts): httplib's stop() alone would leave
// that thread listening for ever, and the join would hang (ctest's timeout).
TEST(MgmtHttpServer, StoppedBeforeItListensStops) {
  for (int i = 0; i < 200; ++i) {
    HttpServer s("127.0.0.1", 0, [](const Request&) { return Response{}; }, 1);
    EXPECT_GT(s.port(), 0);
  }
}

}  // namespace
}  // namespace warren::mgmt
