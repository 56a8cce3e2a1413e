#include "mgmt/api.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <future>
#include <set>
#include <stdexcept>
#include <thread>

#include "auth/definitions.hpp"
#include "mgmt/prometheus.hpp"
#include "server/amqp_server.hpp"
#include "server/node.hpp"

namespace warren::mgmt {

namespace {

constexpr std::string_view kRabbitVersion = "3.10.0";  // the API we follow
constexpr std::string_view kVersion = "0.1.0";

struct Unavailable {};

// A reply other than 200 with a body: RabbitMQ's {"error": ..., "reason": ...}.
struct HttpError {
  int status;
  std::string error, reason;
};
[[noreturn]] void fail(int status, std::string error, std::string reason) {
  throw HttpError{status, std::move(error), std::move(reason)};
}
[[noreturn]] void not_found() { fail(404, "Object Not Found", "Not Found"); }
[[noreturn]] void bad_request(std::string reason) { fail(400, "bad_request", std::move(reason)); }
[[noreturn]] void not_authorised(std::string reason) { fail(401, "not_authorised", std::move(reason)); }

Response json_response(int status, const json& j) {
  Response r;
  r.status = status;
  r.body = j.dump(-1, ' ', false, json::error_handler_t::replace);
  return r;
}
Response empty(int status) {
  Response r;
  r.status = status;
  return r;
}
Response error_response(const HttpError& e) {
  return json_response(e.status, json{{"error", e.error}, {"reason", e.reason}});
}

bool loopback_address(std::string_view a) {
  return a.starts_with("127.") || a == "::1" || a.starts_with("::ffff:127.");
}

// Is the text valid UTF-8? (A payload that is not goes out as base64.)
bool utf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    const unsigned char c = s[i];
    size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (n == 0 || i + n > s.size()) return false;
    for (size_t k = 1; k < n; ++k)
      if ((uint8_t(s[i + k]) >> 6) != 2) return false;
    i += n;
  }
  return true;
}

json body_json(const std::string& body) {
  if (body.empty()) return json::object();
  try {
    json j = json::parse(body);
    if (!j.is_object()) bad_request("the body must be a JSON object");
    return j;
  } catch (const json::parse_error& e) {
    bad_request(fmt::format("not JSON: {}", e.what()));
  }
}

bool flag(const json& j, const char* key, bool dflt) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return dflt;
  if (it->is_boolean()) return it->get<bool>();
  if (it->is_string()) return it->get<std::string>() == "true";
  bad_request(fmt::format("{} must be a boolean", key));
}

std::string text_of(const json& j, const char* key, std::string dflt = {}) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return dflt;
  if (!it->is_string()) bad_request(fmt::format("{} must be a string", key));
  return it->get<std::string>();
}

// A core refusal as RabbitMQ's API answers it (rabbit_mgmt_util:amqp_request).
[[noreturn]] void core_error(const broker::Error& e) {
  switch (e.code) {
    case broker::ErrorCode::AccessRefused: not_authorised(e.text());
    case broker::ErrorCode::NotFound: fail(404, "not_found", e.text());
    default: bad_request(e.text());
  }
}

const json kExchangeTypes = json::array({
    {{"name", "direct"}, {"description", "AMQP direct exchange, as per the AMQP specification"}, {"enabled", true}},
    {{"name", "fanout"}, {"description", "AMQP fanout exchange, as per the AMQP specification"}, {"enabled", true}},
    {{"name", "headers"}, {"description", "AMQP headers exchange, as per the AMQP specification"}, {"enabled", true}},
    {{"name", "topic"}, {"description", "AMQP topic exchange, as per the AMQP specification"}, {"enabled", true}},
});

std::optional<uint8_t> small_int(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return std::nullopt;
  if (!it->is_number_integer() || it->get<int64_t>() < 0 || it->get<int64_t>() > 255)
    bad_request(fmt::format("properties.{} must be an integer in 0..255", key));
  return uint8_t(it->get<int64_t>());
}

broker::Properties properties_from_json(const json& p) {
  if (p.is_null()) return {};
  if (!p.is_object()) bad_request("properties must be an object");
  broker::Properties out;
  auto str = [&](const char* key, std::optional<std::string>& into) {
    if (auto it = p.find(key); it != p.end() && !it->is_null()) {
      if (it->is_string()) into = it->get<std::string>();
      else if (it->is_number()) into = it->dump();
      else bad_request(fmt::format("properties.{} must be a string", key));
    }
  };
  str("content_type", out.content_type);
  str("content_encoding", out.content_encoding);
  str("correlation_id", out.correlation_id);
  str("reply_to", out.reply_to);
  str("expiration", out.expiration);
  str("message_id", out.message_id);
  str("type", out.type);
  str("user_id", out.user_id);
  str("app_id", out.app_id);
  str("cluster_id", out.cluster_id);
  out.delivery_mode = small_int(p, "delivery_mode");
  out.priority = small_int(p, "priority");
  if (auto it = p.find("timestamp"); it != p.end() && it->is_number_integer()) out.timestamp = it->get<uint64_t>();
  if (auto it = p.find("headers"); it != p.end() && !it->is_null()) out.headers = table_from_json(*it);
  return out;
}

json properties_json(const broker::Properties& p) {
  json o = json::object();
  auto put = [&](const char* key, const auto& v) {
    if (v) o[key] = *v;
  };
  put("content_type", p.content_type);
  put("content_encoding", p.content_encoding);
  put("delivery_mode", p.delivery_mode);
  put("priority", p.priority);
  put("correlation_id", p.correlation_id);
  put("reply_to", p.reply_to);
  put("expiration", p.expiration);
  put("message_id", p.message_id);
  put("timestamp", p.timestamp);
  put("type", p.type);
  put("user_id", p.user_id);
  put("app_id", p.app_id);
  put("cluster_id", p.cluster_id);
  if (p.headers) o["headers"] = to_json(*p.headers);
  return o;
}

// A dotted path into an object ("message_stats.publish").
const json* at_path(const json& j, std::string_view path) {
  const json* cur = &j;
  while (!path.empty()) {
    const size_t dot = path.find('.');
    const std::string key(path.substr(0, dot));
    if (!cur->is_object()) return nullptr;
    auto it = cur->find(key);
    if (it == cur->end()) return nullptr;
    cur = &*it;
    path = dot == std::string_view::npos ? std::string_view() : path.substr(dot + 1);
  }
  return cur;
}

}  // namespace

struct Api::Caller {
  std::string name;
  std::vector<std::string> tags;
  bool admin = false, monitor = false, policymaker = false;
  std::set<std::string> vhosts;  // those it may see
  bool sees(const std::string& v) const { return vhosts.contains(v); }
};

template <class F>
auto Api::on_loop(F&& fn) -> decltype(fn()) {
  using R = decltype(fn());
  auto task = std::make_shared<std::packaged_task<R()>>(std::forward<F>(fn));
  std::future<R> done = task->get_future();
  loop_.post([task] { (*task)(); });
  while (done.wait_for(std::chrono::milliseconds(50)) != std::future_status::ready)
    if (stopping_) throw Unavailable{};
  return done.get();
}

Api::Api(net::EventLoop& loop, server::Node& node, server::AmqpServer* amqp, ApiOptions opts)
    : loop_(loop), node_(node), amqp_(amqp), opts_(std::move(opts)) {}

Api::~Api() = default;

// ---------------------------------------------------------------- routing

class Api::Route {
 public:
  Route(Api& api, const Request& r) : api_(api), req_(r) {
    std::string_view t = r.target;
    const size_t q = t.find('?');
    std::string_view path = t.substr(0, q);
    if (q != std::string_view::npos) {
      std::string_view qs = t.substr(q + 1);
      while (!qs.empty()) {
        const size_t amp = qs.find('&');
        std::string_view kv = qs.substr(0, amp);
        const size_t eq = kv.find('=');
        query_[percent_decode(kv.substr(0, eq), true)] =
            eq == std::string_view::npos ? "" : percent_decode(kv.substr(eq + 1), true);
        qs = amp == std::string_view::npos ? std::string_view() : qs.substr(amp + 1);
      }
    }
    while (!path.empty()) {
      while (path.starts_with('/')) path.remove_prefix(1);
      if (path.empty()) break;
      const size_t slash = path.find('/');
      seg_.push_back(percent_decode(path.substr(0, slash)));
      path = slash == std::string_view::npos ? std::string_view() : path.substr(slash);
    }
  }

