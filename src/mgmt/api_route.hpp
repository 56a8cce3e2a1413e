#pragma once
// Inside the management API (api.hpp): what its route files share. A
// request is served by an Api::Route (its methods spread over api_*.cpp,
// one file per family of paths); a refusal is thrown as an HttpError and
// answered by Api::handle.
#include <fmt/format.h>

#include <chrono>
#include <future>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "broker/error.hpp"
#include "broker/message.hpp"
#include "mgmt/api.hpp"
#include "mgmt/snapshot.hpp"
#include "server/node.hpp"  // change() calls the Node

namespace warren::mgmt {

inline constexpr std::string_view kRabbitVersion = "3.10.0";  // the API we follow
inline constexpr std::string_view kVersion = "0.1.0";

// The loop did not run a request's closure: warrend is stopping (503).
struct Unavailable {};

// A reply other than 200 with a body: RabbitMQ's {"error": ..., "reason": ...}.
struct HttpError {
  int status;
  std::string error, reason;
};
[[noreturn]] inline void fail(int status, std::string error, std::string reason) {
  throw HttpError{status, std::move(error), std::move(reason)};
}
[[noreturn]] inline void not_found() { fail(404, "Object Not Found", "Not Found"); }
[[noreturn]] inline void bad_request(std::string reason) { fail(400, "bad_request", std::move(reason)); }
[[noreturn]] inline void not_authorised(std::string reason) { fail(401, "not_authorised", std::move(reason)); }

Response json_response(int status, const json& j);
Response empty(int status);
Response error_response(const HttpError& e);
bool loopback_address(std::string_view a);
// Is the text valid UTF-8? (A payload that is not goes out as base64.)
bool utf8(std::string_view s);
// A request's body as a JSON object ({} when empty); 400 otherwise.
json body_json(const std::string& body);
// Fields of a request's body: absent or null is `dflt`, a wrong type 400.
bool flag(const json& j, const char* key, bool dflt);
std::string text_of(const json& j, const char* key, std::string dflt = {});
// A core refusal as RabbitMQ's API answers it (rabbit_mgmt_util:amqp_request).
[[noreturn]] void core_error(const broker::Error& e);
// The exchange types, as /api/overview and /api/nodes list them.
const json& exchange_types();
// A message's properties from and to the API's JSON (publish, get).
broker::Properties properties_from_json(const json& p);
json properties_json(const broker::Properties& p);
// A dotted path into an object ("message_stats.publish").
const json* at_path(const json& j, std::string_view path);

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
  // A page of a listing: page `p` of the `filtered` items that passed the
  // name filter, out of `total` (RabbitMQ's filtered_count, total_count).
  // Also for a page taken before its JSON was made (queues, no sort asked).
  Response list_page(json page_items, int64_t p, int64_t size, int64_t filtered, int64_t total);
  // The page a request asks for: its number (1 up) and size (100, at most
  // 500); nullopt without `page`.
  std::optional<std::pair<int64_t, int64_t>> page_asked() const;
  // RabbitMQ's `columns`: each item keeps only those fields.
  void apply_columns(json& items) const;
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
  Response locks();

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

}  // namespace warren::mgmt
