// The management API: vhosts, users, permissions and vhost limits: the directory.
#include "mgmt/api_route.hpp"

#include "auth/definitions.hpp"
#include "server/node.hpp"

namespace warren::mgmt {

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

}  // namespace warren::mgmt