  Response serve();

 private:
  using Caller = Api::Caller;
  bool is(std::string_view m) const { return req_.method == m || (m == "GET" && req_.method == "HEAD"); }
  size_t n() const { return seg_.size(); }
  const std::string& s(size_t i) const { return seg_[i]; }
  std::string param(const std::string& k) const {
    auto it = query_.find(k);
    return it == query_.end() ? std::string() : it->second;
  }
  [[noreturn]] void method_not_allowed() const {
    fail(405, "method_not_allowed", fmt::format("{} is not allowed on {}", req_.method, req_.target));
  }

  void authenticate();
  void need_monitor() const {
    if (!caller_.monitor) not_authorised("Not monitor user");
  }
  void need_admin() const {
    if (!caller_.admin) not_authorised("Not administrator user");
  }
  // The vhost exists (404) and the caller may use it (401).
  void need_vhost(const std::string& v);
  // A listing covers the vhost in its path, or those the caller sees.
  void scope(Want& w) const {
    if (n() >= 2) w.only = {s(1)};
    else if (!caller_.monitor) w.only = caller_.vhosts;
  }
  Snapshot snapshot(Want w);
  // The connections the caller may see (its own; all for monitoring), only
  // the path's vhost's for /api/vhosts/{vhost}/...
  std::vector<server::ConnectionSummary> visible_connections(bool per_vhost) {
    Want w;
    w.connections = true;
    Snapshot snap = snapshot(w);
    std::vector<server::ConnectionSummary> out;
    for (server::ConnectionSummary& c : snap.connections)
      if ((!per_vhost || c.vhost == s(1)) && (caller_.monitor || c.user == caller_.name)) out.push_back(std::move(c));
    return out;
  }
  // After a change to users, vhosts, permissions or limits: the
  // definitions file, written on this thread before the answer.
  void persist(std::pair<std::string, uint64_t> defs);
  // A change to the directory or the vhosts: `fn` (returning the status,
  // or throwing HttpError) on the loop, with the definitions it leaves;
  // they are saved here before the answer.
  template <class F>
  Response change(F&& fn) {
    auto [status, defs] = api_.on_loop([&] {
      const int st = fn();
      return std::pair(st, api_.node_.definitions());
    });
    persist(defs);
    return empty(status);
  }
  Response list(json items);
  Rates rates_of(const std::string& key, double t, const Counters& c) { return api_.rates_.update(key, t, c); }

  Response overview();
  Response nodes();
  Response health();
  Response aliveness(const std::string& vhost);
  Response connections();
  Response channels();
  Response consumers();
  Response exchanges();
  Response queues();
  Response queue_get(const std::string& vhost, const std::string& name);
  Response bindings();
  Response vhosts();
  Response users();
  Response permissions();
  Response vhost_limits();
  Response definitions();
  Response import_definitions(const json& defs);
  Response policies();
  Response whoami();

  Api& api_;
  const Request& req_;
  std::vector<std::string> seg_;  // after /api
  std::map<std::string, std::string> query_;
  Caller caller_;

 public:
  // Time the broker's loop spent taking this request's snapshots: the
  // answer's X-Warren-Loop-Microseconds header.
  int64_t loop_us_ = 0;
};

Response Api::handle(const Request& r) {
  Route route(*this, r);
  try {
    Response out = route.serve();
    if (r.method == "HEAD") out.body.clear();
    out.headers.emplace_back("X-Warren-Loop-Microseconds", std::to_string(route.loop_us_));
    return out;
  } catch (const HttpError& e) {
    Response out = error_response(e);
    if (e.status == 401 && r.authorization.empty())
      out.headers.emplace_back("WWW-Authenticate", "Basic realm=\"RabbitMQ Management\"");
    return out;
  } catch (const Unavailable&) {
    return error_response({503, "service_unavailable", "the broker is stopping"});
  } catch (const std::exception& e) {
    spdlog::warn("management API: {} {}: {}", r.method, r.target, e.what());
    return error_response({500, "internal_server_error", e.what()});
  }
}

void Api::Route::authenticate() {
  std::string_view h = req_.authorization;
  if (!h.starts_with("Basic ")) not_authorised("Not_Authorized");
  const std::string creds = base64_decode(h.substr(6));
  const size_t colon = creds.find(':');
  if (colon == std::string::npos) not_authorised("Not_Authorized");
  std::string user = creds.substr(0, colon), password = creds.substr(colon + 1);
  auth::Peer peer{req_.peer, loopback_address(req_.peer)};
  caller_ = api_.on_loop([&]() -> Caller {
    auth::Directory& dir = *api_.node_.directory();
    const auth::LoginResult res = dir.authenticate(user, password, peer, api_.loop_.now());
    if (res == auth::LoginResult::LoopbackOnly) not_authorised("User can only log in via localhost");
    if (res != auth::LoginResult::Ok) not_authorised("Login failed");
    const auth::User* u = dir.user(user);
    Caller c;
    c.name = user;
    c.tags = u->tags;
    c.admin = u->has_tag("administrator");
    c.monitor = c.admin || u->has_tag("monitoring");
    c.policymaker = c.admin || u->has_tag("policymaker");
    if (!c.monitor && !c.policymaker && !u->has_tag("management")) not_authorised("Not management user");
    for (const auto& [name, _] : dir.vhosts())
      if (c.monitor || dir.grant(user, name)) c.vhosts.insert(name);
    return c;
  });
}

void Api::Route::need_vhost(const std::string& v) {
  const bool exists = api_.on_loop([&] { return api_.node_.directory()->vhost(v) != nullptr; });
  if (!exists) not_found();
  if (!caller_.sees(v)) not_authorised("User not authorised to access virtual host");
}

Snapshot Api::Route::snapshot(Want w) {
  return api_.on_loop([&] {
    const auto t0 = std::chrono::steady_clock::now();
    Snapshot snap = take_snapshot(api_.node_, api_.amqp_, w);
    loop_us_ += std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0).count();
    return snap;
  });
}

void Api::Route::persist(std::pair<std::string, uint64_t> defs) {
  if (int err = api_.node_.definitions_file().write(defs.first, defs.second))
    fail(500, "internal_server_error",
         fmt::format("the change is made but could not be saved to {}: {}", api_.node_.definitions_file().path(),
                     std::strerror(err)));
}

// RabbitMQ's list parameters: sort, sort_reverse, columns, name, page,
// page_size (a page answers with the counts around the items).
Response Api::Route::list(json items) {
  if (std::string name = param("name"); !name.empty()) {
    json kept = json::array();
    for (json& i : items)
      if (i.contains("name") && i["name"].is_string() && i["name"].get<std::string>().find(name) != std::string::npos)
        kept.push_back(std::move(i));
    items = std::move(kept);
  }
  if (std::string key = param("sort"); !key.empty()) {
    std::stable_sort(items.begin(), items.end(), [&](const json& a, const json& b) {
      const json* x = at_path(a, key);
      const json* y = at_path(b, key);
      if (!x || !y) return x == nullptr && y != nullptr;
      return *x < *y;
    });
  }
  if (param("sort_reverse") == "true") std::reverse(items.begin(), items.end());
  if (std::string cols = param("columns"); !cols.empty()) {
    std::vector<std::string> want;
    for (size_t p = 0; p <= cols.size();) {
      size_t c = cols.find(',', p);
      if (c == std::string::npos) c = cols.size();
      want.push_back(cols.substr(p, c - p));
      p = c + 1;
    }
    for (json& i : items) {
      json o = json::object();
      for (const std::string& w : want)
        if (const json* v = at_path(i, w)) {
          // Nested columns keep their nesting ("message_stats.publish").
          json* into = &o;
          std::string_view path = w;
          for (size_t dot; (dot = path.find('.')) != std::string_view::npos; path.remove_prefix(dot + 1))
            into = &(*into)[std::string(path.substr(0, dot))];
          (*into)[std::string(path)] = *v;
        }
      i = std::move(o);
    }
  }
  if (std::string page = param("page"); !page.empty()) {
    const int64_t p = std::max<int64_t>(1, std::atoll(page.c_str()));
    const std::string ps = param("page_size");
    const int64_t size = std::clamp<int64_t>(ps.empty() ? 100 : std::atoll(ps.c_str()), 1, 500);
    const int64_t total = int64_t(items.size());
    const int64_t pages = std::max<int64_t>(1, (total + size - 1) / size);
    if (p > pages && total > 0) bad_request("page out of range");
    json slice = json::array();
    for (int64_t i = (p - 1) * size; i < std::min(total, p * size); ++i) slice.push_back(std::move(items[size_t(i)]));
    return json_response(200, {{"filtered_count", total},
                               {"item_count", slice.size()},
                               {"items", std::move(slice)},
                               {"page", p},
                               {"page_count", pages},
                               {"page_size", size},
                               {"total_count", total}});
  }
  return json_response(200, items);
}

