#include "auth/definitions.hpp"

#include <fmt/format.h>

#include <stdexcept>

namespace warren::auth {

using nlohmann::json;

namespace {

[[noreturn]] void bad(std::string_view what) { throw std::invalid_argument(std::string(what)); }

std::string text(const json& o, const char* key, std::string_view where, bool required = true) {
  auto it = o.find(key);
  if (it == o.end() || it->is_null()) {
    if (required) bad(fmt::format("{}: \"{}\" is missing", where, key));
    return {};
  }
  if (!it->is_string()) bad(fmt::format("{}: \"{}\" must be a string", where, key));
  return it->get<std::string>();
}

// RabbitMQ has written tags as "a,b" (before 3.9) and as ["a", "b"].
std::vector<std::string> tags_of(const json& o, std::string_view where) {
  std::vector<std::string> tags;
  auto it = o.find("tags");
  if (it == o.end() || it->is_null()) return tags;
  if (it->is_array()) {
    for (const json& t : *it) {
      if (!t.is_string()) bad(fmt::format("{}: tags must be strings", where));
      tags.push_back(t.get<std::string>());
    }
  } else if (it->is_string()) {
    std::string_view s = it->get_ref<const std::string&>();
    while (!s.empty()) {
      size_t comma = s.find(',');
      std::string_view t = s.substr(0, comma);
      while (!t.empty() && t.front() == ' ') t.remove_prefix(1);
      while (!t.empty() && t.back() == ' ') t.remove_suffix(1);
      if (!t.empty()) tags.emplace_back(t);
      s = comma == std::string_view::npos ? std::string_view() : s.substr(comma + 1);
    }
  } else {
    bad(fmt::format("{}: tags must be a list or a comma-separated string", where));
  }
  return tags;
}

const json& section(const json& defs, const char* name) {
  static const json empty = json::array();
  auto it = defs.find(name);
  if (it == defs.end() || it->is_null()) return empty;
  if (!it->is_array()) bad(fmt::format("\"{}\" must be a list", name));
  return *it;
}

int64_t limit_of(const json& v, const char* key, std::string_view where) {
  auto it = v.find(key);
  if (it == v.end()) return -1;
  if (!it->is_number_integer()) bad(fmt::format("{}: \"{}\" must be an integer", where, key));
  return std::max<int64_t>(-1, it->get<int64_t>());
}

}  // namespace

void export_directory(const Directory& dir, json& out) {
  json users = json::array();
  for (const auto& [name, u] : dir.users())
    users.push_back({{"name", name},
                     {"password_hash", u.password_hash},
                     {"hashing_algorithm", hash_algorithm_name(u.algorithm)},
                     {"tags", u.tags},
                     {"limits", json::object()}});
  json vhosts = json::array(), parameters = json::array();
  for (const auto& [name, v] : dir.vhosts()) {
    vhosts.push_back({{"name", name},
                      {"description", v.description},
                      {"tags", v.tags},
                      {"metadata", {{"description", v.description}, {"tags", v.tags}}},
                      {"limits", json::array()}});
    json limits = json::object();
    if (v.limits.max_connections >= 0) limits["max-connections"] = v.limits.max_connections;
    if (v.limits.max_queues >= 0) limits["max-queues"] = v.limits.max_queues;
    if (!limits.empty())
      parameters.push_back({{"vhost", name}, {"component", "vhost-limits"}, {"name", "limits"}, {"value", limits}});
  }
  json permissions = json::array();
  for (const auto& [key, p] : dir.permissions())
    permissions.push_back({{"user", key.first},
                           {"vhost", key.second},
                           {"configure", p.configure},
                           {"write", p.write},
                           {"read", p.read}});
  out["users"] = std::move(users);
  out["vhosts"] = std::move(vhosts);
  out["permissions"] = std::move(permissions);
  json& params = out["parameters"];
  if (!params.is_array()) params = json::array();
  for (json& p : parameters) params.push_back(std::move(p));
}

void import_directory(Directory& dir, const json& defs) {
  if (!defs.is_object()) bad("definitions must be a JSON object");
  // Everything is parsed and checked first, so that a bad entry changes nothing.
  std::vector<User> users;
  for (const json& u : section(defs, "users")) {
    const std::string where = fmt::format("user {}", u.value("name", std::string("?")));
    if (!u.is_object()) bad("users: each must be an object");
    User user{.name = text(u, "name", where)};
    const std::string algorithm = text(u, "hashing_algorithm", where, false);
    auto a = parse_hash_algorithm(algorithm.empty() ? "rabbit_password_hashing_sha256" : algorithm);
    if (!a) bad(fmt::format("{}: unknown hashing_algorithm '{}'", where, algorithm));
    user.algorithm = *a;
    if (u.contains("password") && !u["password"].is_null()) {
      user.password_hash = hash_password(text(u, "password", where), user.algorithm);
    } else {
      user.password_hash = text(u, "password_hash", where, false);
      if (!user.password_hash.empty() && !valid_hash(user.password_hash, user.algorithm))
        bad(fmt::format("{}: password_hash is not a {} hash", where, algorithm));
    }
    user.tags = tags_of(u, where);
    users.push_back(std::move(user));
  }
  std::vector<VHostInfo> vhosts;
  for (const json& v : section(defs, "vhosts")) {
    if (!v.is_object()) bad("vhosts: each must be an object");
    const std::string where = fmt::format("vhost {}", v.value("name", std::string("?")));
    VHostInfo info{.name = text(v, "name", where)};
    const json& meta = v.contains("metadata") && v["metadata"].is_object() ? v["metadata"] : v;
    info.description = text(meta, "description", where, false);
    info.tags = tags_of(meta, where);
    if (const VHostInfo* old = dir.vhost(info.name)) info.limits = old->limits;
    vhosts.push_back(std::move(info));
  }
  auto find_vhost = [&](const std::string& name) -> VHostInfo* {
    for (VHostInfo& v : vhosts)
      if (v.name == name) return &v;
    return nullptr;
  };
  std::vector<VHostInfo> limited;  // vhosts that exist already, with new limits
  for (const json& p : section(defs, "parameters")) {
    if (!p.is_object() || p.value("component", "") != "vhost-limits") continue;  // others: not the directory's
    const std::string vhost = text(p, "vhost", "parameter");
    const std::string where = fmt::format("vhost-limits of {}", vhost);
    const json& value = p.contains("value") ? p["value"] : json::object();
    VHostLimits limits{limit_of(value, "max-connections", where), limit_of(value, "max-queues", where)};
    if (VHostInfo* v = find_vhost(vhost)) {
      v->limits = limits;
    } else if (const VHostInfo* old = dir.vhost(vhost)) {
      VHostInfo copy = *old;
      copy.limits = limits;
      limited.push_back(std::move(copy));
    } else {
      bad(fmt::format("{}: no such vhost", where));
    }
  }
  struct Perm {
    std::string user, vhost;
    Permission p;
  };
  std::vector<Perm> perms;
  for (const json& p : section(defs, "permissions")) {
    if (!p.is_object()) bad("permissions: each must be an object");
    const std::string where = fmt::format("permission of {} in {}", p.value("user", std::string("?")),
                                          p.value("vhost", std::string("?")));
    Perm perm{text(p, "user", where), text(p, "vhost", where),
              {text(p, "configure", where), text(p, "write", where), text(p, "read", where)}};
    for (const std::string* re : {&perm.p.configure, &perm.p.write, &perm.p.read})
      if (auto why = Pattern::error(*re)) bad(fmt::format("{}: '{}': {}", where, *re, *why));
    bool user_known = dir.user(perm.user) != nullptr, vhost_known = dir.vhost(perm.vhost) || find_vhost(perm.vhost);
    for (const User& u : users) user_known = user_known || u.name == perm.user;
    if (!user_known) bad(fmt::format("{}: no such user", where));
    if (!vhost_known) bad(fmt::format("{}: no such vhost", where));
    perms.push_back(std::move(perm));
  }
  for (User& u : users) dir.put_user(std::move(u));
  for (VHostInfo& v : vhosts) dir.put_vhost(std::move(v));
  for (VHostInfo& v : limited) dir.put_vhost(std::move(v));
  for (const Perm& p : perms) dir.set_permission(p.user, p.vhost, p.p);
}

}  // namespace warren::auth
