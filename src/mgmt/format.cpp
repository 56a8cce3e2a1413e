#include "mgmt/format.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <cmath>
#include <stdexcept>
#include <tuple>

namespace warren::mgmt {

std::string base64_encode(std::string_view in, bool url) {
  const char* a = url ? "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
                      : "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    const uint32_t n = uint8_t(in[i]) << 16 | uint8_t(in[i + 1]) << 8 | uint8_t(in[i + 2]);
    for (int k = 18; k >= 0; k -= 6) out.push_back(a[(n >> k) & 63]);
  }
  if (i + 1 == in.size()) {
    const uint32_t n = uint8_t(in[i]) << 16;
    out.push_back(a[(n >> 18) & 63]);
    out.push_back(a[(n >> 12) & 63]);
    if (!url) out += "==";
  } else if (i + 2 == in.size()) {
    const uint32_t n = uint8_t(in[i]) << 16 | uint8_t(in[i + 1]) << 8;
    out.push_back(a[(n >> 18) & 63]);
    out.push_back(a[(n >> 12) & 63]);
    out.push_back(a[(n >> 6) & 63]);
    if (!url) out += "=";
  }
  return out;
}

namespace {

json rate(double r) { return json{{"rate", std::round(r * 10) / 10}}; }

}  // namespace

// ------------------------------------------------------------- arguments

json to_json(const broker::Value& v) {
  return std::visit(
      [](const auto& x) -> json {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, std::monostate>) return nullptr;
        else if constexpr (std::is_same_v<T, bool>) return x;
        else if constexpr (std::is_same_v<T, broker::Int>) {
          if (x.kind == broker::IntKind::U64) return uint64_t(x.value);
          return x.value;
        } else if constexpr (std::is_same_v<T, broker::Float>) return x.value;
        else if constexpr (std::is_same_v<T, broker::Decimal>) return double(x.value) / std::pow(10.0, x.scale);
        else if constexpr (std::is_same_v<T, std::string>) return x;
        else if constexpr (std::is_same_v<T, broker::Binary>) return x.bytes;
        else if constexpr (std::is_same_v<T, broker::Timestamp>) return x.seconds;
        else if constexpr (std::is_same_v<T, broker::Array>) {
          json a = json::array();
          for (const broker::Value& e : x) a.push_back(to_json(e));
          return a;
        } else {
          return to_json(static_cast<const broker::Table&>(x));
        }
      },
      v.v);
}

json to_json(const broker::Table& t) {
  json o = json::object();
  for (const auto& [k, v] : t) o[k] = to_json(v);
  return o;
}

namespace {
broker::Value value_from_json(const json& j) {
  switch (j.type()) {
    case json::value_t::null: return broker::Value();
    case json::value_t::boolean: return broker::Value(j.get<bool>());
    case json::value_t::number_integer: return broker::Value(j.get<int64_t>());
    case json::value_t::number_unsigned: {
      const uint64_t u = j.get<uint64_t>();
      return u > uint64_t(INT64_MAX) ? broker::Value(broker::Int{int64_t(u), broker::IntKind::U64})
                                     : broker::Value(int64_t(u));
    }
    case json::value_t::number_float: return broker::Value(j.get<double>());
    case json::value_t::string: return broker::Value(j.get<std::string>());
    case json::value_t::array: {
      broker::Array a;
      for (const json& e : j) a.push_back(value_from_json(e));
      return broker::Value(std::move(a));
    }
    case json::value_t::object: return broker::Value(table_from_json(j));
    default: return broker::Value();
  }
}
}  // namespace

broker::Table table_from_json(const json& j) {
  if (j.is_null()) return {};
  if (!j.is_object()) throw std::invalid_argument("arguments must be an object");
  broker::Table t;
  for (const auto& [k, v] : j.items()) t.emplace_back(k, value_from_json(v));
  return t;
}

// ------------------------------------------------------------------ rates

Counters counters_of(const broker::MessageCounts& c, const broker::PublishCounts* p, uint64_t ready,
                     uint64_t unacked) {
  Counters out{};
  out[kPublish] = p ? p->received : c.publish;
  out[kDeliver] = c.deliver;
  out[kDeliverNoAck] = c.deliver_no_ack;
  out[kGet] = c.get;
  out[kGetNoAck] = c.get_no_ack;
  out[kGetEmpty] = c.get_empty;
  out[kRedeliver] = c.redeliver;
  out[kAck] = c.ack;
  out[kDeliverGet] = c.deliver_get();
  if (p) {
    out[kConfirm] = p->confirmed;
    out[kReturnUnroutable] = p->returned;
    out[kDropUnroutable] = p->unroutable >= p->returned ? p->unroutable - p->returned : 0;
  }
  out[kMessages] = ready + unacked;
  out[kMessagesReady] = ready;
  out[kMessagesUnacked] = unacked;
  return out;
}