Response Api::Route::serve() {
  if (n() == 0 || s(0) != "api") not_found();
  seg_.erase(seg_.begin());
  authenticate();
  if (n() == 0) not_found();
  const std::string& top = s(0);
  if (top == "overview") return is("GET") ? overview() : (method_not_allowed(), Response{});
  if (top == "cluster-name") {
    if (!is("GET")) method_not_allowed();
    return json_response(200, {{"name", node_name()}});
  }
  if (top == "extensions") return json_response(200, json::array());
  if (top == "nodes") return nodes();
  if (top == "health") return health();
  if (top == "aliveness-test") {
    if (n() != 2) not_found();
    if (!is("GET")) method_not_allowed();
    return aliveness(s(1));
  }
  if (top == "connections") return connections();
  if (top == "channels") return channels();
  if (top == "consumers") return consumers();
  if (top == "exchanges") return exchanges();
  if (top == "queues") return queues();
  if (top == "bindings") return bindings();
  if (top == "vhosts") {
    if (n() == 3 && s(2) == "connections") return connections();
    if (n() == 3 && s(2) == "channels") return channels();
    if (n() == 3 && s(2) == "permissions") return permissions();
    return vhosts();
  }
  if (top == "users") {
    if (n() == 3 && s(2) == "permissions") return permissions();
    return users();
  }
  if (top == "whoami") return whoami();
  if (top == "permissions") return permissions();
  if (top == "vhost-limits") return vhost_limits();
  if (top == "definitions") return definitions();
  if (top == "policies" || top == "operator-policies" || top == "parameters" || top == "global-parameters")
    return policies();
  not_found();
}

// ------------------------------------------------------------- overview

Response Api::Route::overview() {
  if (!is("GET")) method_not_allowed();
  Want w;
  w.totals = caller_.monitor;
  w.vhosts = !caller_.monitor;
  w.connections = !caller_.monitor;
  if (!caller_.monitor) w.only = caller_.vhosts;
  Snapshot snap = snapshot(w);
  Totals t = snap.totals;
  if (!caller_.monitor) {  // what its own vhosts and connections hold
    t = Totals{};
    for (const VHostStats& v : snap.vhosts) {
      t.queues += v.queues;
      t.exchanges += v.exchanges;
      t.messages_ready += v.messages_ready;
      t.messages_unacknowledged += v.messages_unacknowledged;
      t.counts += v.counts;
      t.publish += v.publish;
    }
    for (const server::ConnectionSummary& c : snap.connections) {
      if (c.user != caller_.name) continue;
      ++t.connections;
      t.channels += c.info.channels.size();
      for (const engine::ChannelInfo& ch : c.info.channels) t.consumers += ch.consumers.size();
    }
  }
  const Counters c = counters_of(t.counts, &t.publish, t.messages_ready, t.messages_unacknowledged);
  const Rates r = rates_of(caller_.monitor ? std::string("\x01overview") : "\x01overview:" + caller_.name,
                           snap.taken_at, c);
  json listeners = json::array();
  for (auto [protocol, host, port] :
       {std::tuple{"amqp", snap.node.amqp_host, snap.node.amqp_port},
        std::tuple{"http", api_.opts_.management_host, api_.opts_.management_port},
        std::tuple{"http/prometheus", api_.opts_.management_host, api_.opts_.prometheus_port}})
    if (port)
      listeners.push_back({{"node", node_name()},
                           {"protocol", protocol},
                           {"ip_address", host},
                           {"port", port},
                           {"socket_opts", json::object()}});
  auto detail = [](double v) { return json{{"rate", std::round(v * 10) / 10}}; };
  json out = {
      {"management_version", kRabbitVersion},
      {"rates_mode", "basic"},
      {"exchange_types", kExchangeTypes},
      {"product_version", kVersion},
      {"product_name", "Warren"},
      {"rabbitmq_version", kRabbitVersion},
      {"cluster_name", node_name()},
      {"erlang_version", "none (Warren is C++)"},
      {"erlang_full_version", "none (Warren is C++)"},
      {"disable_stats", false},
      {"enable_queue_totals", false},
      {"message_stats", message_stats(c, r, "overview")},
      {"queue_totals",
       {{"messages", t.messages_ready + t.messages_unacknowledged},
        {"messages_details", detail(r[kMessages])},
        {"messages_ready", t.messages_ready},
        {"messages_ready_details", detail(r[kMessagesReady])},
        {"messages_unacknowledged", t.messages_unacknowledged},
        {"messages_unacknowledged_details", detail(r[kMessagesUnacked])}}},
      {"object_totals",
       {{"channels", t.channels},
        {"connections", t.connections},
        {"consumers", t.consumers},
        {"exchanges", t.exchanges},
        {"queues", t.queues}}},
      {"statistics_db_event_queue", 0},
      {"node", node_name()},
      {"listeners", listeners},
      {"contexts",
       json::array({{{"node", node_name()},
                     {"description", "RabbitMQ Management"},
                     {"path", "/"},
                     {"port", std::to_string(api_.opts_.management_port)}}})},
  };
  return json_response(200, out);
}

Response Api::Route::nodes() {
  if (!is("GET")) method_not_allowed();
  need_monitor();
  if (n() > 2) not_found();
  if (n() == 2 && s(1) != node_name()) not_found();
  Want w;
  w.totals = true;
  Snapshot snap = snapshot(w);
  const ProcessInfo p = process_info(api_.opts_.data_dir);
  json node = {
      {"name", node_name()},
      {"type", "disc"},
      {"running", true},
      {"being_drained", false},
      {"os_pid", std::to_string(getpid())},
      {"mem_used", p.resident_memory},
      {"mem_limit", snap.node.mem_limit},
      {"mem_alarm", snap.node.alarms.memory},
      {"disk_free", p.disk_free},
      {"disk_free_limit", snap.node.disk_free_limit},
      {"disk_free_alarm", snap.node.alarms.disk},
      {"fd_used", p.open_fds},
      {"fd_total", p.max_fds},
      {"sockets_used", snap.totals.connections},
      {"sockets_total", p.max_fds},
      {"proc_used", std::thread::hardware_concurrency()},
      {"processors", std::thread::hardware_concurrency()},
      {"uptime", uint64_t(p.uptime_seconds * 1000)},
      {"run_queue", 0},
      {"rates_mode", "basic"},
      {"partitions", json::array()},
      {"applications", json::array()},
      {"exchange_types", kExchangeTypes},
      {"auth_mechanisms",
       json::array({{{"name", "PLAIN"}, {"description", "SASL PLAIN authentication mechanism"}, {"enabled", true}},
                    {{"name", "AMQPLAIN"}, {"description", "QPid AMQPLAIN mechanism"}, {"enabled", true}}})},
  };
  return json_response(200, n() == 2 ? node : json::array({node}));
}

