// The management API: /api/overview, /api/nodes, health checks, aliveness.
#include "mgmt/api_route.hpp"

#include "mgmt/prometheus.hpp"
#include "server/amqp_server.hpp"
#include "server/node.hpp"

namespace warren::mgmt {

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
      {"exchange_types", exchange_types()},
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
      {"exchange_types", exchange_types()},
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

}  // namespace warren::mgmt
