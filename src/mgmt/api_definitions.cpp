// The management API: /api/definitions, export and import in RabbitMQ's format.
#include "mgmt/api_route.hpp"

#include "auth/definitions.hpp"
#include "server/node.hpp"
#include "server/policy_json.hpp"

namespace warren::mgmt {

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
    d["policies"] = api_.node_.policies_json("");
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
        for (const json& p : section("policies")) {
          const server::PolicyEntry e = server::policy_entry_from_json(p);
          if (!scratch.vhost(e.vhost))
            throw std::invalid_argument(fmt::format("policy '{}': no vhost '{}'", e.policy.name, e.vhost));
          if (broker::Error err = broker::validate_policy(e.policy))
            throw std::invalid_argument(fmt::format("policy '{}' in vhost '{}': {}", e.policy.name, e.vhost, err.detail));
        }
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
    try {
      node.import_policies(defs);
    } catch (const std::invalid_argument& e) {
      bad_request(e.what());
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

}  // namespace warren::mgmt