Response Api::Route::health() {
  if (!is("GET")) method_not_allowed();
  if (n() < 3 || s(1) != "checks") not_found();
  const std::string& check = s(2);
  if (check == "alarms" || check == "local-alarms") {
    const engine::Alarms a = snapshot(Want{}).node.alarms;
    if (!a.any()) return json_response(200, {{"status", "ok"}});
    json alarms = json::array();
    if (a.memory) alarms.push_back({{"node", node_name()}, {"resource", "memory"}});
    if (a.disk) alarms.push_back({{"node", node_name()}, {"resource", "disk"}});
    return json_response(503, {{"status", "failed"},
                               {"reason", check == "alarms" ? "There are alarms in effect in the cluster"
                                                            : "There are alarms in effect on the node"},
                               {"alarms", alarms}});
  }
  if (check == "port-listener" && n() == 4) {
    const long port = std::atol(s(3).c_str());
    const NodeInfo ni = snapshot(Want{}).node;
    std::vector<long> ports;
    if (ni.amqp_port) ports.push_back(ni.amqp_port);
    if (api_.opts_.management_port) ports.push_back(api_.opts_.management_port);
    if (api_.opts_.prometheus_port) ports.push_back(api_.opts_.prometheus_port);
    if (std::find(ports.begin(), ports.end(), port) != ports.end())
      return json_response(200, {{"status", "ok"}, {"port", port}});
    return json_response(503, {{"status", "failed"},
                               {"reason", fmt::format("No active listener on port {}", port)},
                               {"missing", port},
                               {"ports", ports}});
  }
  if (check == "virtual-hosts") {
    const std::vector<std::string> down = api_.on_loop([&] {
      std::vector<std::string> out;
      for (const auto& [name, _] : api_.node_.directory()->vhosts())
        if (!api_.node_.broker().vhost(name)) out.push_back(name);
      return out;
    });
    if (down.empty()) return json_response(200, {{"status", "ok"}});
    return json_response(503, {{"status", "failed"}, {"reason", "Some virtual hosts are down"}, {"virtual-hosts", down}});
  }
  if (check == "node-is-quorum-critical" || check == "node-is-mirror-sync-critical")
    return json_response(200, {{"status", "ok"}});  // one node: nothing depends on another
  not_found();
}

// A queue "aliveness-test" in the vhost; a message through it and back.
Response Api::Route::aliveness(const std::string& vhost) {
  need_vhost(vhost);
  const std::string error = api_.on_loop([&]() -> std::string {
    broker::VHost* v = api_.node_.broker().vhost(vhost);
    if (!v) return "vhost is not running";
    const TimePoint now = api_.loop_.now();
    broker::QueueDeclareOk ok;
    if (broker::Error e = v->declare_queue({.name = "aliveness-test"}, now, ok)) return e.text();
    broker::PublishResult r;
    auto msg = broker::Message::built("", "aliveness-test", {}, std::make_shared<const std::string>("test_message"));
    if (broker::Error e = v->publish("", msg, now, r)) return e.text();
    broker::QueuePtr q = v->find_queue("aliveness-test");
    if (!q) return "the queue is gone";
    std::optional<broker::Delivery> d = q->get(true, now);
    if (!d || d->message->body_view() != "test_message") return "the message did not come back";
    return "";
  });
  if (!error.empty()) return json_response(503, {{"status", "failed"}, {"reason", error}});
  return json_response(200, {{"status", "ok"}});
}

// ---------------------------------------------------------- connections

Response Api::Route::connections() {
  // /api/connections[/{name}[/channels]], /api/vhosts/{vhost}/connections
  const bool per_vhost = s(0) == "vhosts";
  if (per_vhost) need_vhost(s(1));
  if (!per_vhost && n() >= 2) {
    const std::string& name = s(1);
    if (is("DELETE") && n() == 2) {
      // Its own connections, or any for an administrator.
      const std::string reason = req_.x_reason.empty() ? "Closed via management plugin" : req_.x_reason;
      const int found = api_.on_loop([&]() -> int {
        if (!api_.amqp_) return 0;
        std::vector<server::ConnectionSummary> all;
        api_.amqp_->describe_connections(all);
        for (const server::ConnectionSummary& c : all)
          if (c.name == name) {
            if (!caller_.admin && c.user != caller_.name) return -1;
            return api_.amqp_->close_connection(name, reason) ? 1 : 0;
          }
        return 0;
      });
      if (found < 0) not_authorised("User not authorised to access object");
      if (found == 0) not_found();
      return empty(204);
    }
  }
  if (!is("GET")) method_not_allowed();
  json out = json::array();
  for (const server::ConnectionSummary& c : visible_connections(per_vhost)) {
    if (!per_vhost && n() >= 2) {
      if (c.name != s(1)) continue;
      if (n() == 3 && s(2) == "channels") {
        for (const engine::ChannelInfo& ch : c.info.channels) out.push_back(channel_json(c, ch));
        return list(std::move(out));
      }
      if (n() != 2) not_found();
      return json_response(200, connection_json(c));
    }
    out.push_back(connection_json(c));
  }
  if (!per_vhost && n() >= 2) not_found();
  return list(std::move(out));
}

Response Api::Route::channels() {
  if (!is("GET")) method_not_allowed();
  const bool per_vhost = s(0) == "vhosts";
  if (per_vhost) need_vhost(s(1));
  json out = json::array();
  for (const server::ConnectionSummary& c : visible_connections(per_vhost)) {
    for (const engine::ChannelInfo& ch : c.info.channels) {
      if (!per_vhost && n() == 2) {
        if (channel_name(c, ch.number) == s(1)) return json_response(200, channel_json(c, ch));
        continue;
      }
      out.push_back(channel_json(c, ch));
    }
  }
  if (!per_vhost && n() == 2) not_found();
  return list(std::move(out));
}

Response Api::Route::consumers() {
  if (!is("GET")) method_not_allowed();
  if (n() > 2) not_found();
  if (n() == 2) need_vhost(s(1));
  Want w;
  w.connections = true;
  Snapshot snap = snapshot(w);
  json out = json::array();
  for (const server::ConnectionSummary& c : snap.connections) {
    if (!caller_.sees(c.vhost) || (n() == 2 && c.vhost != s(1))) continue;
    for (const engine::ChannelInfo& ch : c.info.channels)
      for (const engine::ConsumerInfo& k : ch.consumers) out.push_back(consumer_json(c, ch, k));
  }
  return list(std::move(out));
}

// ------------------------------------------------------------ exchanges

