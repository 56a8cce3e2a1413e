#pragma once
// Snapshots as RabbitMQ 3.10's management API writes them (field names,
// value types), and message rates. Pure functions over plain values: run
// on the HTTP threads, tested without a broker (mgmt_test.cpp).
#include <array>
#include <map>
#include <unordered_map>
#include <mutex>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "mgmt/snapshot.hpp"

namespace warren::mgmt {

using nlohmann::json;

// Argument tables both ways (RabbitMQ's amqp_table / to_amqp_table):
// integers are "long", strings "longstr", objects tables.
json to_json(const broker::Value& v);
json to_json(const broker::Table& t);
// Throws std::invalid_argument when `j` is not an object.
broker::Table table_from_json(const json& j);

// The counters behind message_stats, in one array so that rates are
// computed alike for all of them.
enum Stat : size_t {
  kPublish, kDeliver, kDeliverNoAck, kGet, kGetNoAck, kGetEmpty, kRedeliver, kAck, kDeliverGet,
  kConfirm, kReturnUnroutable, kDropUnroutable,
  kMessages, kMessagesReady, kMessagesUnacked,  // gauges: their "rate" is the change per second
  kStatCount
};
using Counters = std::array<uint64_t, kStatCount>;
using Rates = std::array<double, kStatCount>;
Counters counters_of(const broker::MessageCounts& c, const broker::PublishCounts* p, uint64_t ready,
                     uint64_t unacked);

// Per-second rates of counters over the last few seconds, from the
// snapshots the API took: each object keeps samples at least 1 s apart
// for 10 s, and a rate is the change since the oldest of them (the first
// read of an object shows 0). Any thread.
class RateTracker {
 public:
  Rates update(const std::string& key, double now, const Counters& c);
  // Forgets objects not updated for a minute (deleted queues).
  void prune(double now);

 private:
  struct Sample {
    double t;
    Counters c;
  };
  struct Series {
    std::vector<Sample> samples;  // oldest first
    double last_seen = 0;
  };
  std::mutex mu_;
  std::unordered_map<std::string, Series> series_;
  double last_prune_ = 0;
};

// "message_stats": {"publish": n, "publish_details": {"rate": r}, ...}
// for the counters RabbitMQ shows for `what` ("queue", "vhost", "overview").
json message_stats(const Counters& c, const Rates& r, std::string_view what);

// RabbitMQ's node name for this broker: "warren@<hostname>".
const std::string& node_name();

json queue_json(const QueueInfo& q, const Rates& rates);
// The same object appended to `out` as text, without building it: what
// /api/queues uses for long listings. Equal to queue_json's (tested).
void write_queue_json(std::string& out, const QueueInfo& q, const Rates& rates);
// `s` as a JSON string, quoted; invalid UTF-8 becomes U+FFFD.
void write_json_string(std::string& out, std::string_view s);
json exchange_json(const ExchangeInfo& x);
json binding_json(const BindingInfo& b);
// A binding's properties_key, as RabbitMQ packs it: "~" for no key and
// no arguments, the key URL-quoted ("~" as %7E), or key "~" a hash of the
// arguments (RabbitMQ's hash differs: the key is only ever read back from
// a listing, never computed by clients).
std::string properties_key(std::string_view key, const broker::Table& args);
json connection_json(const server::ConnectionSummary& c);
json channel_json(const server::ConnectionSummary& c, const engine::ChannelInfo& ch);
json consumer_json(const server::ConnectionSummary& c, const engine::ChannelInfo& ch, const engine::ConsumerInfo& k);
// RabbitMQ's channel name: "<connection name> (<number>)".
std::string channel_name(const server::ConnectionSummary& c, uint32_t number);

// Base64 (RFC 4648; `url`: its URL alphabet, unpadded). Decoding takes
// either alphabet and skips what is neither.
std::string base64_encode(std::string_view in, bool url = false);
std::string base64_decode(std::string_view in);
// application/x-www-form-urlencoded quoting (quote_plus) and its inverse.
std::string quote_plus(std::string_view s);
std::string percent_decode(std::string_view s, bool plus_is_space = false);

}  // namespace warren::mgmt