Rates RateTracker::update(const std::string& key, double now, const Counters& c) {
  constexpr double kWindow = 10, kSpacing = 1;
  std::lock_guard lock(mu_);
  Series& s = series_[key];
  s.last_seen = now;
  // Drop samples out of the window, keeping the newest of them as the base
  // when nothing newer is there.
  while (s.samples.size() > 1 && s.samples[1].t <= now - kWindow) s.samples.erase(s.samples.begin());
  Rates r{};
  if (!s.samples.empty()) {
    const Sample& base = s.samples.front();
    const double dt = now - base.t;
    if (dt >= 0.05)
      for (size_t i = 0; i < kStatCount; ++i) r[i] = (double(c[i]) - double(base.c[i])) / dt;
  }
  if (s.samples.empty() || now - s.samples.back().t >= kSpacing) s.samples.push_back({now, c});
  return r;
}

void RateTracker::prune(double now) {
  std::lock_guard lock(mu_);
  if (now - last_prune_ < 10) return;
  last_prune_ = now;
  std::erase_if(series_, [&](const auto& e) { return e.second.last_seen < now - 60; });
}

json message_stats(const Counters& c, const Rates& r, std::string_view what) {
  json o = json::object();
  auto add = [&](const char* name, Stat i) {
    o[name] = c[i];
    o[std::string(name) + "_details"] = rate(r[i]);
  };
  add("publish", kPublish);
  add("deliver", kDeliver);
  add("deliver_no_ack", kDeliverNoAck);
  add("get", kGet);
  add("get_no_ack", kGetNoAck);
  add("get_empty", kGetEmpty);
  add("deliver_get", kDeliverGet);
  add("redeliver", kRedeliver);
  add("ack", kAck);
  if (what != "queue") {
    add("confirm", kConfirm);
    add("return_unroutable", kReturnUnroutable);
    add("drop_unroutable", kDropUnroutable);
  }
  return o;
}

// ---------------------------------------------------------------- objects

const std::string& node_name() {
  static const std::string name = [] {
    char host[256] = "localhost";
    gethostname(host, sizeof host - 1);
    std::string h = host;
    if (size_t dot = h.find('.'); dot != std::string::npos) h.resize(dot);
    return "warren@" + h;
  }();
  return name;
}

json queue_json(const QueueInfo& q, const Rates& rates) {
  const Counters c = counters_of(q.counts, nullptr, q.messages_ready, q.messages_unacknowledged);
  json o = {
      {"name", q.name},
      {"vhost", q.vhost},
      {"durable", q.durable},
      {"auto_delete", q.auto_delete},
      {"exclusive", q.exclusive},
      {"arguments", to_json(q.arguments)},
      {"node", node_name()},
      {"type", q.type},
      {"state", "running"},
      {"policy", q.policy.empty() ? json(nullptr) : json(q.policy)},
      {"operator_policy", nullptr},
      {"effective_policy_definition", to_json(q.policy_definition)},
      {"exclusive_consumer_tag", nullptr},
      {"single_active_consumer_tag", nullptr},
      {"consumers", q.consumers},
      {"memory", q.memory},
      {"messages", q.messages_ready + q.messages_unacknowledged},
      {"messages_details", rate(rates[kMessages])},
      {"messages_ready", q.messages_ready},
      {"messages_ready_details", rate(rates[kMessagesReady])},
      {"messages_unacknowledged", q.messages_unacknowledged},
      {"messages_unacknowledged_details", rate(rates[kMessagesUnacked])},
      {"messages_paged_out", q.messages_paged_out},
      {"messages_ram", q.messages_ready - q.messages_paged_out + q.messages_unacknowledged},
      {"message_bytes_ready", q.message_bytes_ready},
      {"message_stats", message_stats(c, rates, "queue")},
  };
  if (q.lock) o["lock"] = {{"holders", q.lock_holders}, {"waiters", q.lock_waiters}};
  return o;
}

void write_json_string(std::string& out, std::string_view s) {
  out.push_back('"');
  for (size_t i = 0; i < s.size();) {
    const unsigned char c = s[i];
    if (c < 0x80) {
      switch (c) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        default:
          if (c < 0x20) fmt::format_to(std::back_inserter(out), "\\u{:04x}", c);
          else out.push_back(char(c));
      }
      ++i;
      continue;
    }
    // A whole UTF-8 sequence, or U+FFFD for a byte that starts none.
    const size_t n = (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    bool ok = n > 0 && i + n <= s.size();
    for (size_t k = 1; ok && k < n; ++k) ok = (uint8_t(s[i + k]) >> 6) == 2;
    if (ok) {
      out.append(s.substr(i, n));
      i += n;
    } else {
      out += "\xEF\xBF\xBD";
      ++i;
    }
  }
  out.push_back('"');
}

