// The management API: /api/connections, /api/channels, /api/consumers.
#include "mgmt/api_route.hpp"

#include "server/amqp_server.hpp"
#include "server/node.hpp"

namespace warren::mgmt {

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

}  // namespace warren::mgmt