Response Api::Route::exchanges() {
  // /api/exchanges[/{vhost}[/{name}[/publish | /bindings/{source|destination}]]]
  if (n() >= 2) need_vhost(s(1));
  // The default exchange is "amq.default" in URLs.
  const std::string name = n() >= 3 ? (s(2) == "amq.default" ? "" : s(2)) : "";
  if (n() == 4 && s(3) == "publish") {
    if (!is("POST")) method_not_allowed();
    const json b = body_json(req_.body);
    const std::string key = text_of(b, "routing_key");
    std::string payload = text_of(b, "payload");
    const std::string enc = text_of(b, "payload_encoding", "string");
    if (enc == "base64") payload = base64_decode(payload);
    else if (enc != "string") bad_request("payload_encoding must be string or base64");
    broker::Properties props = properties_from_json(b.value("properties", json::object()));
    const bool routed = api_.on_loop([&]() -> bool {
      broker::VHost* v = api_.node_.broker().vhost(s(1));
      if (!v) not_found();
      auth::Access access(*api_.node_.directory(), caller_.name, s(1));
      if (broker::Error e = broker::VHost::may_publish(&access, name)) core_error(e);
      auto msg = broker::Message::built(name, key, std::move(props),
                                        std::make_shared<const std::string>(std::move(payload)));
      broker::PublishResult r;
      if (broker::Error e = v->publish(name, msg, api_.loop_.now(), r)) core_error(e);
      return r.queues > 0 || r.replies > 0;
    });
    return json_response(200, {{"routed", routed}});
  }
  if (n() == 5 && s(3) == "bindings" && (s(4) == "source" || s(4) == "destination")) {
    if (!is("GET")) method_not_allowed();
    Want w;
    w.bindings = true;
    w.exchanges = true;
    w.only = {s(1)};
    Snapshot snap = snapshot(w);
    if (std::none_of(snap.exchanges.begin(), snap.exchanges.end(), [&](const ExchangeInfo& x) { return x.name == name; }))
      not_found();
    json out = json::array();
    for (const BindingInfo& b : snap.bindings)
      if (s(4) == "source" ? b.source == name : (b.to_exchange && b.destination == name)) out.push_back(binding_json(b));
    return list(std::move(out));
  }
  if (n() > 3) not_found();
  if (n() == 3 && is("PUT")) {
    const json b = body_json(req_.body);
    broker::ExchangeDeclare d;
    d.name = name;
    d.type = text_of(b, "type");
    if (d.type.empty()) bad_request("type is required");
    d.durable = flag(b, "durable", true);
    d.auto_delete = flag(b, "auto_delete", false);
    d.internal = flag(b, "internal", false);
    d.arguments = table_from_json(b.value("arguments", json::object()));
    const bool created = api_.on_loop([&]() -> bool {
      broker::VHost* v = api_.node_.broker().vhost(s(1));
      if (!v) not_found();
      auth::Access access(*api_.node_.directory(), caller_.name, s(1));
      d.access = &access;
      const bool existed = v->find_exchange(d.name) != nullptr;
      if (broker::Error e = v->declare_exchange(d)) core_error(e);
      return !existed;
    });
    return empty(created ? 201 : 204);
  }
  if (n() == 3 && is("DELETE")) {
    const bool if_unused = param("if-unused") == "true";
    api_.on_loop([&] {
      broker::VHost* v = api_.node_.broker().vhost(s(1));
      if (!v || !v->find_exchange(name)) not_found();
      auth::Access access(*api_.node_.directory(), caller_.name, s(1));
      if (broker::Error e = v->delete_exchange(name, if_unused, &access)) core_error(e);
    });
    return empty(204);
  }
  if (!is("GET")) method_not_allowed();
  Want w;
  w.exchanges = true;
  scope(w);
  Snapshot snap = snapshot(w);
  json out = json::array();
  for (const ExchangeInfo& x : snap.exchanges) {
    if (!caller_.sees(x.vhost)) continue;
    if (n() == 3) {
      if (x.name == name) return json_response(200, exchange_json(x));
      continue;
    }
    out.push_back(exchange_json(x));
  }
  if (n() == 3) not_found();
  return list(std::move(out));
}

// --------------------------------------------------------------- queues

Response Api::Route::queues() {
  // /api/queues[/{vhost}[/{name}[/get | /contents | /bindings]]]
  if (n() >= 2) need_vhost(s(1));
  if (n() == 4 && s(3) == "get") {
    if (!is("POST")) method_not_allowed();
    return queue_get(s(1), s(2));
  }
  if (n() == 4 && s(3) == "contents") {
    if (!is("DELETE")) method_not_allowed();
    api_.on_loop([&] {
      broker::VHost* v = api_.node_.broker().vhost(s(1));
      if (!v || !v->find_queue(s(2))) not_found();
      auth::Access access(*api_.node_.directory(), caller_.name, s(1));
      uint64_t purged = 0;
      if (broker::Error e = v->purge_queue(s(2), 0, api_.loop_.now(), purged, &access)) core_error(e);
    });
    return empty(204);
  }
  if (n() == 4 && s(3) == "bindings") {
    if (!is("GET")) method_not_allowed();
    Want w;
    w.bindings = true;
    w.only = {s(1)};
    Snapshot snap = snapshot(w);
    json out = json::array();
    bool found = false;
    for (const BindingInfo& b : snap.bindings)
      if (!b.to_exchange && b.destination == s(2)) {
        found = true;
        out.push_back(binding_json(b));
      }
    if (!found) not_found();  // every queue has its default binding
    return list(std::move(out));
  }
  if (n() > 3) not_found();
  if (n() == 3 && is("PUT")) {
    const json b = body_json(req_.body);
    broker::QueueDeclare d;
    d.name = s(2);
    d.durable = flag(b, "durable", true);
    d.auto_delete = flag(b, "auto_delete", false);
    d.arguments = table_from_json(b.value("arguments", json::object()));
    // RabbitMQ 3.10 takes the type as a field too.
    if (std::string type = text_of(b, "type"); !type.empty() && !broker::find(d.arguments, "x-queue-type"))
      d.arguments.emplace_back("x-queue-type", broker::Value(type));
    const bool created = api_.on_loop([&]() -> bool {
      broker::VHost* v = api_.node_.broker().vhost(s(1));
      if (!v) not_found();
      auth::Access access(*api_.node_.directory(), caller_.name, s(1));
      d.access = &access;
      const bool existed = v->find_queue(d.name) != nullptr;
      broker::QueueDeclareOk ok;
      if (broker::Error e = v->declare_queue(d, api_.loop_.now(), ok)) core_error(e);
      return !existed;
    });
    return empty(created ? 201 : 204);
  }
  if (n() == 3 && is("DELETE")) {
    const bool if_unused = param("if-unused") == "true", if_empty = param("if-empty") == "true";
    api_.on_loop([&] {
      broker::VHost* v = api_.node_.broker().vhost(s(1));
      if (!v || !v->find_queue(s(2))) not_found();
      auth::Access access(*api_.node_.directory(), caller_.name, s(1));
      uint64_t dropped = 0;
      if (broker::Error e = v->delete_queue(s(2), if_unused, if_empty, 0, api_.loop_.now(), dropped, &access))
        core_error(e);
    });
    return empty(204);
  }
  if (!is("GET")) method_not_allowed();
  Want w;
  w.queues = true;
  scope(w);
  Snapshot snap = snapshot(w);
  api_.rates_.prune(snap.taken_at);
  json out = json::array();
  std::string key;
  // A plain listing is written straight out (write_queue_json): building
  // nlohmann objects for 10,000 queues costs more than the rest together.
  const bool plain = n() < 3 && query_.empty();
  Response fast;
  if (plain) fast.body.reserve(snap.queues.size() * 1400 + 2);
  if (plain) fast.body.push_back('[');
  for (const QueueInfo& q : snap.queues) {
    if (n() == 3 && q.name != s(2)) continue;
    key.assign(q.vhost).push_back('\0');
    key += q.name;
    const Rates r =
        rates_of(key, snap.taken_at, counters_of(q.counts, nullptr, q.messages_ready, q.messages_unacknowledged));
    if (n() == 3) return json_response(200, queue_json(q, r));
    if (plain) {
      if (fast.body.size() > 1) fast.body.push_back(',');
      write_queue_json(fast.body, q, r);
      continue;
    }
    out.push_back(queue_json(q, r));
  }
  if (n() == 3) not_found();
  if (plain) {
    fast.body.push_back(']');
    return fast;
  }
  return list(std::move(out));
}