void write_queue_json(std::string& out, const QueueInfo& q, const Rates& rates) {
  const Counters c = counters_of(q.counts, nullptr, q.messages_ready, q.messages_unacknowledged);
  auto it = std::back_inserter(out);
  auto key = [&](std::string_view k) {
    out.push_back('"');
    out.append(k);
    out += "\":";
  };
  auto num = [&](std::string_view k, uint64_t v) {
    key(k);
    const fmt::format_int digits(v);
    out.append(digits.data(), digits.size());
    out.push_back(',');
  };
  auto details = [&](std::string_view k, double r) {
    key(k);
    const double rounded = std::round(r * 10) / 10;
    if (rounded == 0)  // the common case, without formatting
      out += "{\"rate\":0.0},";
    else
      fmt::format_to(it, "{{\"rate\":{:.1f}}},", rounded);
  };
  out.push_back('{');
  key("name");
  write_json_string(out, q.name);
  out.push_back(',');
  key("vhost");
  write_json_string(out, q.vhost);
  fmt::format_to(it, ",\"durable\":{},\"auto_delete\":{},\"exclusive\":{},", q.durable, q.auto_delete, q.exclusive);
  key("arguments");
  out += q.arguments.empty() ? "{}" : to_json(q.arguments).dump(-1, ' ', false, json::error_handler_t::replace);
  out.push_back(',');
  key("node");
  write_json_string(out, node_name());
  out.push_back(',');
  key("type");
  write_json_string(out, q.type);
  out += ",\"state\":\"running\",\"policy\":";
  if (q.policy.empty()) {
    out += "null,\"operator_policy\":null,\"effective_policy_definition\":{},";
  } else {
    write_json_string(out, q.policy);
    out += ",\"operator_policy\":null,\"effective_policy_definition\":";
    out += to_json(q.policy_definition).dump(-1, ' ', false, json::error_handler_t::replace);
    out.push_back(',');
  }
  out += "\"exclusive_consumer_tag\":null,\"single_active_consumer_tag\":null,";
  num("consumers", q.consumers);
  num("memory", q.memory);
  num("messages", q.messages_ready + q.messages_unacknowledged);
  details("messages_details", rates[kMessages]);
  num("messages_ready", q.messages_ready);
  details("messages_ready_details", rates[kMessagesReady]);
  num("messages_unacknowledged", q.messages_unacknowledged);
  details("messages_unacknowledged_details", rates[kMessagesUnacked]);
  num("messages_paged_out", q.messages_paged_out);
  num("messages_ram", q.messages_ready - q.messages_paged_out + q.messages_unacknowledged);
  num("message_bytes_ready", q.message_bytes_ready);
  key("message_stats");
  out.push_back('{');
  static constexpr std::tuple<std::string_view, std::string_view, Stat> kQueueStats[] = {
      {"publish", "publish_details", kPublish},
      {"deliver", "deliver_details", kDeliver},
      {"deliver_no_ack", "deliver_no_ack_details", kDeliverNoAck},
      {"get", "get_details", kGet},
      {"get_no_ack", "get_no_ack_details", kGetNoAck},
      {"get_empty", "get_empty_details", kGetEmpty},
      {"deliver_get", "deliver_get_details", kDeliverGet},
      {"redeliver", "redeliver_details", kRedeliver},
      {"ack", "ack_details", kAck}};
  for (const auto& [name, detail, i] : kQueueStats) {
    num(name, c[i]);
    details(detail, rates[i]);
  }
  out.back() = '}';
  if (q.lock) fmt::format_to(it, ",\"lock\":{{\"holders\":{},\"waiters\":{}}}", q.lock_holders, q.lock_waiters);
  out.push_back('}');
}

json exchange_json(const ExchangeInfo& x) {
  return {{"name", x.name},
          {"vhost", x.vhost},
          {"type", x.type},
          {"durable", x.durable},
          {"auto_delete", x.auto_delete},
          {"internal", x.internal},
          {"arguments", to_json(x.arguments)},
          {"user_who_performed_action", "rmq-internal"}};
}

std::string quote_plus(std::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.')
      out.push_back(char(c));
    else if (c == ' ')
      out.push_back('+');
    else
      out += fmt::format("%{:02X}", c);
  }
  return out;
}

