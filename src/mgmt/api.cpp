#include "mgmt/api.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstring>

#include "mgmt/api_route.hpp"
#include "mgmt/console.hpp"
#include "mgmt/prometheus.hpp"
#include "server/node.hpp"

namespace warren::mgmt {

Api::Api(net::EventLoop& loop, server::Node& node, server::AmqpServer* amqp, ApiOptions opts)
    : loop_(loop), node_(node), amqp_(amqp), opts_(std::move(opts)) {}

Api::~Api() = default;

Response Api::handle(const Request& r) {
  // The web console's files (console.hpp): no login, nothing on the loop.
  if (std::optional<Response> file = serve_console(r.method, r.target, r.if_none_match)) return *file;
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
  const int64_t all = int64_t(items.size());
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
  if (auto page = page_asked()) {
    const auto [p, size] = *page;
    const int64_t filtered = int64_t(items.size());
    if (p > std::max<int64_t>(1, (filtered + size - 1) / size) && filtered > 0) bad_request("page out of range");
    json slice = json::array();
    for (int64_t i = (p - 1) * size; i < std::min(filtered, p * size); ++i) slice.push_back(std::move(items[size_t(i)]));
    apply_columns(slice);
    return list_page(std::move(slice), p, size, filtered, all);
  }
  apply_columns(items);
  return json_response(200, items);
}

// RabbitMQ's `columns`: only those fields (dotted paths keep their nesting).
void Api::Route::apply_columns(json& items) const {
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
}

std::optional<std::pair<int64_t, int64_t>> Api::Route::page_asked() const {
  const std::string page = param("page");
  if (page.empty()) return std::nullopt;
  const std::string ps = param("page_size");
  return std::pair(std::max<int64_t>(1, std::atoll(page.c_str())),
                   std::clamp<int64_t>(ps.empty() ? 100 : std::atoll(ps.c_str()), 1, 500));
}

Response Api::Route::list_page(json page_items, int64_t p, int64_t size, int64_t filtered, int64_t total) {
  const size_t count = page_items.size();
  return json_response(200, {{"filtered_count", filtered},
                             {"item_count", count},
                             {"items", std::move(page_items)},
                             {"page", p},
                             {"page_count", std::max<int64_t>(1, (filtered + size - 1) / size)},
                             {"page_size", size},
                             {"total_count", total}});
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
  if (top == "locks") return locks();  // Warren's own
  if (top == "permissions") return permissions();
  if (top == "vhost-limits") return vhost_limits();
  if (top == "definitions") return definitions();
  if (top == "policies" || top == "operator-policies" || top == "parameters" || top == "global-parameters")
    return policies();
  not_found();
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
  int64_t loop_us = 0;
  try {
    snap = on_loop([&] {
      const auto t0 = std::chrono::steady_clock::now();
      Snapshot taken = take_snapshot(node_, amqp_, w);
      loop_us = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0).count();
      return taken;
    });
  } catch (const Unavailable&) {
    return error_response({503, "service_unavailable", "the broker is stopping"});
  }
  if (opts_.socketlock) snap.socketlock = opts_.socketlock();
  Response r;
  r.content_type = "text/plain; version=0.0.4; charset=utf-8";
  r.body = prometheus_text(snap, process_info(opts_.data_dir), per_object);
  r.headers.emplace_back("X-Warren-Loop-Microseconds", std::to_string(loop_us));  // as the API's answers
  return r;
}

}  // namespace warren::mgmt