// POST /api/queues/{vhost}/{name}/get: {"count", "ackmode", "encoding", "truncate"}
Response Api::Route::queue_get(const std::string& vhost, const std::string& name) {
  const json b = body_json(req_.body);
  const int64_t count = b.value("count", int64_t(1));
  const std::string ackmode = text_of(b, "ackmode", "ack_requeue_true");
  const std::string encoding = text_of(b, "encoding", "auto");
  const int64_t truncate = b.contains("truncate") && b["truncate"].is_number_integer() ? b["truncate"].get<int64_t>() : -1;
  broker::Outcome outcome;
  if (ackmode == "ack_requeue_true" || ackmode == "reject_requeue_true") outcome = broker::Outcome::Released;
  else if (ackmode == "ack_requeue_false") outcome = broker::Outcome::Accepted;
  else if (ackmode == "reject_requeue_false") outcome = broker::Outcome::Rejected;
  else bad_request("ackmode must be ack_requeue_true, ack_requeue_false, reject_requeue_true or reject_requeue_false");
  if (encoding != "auto" && encoding != "base64") bad_request("encoding must be auto or base64");
  struct Got {
    broker::MessagePtr msg;
    bool redelivered;
    uint64_t remaining;
  };
  std::vector<Got> got = api_.on_loop([&] {
    broker::VHost* v = api_.node_.broker().vhost(vhost);
    broker::QueuePtr q = v ? v->find_queue(name) : nullptr;
    if (!q) not_found();
    auth::Access access(*api_.node_.directory(), caller_.name, vhost);
    if (broker::Error e = broker::VHost::may_consume(&access, name)) core_error(e);
    if (broker::Error e = q->check_get(false)) core_error(e);
    const TimePoint now = api_.loop_.now();
    std::vector<Got> out;
    std::vector<uint64_t> seqs;
    for (int64_t i = 0; i < count; ++i) {
      std::optional<broker::Delivery> d = q->get(false, now);
      if (!d) break;
      seqs.push_back(d->seq);
      out.push_back({d->message, d->redelivered, 0});
    }
    // Settled after taking them all, as RabbitMQ does: a requeued one is
    // not taken again by the same request.
    for (uint64_t seq : seqs) q->settle(seq, outcome, now);
    const uint64_t left = q->ready_count();
    for (size_t i = 0; i < out.size(); ++i) out[i].remaining = left + (outcome == broker::Outcome::Released ? out.size() - i - 1 : 0);
    return out;
  });
  json out = json::array();
  for (const Got& g : got) {
    const broker::Message& m = *g.msg;
    std::string payload(m.body_view());
    if (m.codec()) payload = *m.codec()->plain_body(m.body());
    const size_t bytes = payload.size();
    if (truncate >= 0 && payload.size() > size_t(truncate)) payload.resize(size_t(truncate));
    const bool as_text = encoding == "auto" && utf8(payload);
    out.push_back({{"payload_bytes", bytes},
                   {"redelivered", g.redelivered},
                   {"exchange", m.exchange()},
                   {"routing_key", m.routing_key()},
                   {"message_count", g.remaining},
                   {"properties", properties_json(m.properties())},
                   {"payload", as_text ? payload : base64_encode(payload)},
                   {"payload_encoding", as_text ? "string" : "base64"}});
  }
  return json_response(200, out);
}

// ------------------------------------------------------------- bindings

Response Api::Route::bindings() {
  // /api/bindings[/{vhost}[/e/{source}/{q|e}/{dest}[/{props}]]]
  if (n() >= 2) need_vhost(s(1));
  if (n() == 2 || n() == 1) {
    if (!is("GET")) method_not_allowed();
    Want w;
    w.bindings = true;
    scope(w);
    Snapshot snap = snapshot(w);
    json out = json::array();
    for (const BindingInfo& b : snap.bindings)
      if (caller_.sees(b.vhost)) out.push_back(binding_json(b));
    return list(std::move(out));
  }
  if ((n() != 6 && n() != 7) || s(2) != "e" || (s(4) != "q" && s(4) != "e")) not_found();
  const std::string& vhost = s(1);
  const std::string source = s(3) == "amq.default" ? "" : s(3);
  const std::string& dest = s(5);
  const bool to_exchange = s(4) == "e";
  if (n() == 6 && is("POST")) {
    const json b = body_json(req_.body);
    const std::string key = text_of(b, "routing_key");
    const broker::Table args = table_from_json(b.value("arguments", json::object()));
    api_.on_loop([&] {
      broker::VHost* v = api_.node_.broker().vhost(vhost);
      if (!v) not_found();
      if (!v->find_exchange(source) || (to_exchange ? !v->find_exchange(dest) : !v->find_queue(dest))) not_found();
      auth::Access access(*api_.node_.directory(), caller_.name, vhost);
      broker::Error e = to_exchange ? v->bind_exchange(dest, source, key, args, &access)
                                    : v->bind_queue(dest, source, key, args, 0, &access);
      if (e) core_error(e);
    });
    Response r = empty(201);
    r.headers.emplace_back("Location", properties_key(key, args));
    return r;
  }
  // A listing between the two, or one binding by its properties key.
  Want w;
  w.bindings = true;
  w.only = {vhost};
  if (n() == 7 && is("DELETE")) {
    const std::string& props = s(6);
    api_.on_loop([&] {
      broker::VHost* v = api_.node_.broker().vhost(vhost);
      broker::ExchangePtr x = v ? v->find_exchange(source) : nullptr;
      if (!x) not_found();
      std::optional<broker::Binding> found;
      for (const broker::Binding& b : x->bindings())
        if (b.destination.name == dest && b.destination.is_exchange == to_exchange &&
            properties_key(b.key, b.arguments) == props)
          found = b;
      if (!found) not_found();
      auth::Access access(*api_.node_.directory(), caller_.name, vhost);
      broker::Error e = to_exchange ? v->unbind_exchange(dest, source, found->key, found->arguments, &access)
                                    : v->unbind_queue(dest, source, found->key, found->arguments, 0, &access);
      if (e) core_error(e);
    });
    return empty(204);
  }
  if (!is("GET")) method_not_allowed();
  Snapshot snap = snapshot(w);
  json out = json::array();
  for (const BindingInfo& b : snap.bindings) {
    if (b.source != source || b.destination != dest || b.to_exchange != to_exchange) continue;
    if (n() == 7) {
      if (properties_key(b.routing_key, b.arguments) == s(6)) return json_response(200, binding_json(b));
      continue;
    }
    out.push_back(binding_json(b));
  }
  if (n() == 7) not_found();
  return list(std::move(out));
}

// ----------------------------------------------------------------- vhosts

Response Api::Route::vhosts() {
  if (n() > 2) not_found();
  if (n() == 2 && is("PUT")) {
    need_admin();
    const json b = body_json(req_.body);
    auth::VHostInfo info;
    info.name = s(1);
    info.description = text_of(b, "description");
    if (auto it = b.find("tags"); it != b.end() && !it->is_null()) {
      if (it->is_array()) {
        for (const json& t : *it)
          if (t.is_string()) info.tags.push_back(t.get<std::string>());
      } else if (it->is_string()) {
        std::string_view t = it->get_ref<const std::string&>();
        while (!t.empty()) {
          const size_t c = t.find(',');
          std::string one(t.substr(0, c));
          one.erase(0, one.find_first_not_of(' '));
          one.erase(one.find_last_not_of(' ') + 1);
          if (!one.empty()) info.tags.push_back(one);
          t = c == std::string_view::npos ? std::string_view() : t.substr(c + 1);
        }
      }
    }
    return change([&] {
      auth::Directory& dir = *api_.node_.directory();
      const bool existed = dir.vhost(info.name) != nullptr;
      if (std::string err = api_.node_.add_vhost(info); !err.empty()) bad_request(err);
      // As RabbitMQ: whoever creates a vhost gets full permissions in it.
      if (!existed && !dir.permissions().contains({caller_.name, info.name}))
        dir.set_permission(caller_.name, info.name, {});
      return existed ? 204 : 201;
    });
  }
  if (n() == 2 && is("DELETE")) {
    need_admin();
    return change([&] {
      if (!api_.node_.directory()->vhost(s(1))) not_found();
      if (std::string err = api_.node_.delete_vhost(s(1)); !err.empty()) bad_request(err);
      return 204;
    });
  }
  if (!is("GET")) method_not_allowed();
  if (n() == 2) need_vhost(s(1));
  Want w;
  w.vhosts = true;
  w.connections = true;
  w.only = n() == 2 ? std::set<std::string>{s(1)} : caller_.vhosts;
  Snapshot snap = snapshot(w);
  auto meta = api_.on_loop([&] {
    std::map<std::string, auth::VHostInfo> out;
    for (const auto& [name, info] : api_.node_.directory()->vhosts())
      if (w.only.contains(name)) out.emplace(name, info);
    return out;
  });
  json out = json::array();
  for (const VHostStats& v : snap.vhosts) {
    auto it = meta.find(v.name);
    if (it == meta.end()) continue;
    uint64_t recv = 0, send = 0;
    for (const server::ConnectionSummary& c : snap.connections)
      if (c.vhost == v.name) {
        recv += c.recv_oct;
        send += c.send_oct;
      }
    const Counters c = counters_of(v.counts, &v.publish, v.messages_ready, v.messages_unacknowledged);
    const Rates r = rates_of("\x02" + v.name, snap.taken_at, c);
    json o = {{"name", v.name},
              {"description", it->second.description},
              {"tags", it->second.tags},
              {"metadata", {{"description", it->second.description}, {"tags", it->second.tags}}},
              {"default_queue_type", "classic"},
              {"tracing", false},
              {"cluster_state", {{node_name(), "running"}}},
              {"messages", v.messages_ready + v.messages_unacknowledged},
              {"messages_details", {{"rate", std::round(r[kMessages] * 10) / 10}}},
              {"messages_ready", v.messages_ready},
              {"messages_ready_details", {{"rate", std::round(r[kMessagesReady] * 10) / 10}}},
              {"messages_unacknowledged", v.messages_unacknowledged},
              {"messages_unacknowledged_details", {{"rate", std::round(r[kMessagesUnacked] * 10) / 10}}},
              {"message_stats", message_stats(c, r, "vhost")},
              {"recv_oct", recv},
              {"send_oct", send}};
    if (n() == 2) return json_response(200, o);
    out.push_back(std::move(o));
  }
  if (n() == 2) not_found();
  return list(std::move(out));
}