std::string base64_decode(std::string_view in) {
  auto val = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+' || c == '-') return 62;
    if (c == '/' || c == '_') return 63;
    return -1;
  };
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    if (c == '=') break;
    const int v = val(c);
    if (v < 0) continue;
    acc = (acc << 6) | uint32_t(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(char((acc >> bits) & 0xFF));
    }
  }
  return out;
}

std::string percent_decode(std::string_view s, bool plus_is_space) {
  std::string out;
  out.reserve(s.size());
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      const int a = hex(s[i + 1]), b = hex(s[i + 2]);
      if (a >= 0 && b >= 0) {
        out.push_back(char(a * 16 + b));
        i += 2;
        continue;
      }
    }
    out.push_back(plus_is_space && s[i] == '+' ? ' ' : s[i]);
  }
  return out;
}

std::string properties_key(std::string_view key, const broker::Table& args) {
  if (args.empty()) return key.empty() ? "~" : quote_plus(key);
  // FNV-1a over the arguments' JSON: stable for equal tables.
  const std::string text = to_json(args).dump();
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : text) h = (h ^ c) * 1099511628211ull;
  std::string bytes(8, '\0');
  for (int i = 0; i < 8; ++i) bytes[i] = char(h >> (8 * i));
  return quote_plus(key) + "~" + quote_plus(base64_encode(bytes, true));
}

json binding_json(const BindingInfo& b) {
  return {{"source", b.source},
          {"vhost", b.vhost},
          {"destination", b.destination},
          {"destination_type", b.to_exchange ? "exchange" : "queue"},
          {"routing_key", b.routing_key},
          {"arguments", to_json(b.arguments)},
          {"properties_key", properties_key(b.routing_key, b.arguments)}};
}

json connection_json(const server::ConnectionSummary& c) {
  json props = json::object();
  for (const auto& [k, v] : c.info.client_properties) props[k] = v;
  return {{"name", c.name},
          {"node", node_name()},
          {"type", "network"},
          {"protocol", c.info.protocol.empty() ? "AMQP 0-9-1" : std::string(c.info.protocol)},
          {"user", c.user},
          {"user_who_performed_action", c.user},
          {"vhost", c.vhost},
          {"state", std::string(c.info.state)},
          {"channels", c.info.channels.size()},
          {"channel_max", c.info.channel_max},
          {"frame_max", c.info.frame_max},
          {"timeout", c.info.timeout},
          {"auth_mechanism", c.info.auth_mechanism},
          {"host", c.host},
          {"port", c.port},
          {"peer_host", c.peer_host},
          {"peer_port", c.peer_port},
          {"connected_at", c.connected_at},
          {"client_properties", props},
          {"recv_oct", c.recv_oct},
          {"send_oct", c.send_oct},
          {"ssl", c.ssl}};
}

std::string channel_name(const server::ConnectionSummary& c, uint32_t number) {
  return fmt::format("{} ({})", c.name, number);
}

json channel_json(const server::ConnectionSummary& c, const engine::ChannelInfo& ch) {
  return {{"name", channel_name(c, ch.number)},
          {"number", ch.number},
          {"node", node_name()},
          {"user", c.user},
          {"vhost", c.vhost},
          {"state", ch.closing ? "closing" : "running"},
          {"prefetch_count", ch.prefetch_count},
          {"global_prefetch_count", ch.global_prefetch_count},
          {"consumer_count", ch.consumers.size()},
          {"messages_unacknowledged", ch.messages_unacknowledged},
          {"messages_unconfirmed", ch.messages_unconfirmed},
          {"messages_uncommitted", 0},
          {"acks_uncommitted", 0},
          {"confirm", ch.confirm},
          {"transactional", ch.transactional},
          {"connection_details", {{"name", c.name}, {"peer_host", c.peer_host}, {"peer_port", c.peer_port}}}};
}

json consumer_json(const server::ConnectionSummary& c, const engine::ChannelInfo& ch, const engine::ConsumerInfo& k) {
  return {{"queue", {{"name", k.queue}, {"vhost", c.vhost}}},
          {"consumer_tag", k.tag},
          {"ack_required", k.ack_required},
          {"exclusive", k.exclusive},
          {"prefetch_count", k.prefetch_count},
          {"active", true},
          {"activity_status", "up"},
          {"arguments", json::object()},
          {"channel_details",
           {{"name", channel_name(c, ch.number)},
            {"number", ch.number},
            {"connection_name", c.name},
            {"peer_host", c.peer_host},
            {"peer_port", c.peer_port},
            {"user", c.user},
            {"node", node_name()}}}};
}

}  // namespace warren::mgmt