// ------------------------------------------------------------------ users

Response Api::Route::whoami() {
  if (!is("GET")) method_not_allowed();
  return json_response(200, {{"name", caller_.name}, {"tags", caller_.tags}});
}

Response Api::Route::users() {
  need_admin();
  if (n() == 2 && s(1) == "without-permissions") {
    if (!is("GET")) method_not_allowed();
  } else if (n() == 2 && s(1) == "bulk-delete") {
    if (!is("POST")) method_not_allowed();
    const json b = body_json(req_.body);
    std::vector<std::string> names;
    if (auto it = b.find("users"); it != b.end() && it->is_array())
      for (const json& u : *it)
        if (u.is_string()) names.push_back(u.get<std::string>());
    return change([&] {
      for (const std::string& u : names) api_.node_.directory()->delete_user(u);
      if (api_.amqp_)
        api_.amqp_->close_connections(
            [&](const engine::ServerEngine& e) {
              return std::find(names.begin(), names.end(), e.user_name()) != names.end();
            },
            "user deleted");
      return 204;
    });
  }
  if (n() > 2) not_found();
  if (n() == 2 && is("PUT")) {
    json b = body_json(req_.body);
    if (!b.contains("password") && !b.contains("password_hash"))
      bad_request("Must provide password or password_hash");
    b["name"] = s(1);
    if (!b.contains("tags")) b["tags"] = "";
    b.erase("limits");
    return change([&] {
      auth::Directory& dir = *api_.node_.directory();
      const bool existed = dir.user(s(1)) != nullptr;
      try {
        auth::import_directory(dir, json{{"users", json::array({b})}});
      } catch (const std::invalid_argument& e) {
        bad_request(e.what());
      }
      return existed ? 204 : 201;
    });
  }
  if (n() == 2 && is("DELETE")) {
    return change([&] {
      if (!api_.node_.directory()->delete_user(s(1))) not_found();
      if (api_.amqp_)
        api_.amqp_->close_connections([&](const engine::ServerEngine& e) { return e.user_name() == s(1); },
                                      fmt::format("user '{}' deleted", s(1)));
      return 204;
    });
  }
  if (!is("GET")) method_not_allowed();
  json out = api_.on_loop([&] {
    const auth::Directory& dir = *api_.node_.directory();
    json rows = json::array();
    std::set<std::string> with_permissions;
    for (const auto& [key, _] : dir.permissions()) with_permissions.insert(key.first);
    for (const auto& [name, u] : dir.users()) {
      if (n() == 2 && s(1) != "without-permissions" && name != s(1)) continue;
      if (n() == 2 && s(1) == "without-permissions" && with_permissions.contains(name)) continue;
      rows.push_back({{"name", name},
                      {"password_hash", u.password_hash},
                      {"hashing_algorithm", std::string(auth::hash_algorithm_name(u.algorithm))},
                      {"tags", u.tags},
                      {"limits", json::object()}});
    }
    return rows;
  });
  if (n() == 2 && s(1) != "without-permissions") {
    if (out.empty()) not_found();
    return json_response(200, out[0]);
  }
  return list(std::move(out));
}

// /api/permissions[/{vhost}/{user}], /api/users/{user}/permissions,
// /api/vhosts/{vhost}/permissions
Response Api::Route::permissions() {
  need_admin();
  std::string only_user, only_vhost;
  if (s(0) == "users") only_user = s(1);
  if (s(0) == "vhosts") only_vhost = s(1);
  if (s(0) == "permissions") {
    if (n() != 1 && n() != 3) not_found();
    if (n() == 3) {
      only_vhost = s(1);
      only_user = s(2);
      if (is("PUT")) {
        const json b = body_json(req_.body);
        auth::Permission p{text_of(b, "configure"), text_of(b, "write"), text_of(b, "read")};
        return change([&] {
          auth::Directory& dir = *api_.node_.directory();
          const bool existed = dir.permissions().contains({only_user, only_vhost});
          try {
            dir.set_permission(only_user, only_vhost, p);
          } catch (const std::invalid_argument& e) {
            bad_request(e.what());
          }
          return existed ? 204 : 201;
        });
      }
      if (is("DELETE")) {
        return change([&] {
          if (!api_.node_.directory()->clear_permission(only_user, only_vhost)) not_found();
          return 204;
        });
      }
    }
  }
  if (!is("GET")) method_not_allowed();
  json out = api_.on_loop([&] {
    const auth::Directory& dir = *api_.node_.directory();
    if (!only_user.empty() && !dir.user(only_user)) not_found();
    if (!only_vhost.empty() && !dir.vhost(only_vhost)) not_found();
    json rows = json::array();
    for (const auto& [key, p] : dir.permissions()) {
      if ((!only_user.empty() && key.first != only_user) || (!only_vhost.empty() && key.second != only_vhost))
        continue;
      rows.push_back({{"user", key.first},
                      {"vhost", key.second},
                      {"configure", p.configure},
                      {"write", p.write},
                      {"read", p.read}});
    }
    return rows;
  });
  if (s(0) == "permissions" && n() == 3) {
    if (out.empty()) not_found();
    return json_response(200, out[0]);
  }
  return list(std::move(out));
}

// /api/vhost-limits[/{vhost}[/{name}]]: {"value": N}
Response Api::Route::vhost_limits() {
  if (n() > 3) not_found();
  if (n() == 3 && (is("PUT") || is("DELETE"))) {
    need_admin();
    const std::string& which = s(2);
    if (which != "max-connections" && which != "max-queues")
      bad_request(fmt::format("unknown limit '{}': max-connections or max-queues", which));
    int64_t value = -1;
    if (is("PUT")) {
      const json b = body_json(req_.body);
      auto it = b.find("value");
      if (it == b.end() || !it->is_number_integer()) bad_request("value must be an integer");
      value = std::max<int64_t>(-1, it->get<int64_t>());
    }
    return change([&] {
      const auth::VHostInfo* info = api_.node_.directory()->vhost(s(1));
      if (!info) not_found();
      auth::VHostLimits l = info->limits;
      (which == "max-connections" ? l.max_connections : l.max_queues) = value;
      if (std::string err = api_.node_.set_vhost_limits(s(1), l); !err.empty()) bad_request(err);
      return 204;
    });
  }
  if (!is("GET")) method_not_allowed();
  if (n() == 3) not_found();
  if (n() == 2) need_vhost(s(1));
  json out = api_.on_loop([&] {
    json rows = json::array();
    for (const auto& [name, info] : api_.node_.directory()->vhosts()) {
      if ((n() == 2 && name != s(1)) || !caller_.sees(name)) continue;
      json value = json::object();
      if (info.limits.max_connections >= 0) value["max-connections"] = info.limits.max_connections;
      if (info.limits.max_queues >= 0) value["max-queues"] = info.limits.max_queues;
      if (!value.empty()) rows.push_back({{"vhost", name}, {"value", value}});
    }
    return rows;
  });
  return list(std::move(out));
}

// ------------------------------------------------------------ definitions

Response Api::Route::definitions() {
  need_admin();
  if (n() != 1) not_found();
  if (is("POST")) return import_definitions(body_json(req_.body));
  if (!is("GET")) method_not_allowed();
  // The directory's sections (small) are made on the loop; the durable
  // objects come in the snapshot and are encoded here.
  Want w;
  w.queues = true;
  w.exchanges = true;
  w.bindings = true;
  auto [dir, snap] = api_.on_loop([&] {
    json d = json::object();
    auth::export_directory(*api_.node_.directory(), d);
    return std::pair(std::move(d), take_snapshot(api_.node_, api_.amqp_, w));
  });
  json out = {{"rabbit_version", kRabbitVersion},
              {"rabbitmq_version", kRabbitVersion},
              {"product_name", "Warren"},
              {"product_version", kVersion}};
  for (const char* k : {"users", "vhosts", "permissions", "topic_permissions", "parameters", "global_parameters",
                        "policies"})
    out[k] = dir.contains(k) ? dir[k] : json::array();
  std::set<std::pair<std::string, std::string>> durable_queues, durable_exchanges;
  json queues = json::array(), exchanges = json::array(), bindings = json::array();
  for (const QueueInfo& q : snap.queues) {
    if (!q.durable || q.exclusive) continue;
    durable_queues.emplace(q.vhost, q.name);
    queues.push_back({{"name", q.name},
                      {"vhost", q.vhost},
                      {"durable", true},
                      {"auto_delete", q.auto_delete},
                      {"arguments", to_json(q.arguments)}});
  }
  for (const ExchangeInfo& x : snap.exchanges) {
    if (x.name.empty() || x.name.starts_with("amq.")) continue;
    if (!x.durable) continue;
    durable_exchanges.emplace(x.vhost, x.name);
    exchanges.push_back({{"name", x.name},
                         {"vhost", x.vhost},
                         {"type", x.type},
                         {"durable", true},
                         {"auto_delete", x.auto_delete},
                         {"internal", x.internal},
                         {"arguments", to_json(x.arguments)}});
  }
  for (const BindingInfo& b : snap.bindings) {
    if (b.source.empty()) continue;  // the default exchange's implicit bindings
    const bool source_ok = durable_exchanges.contains({b.vhost, b.source}) || b.source.starts_with("amq.");
    const bool dest_ok = b.to_exchange ? (durable_exchanges.contains({b.vhost, b.destination}) ||
                                          b.destination.starts_with("amq."))
                                       : durable_queues.contains({b.vhost, b.destination});
    if (!source_ok || !dest_ok) continue;
    bindings.push_back({{"source", b.source},
                        {"vhost", b.vhost},
                        {"destination", b.destination},
                        {"destination_type", b.to_exchange ? "exchange" : "queue"},
                        {"routing_key", b.routing_key},
                        {"arguments", to_json(b.arguments)}});
  }
  out["queues"] = std::move(queues);
  out["exchanges"] = std::move(exchanges);
  out["bindings"] = std::move(bindings);
  Response r = json_response(200, out);
  if (param("download").size()) r.headers.emplace_back("Content-Disposition", "attachment; filename=" + param("download"));
  return r;
}

// RabbitMQ's import: the directory's sections (vhosts through the node, so
// that each gets its store), then exchanges, queues and bindings declared
// through the core. What exists already stays (a queue declared again with
// other arguments is an error, as in RabbitMQ).
Response Api::Route::import_definitions(const json& defs) {
  auto section = [&](const char* name) -> json {
    auto it = defs.find(name);
    if (it == defs.end() || it->is_null()) return json::array();
    if (!it->is_array()) bad_request(fmt::format("\"{}\" must be a list", name));
    return *it;
  };
  const json queues = section("queues"), exchanges = section("exchanges"), bindings = section("bindings");
  auto field = [](const json& o, const char* key, std::string_view where) -> std::string {
    auto it = o.find(key);
    if (it == o.end() || !it->is_string()) bad_request(fmt::format("{}: \"{}\" must be a string", where, key));
    return it->get<std::string>();
  };
  const std::pair<std::string, uint64_t> saved = api_.on_loop([&]() -> std::pair<std::string, uint64_t> {
    server::Node& node = api_.node_;
    auth::Directory& dir = *node.directory();
    // Checked whole first, on a copy: nothing changes unless all of it can.
    {
      auth::Directory scratch = dir;
      try {
        auth::import_directory(scratch, defs);
      } catch (const std::invalid_argument& e) {
        bad_request(e.what());
      }
    }
    for (const json& v : section("vhosts")) {
      const std::string name = field(v, "name", "vhosts");
      if (dir.vhost(name)) continue;
      if (std::string err = node.add_vhost({.name = name}); !err.empty()) bad_request(err);
    }
    auth::import_directory(dir, defs);
    for (const json& v : section("vhosts")) {
      const std::string name = field(v, "name", "vhosts");
      if (const auth::VHostInfo* info = dir.vhost(name)) node.set_vhost_limits(name, info->limits);
    }
    const TimePoint now = api_.loop_.now();
    auto vhost_of = [&](const json& o, std::string_view where) -> broker::VHost& {
      const std::string name = field(o, "vhost", where);
      broker::VHost* v = node.broker().vhost(name);
      if (!v) bad_request(fmt::format("{}: no vhost '{}'", where, name));
      return *v;
    };
    for (const json& x : exchanges) {
      broker::VHost& v = vhost_of(x, "exchanges");
      broker::ExchangeDeclare d;
      d.name = field(x, "name", "exchanges");
      d.type = field(x, "type", "exchanges");
      d.durable = flag(x, "durable", true);
      d.auto_delete = flag(x, "auto_delete", false);
      d.internal = flag(x, "internal", false);
      d.arguments = table_from_json(x.value("arguments", json::object()));
      if (broker::Error e = v.declare_exchange(d)) bad_request(e.text());
    }
    for (const json& q : queues) {
      broker::VHost& v = vhost_of(q, "queues");
      broker::QueueDeclare d;
      d.name = field(q, "name", "queues");
      d.durable = flag(q, "durable", true);
      d.auto_delete = flag(q, "auto_delete", false);
      d.arguments = table_from_json(q.value("arguments", json::object()));
      if (auto t = q.find("type"); t != q.end() && t->is_string() && !broker::find(d.arguments, "x-queue-type") &&
                                   t->get<std::string>() != "classic")
        d.arguments.emplace_back("x-queue-type", broker::Value(t->get<std::string>()));
      broker::QueueDeclareOk ok;
      if (broker::Error e = v.declare_queue(d, now, ok)) bad_request(e.text());
    }
    for (const json& b : bindings) {
      broker::VHost& v = vhost_of(b, "bindings");
      const std::string source = field(b, "source", "bindings"), dest = field(b, "destination", "bindings");
      const std::string type = field(b, "destination_type", "bindings");
      const std::string key = b.contains("routing_key") ? field(b, "routing_key", "bindings") : "";
      const broker::Table args = table_from_json(b.value("arguments", json::object()));
      broker::Error e = type == "exchange" ? v.bind_exchange(dest, source, key, args)
                                           : v.bind_queue(dest, source, key, args, 0);
      if (e) bad_request(e.text());
    }
    return node.definitions();
  });
  persist(saved);
  return empty(204);
}

// Policies and parameters are a later task: nothing is stored, nothing
// can be set.
Response Api::Route::policies() {
  if (is("GET")) {
    if (n() >= 3) not_found();
    return json_response(200, json::array());
  }
  fail(405, "not_implemented",
       fmt::format("/api/{} is not implemented in Warren yet: policies and runtime parameters cannot be set "
                   "(queue arguments can)",
                   s(0)));
}

// -------------------------------------------------------------- Prometheus

Response Api::metrics(std::string_view path) {
  const bool per_object = path == "/metrics/per-object" || path == "/metrics/detailed";
  if (path != "/metrics" && !per_object) return error_response({404, "Object Not Found", "Not Found"});
  Want w;
  w.totals = true;
  w.queues = per_object;
  w.lock_queues = true;
  Snapshot snap;
  try {
    snap = on_loop([&] { return take_snapshot(node_, amqp_, w); });
  } catch (const Unavailable&) {
    return error_response({503, "service_unavailable", "the broker is stopping"});
  }
  Response r;
  r.content_type = "text/plain; version=0.0.4; charset=utf-8";
  r.body = prometheus_text(snap, process_info(opts_.data_dir), per_object);
  return r;
}

}  // namespace warren::mgmt
