#include "server/policy_json.hpp"

#include <fmt/format.h>

#include <stdexcept>

namespace warren::server {

namespace {

nlohmann::json value_to_json(const broker::Value& v) {
  if (const auto* f = std::get_if<broker::Float>(&v.v)) return f->value;
  if (auto i = v.as_int()) return *i;
  if (const std::string* s = v.as_string()) return *s;
  if (const bool* b = v.as_bool()) return *b;
  if (const broker::Array* a = v.as_array()) {
    nlohmann::json out = nlohmann::json::array();
    for (const broker::Value& e : *a) out.push_back(value_to_json(e));
    return out;
  }
  return nullptr;
}

broker::Value value_from_json(const nlohmann::json& j) {
  if (j.is_number_integer()) return broker::Value(j.get<int64_t>());
  if (j.is_number()) return broker::Value(j.get<double>());
  if (j.is_string()) return broker::Value(j.get<std::string>());
  if (j.is_boolean()) return broker::Value(j.get<bool>());
  if (j.is_array()) {
    broker::Array a;
    for (const nlohmann::json& e : j) a.push_back(value_from_json(e));
    return broker::Value(std::move(a));
  }
  return broker::Value();
}

}  // namespace

broker::Policy policy_from_json(std::string name, const nlohmann::json& p) {
  if (!p.is_object()) throw std::invalid_argument("a policy must be a JSON object");
  // RabbitMQ's management API: rabbit_mgmt_util:with_decode's key_missing.
  for (const char* key : {"pattern", "definition"})
    if (!p.contains(key)) throw std::invalid_argument(fmt::format("key_missing: {}", key));
  if (!p["pattern"].is_string()) throw std::invalid_argument("pattern must be a string");
  if (!p["definition"].is_object()) throw std::invalid_argument("definition must be an object");
  broker::Policy policy;
  policy.name = std::move(name);
  policy.pattern = p["pattern"].get<std::string>();
  if (auto it = p.find("apply-to"); it != p.end() && !it->is_null()) {
    if (!it->is_string()) throw std::invalid_argument("apply-to must be a string");
    policy.apply_to = it->get<std::string>();
  }
  if (auto it = p.find("priority"); it != p.end() && !it->is_null()) {
    // RabbitMQ takes the number or its text ("priority": "1" from its UI).
    if (it->is_number_integer()) policy.priority = it->get<int>();
    else if (it->is_string()) {
      try {
        size_t used = 0;
        policy.priority = std::stoi(it->get<std::string>(), &used);
        if (used != it->get<std::string>().size()) throw std::invalid_argument("");
      } catch (const std::exception&) {
        throw std::invalid_argument("priority must be an integer");
      }
    } else throw std::invalid_argument("priority must be an integer");
  }
  for (const auto& [k, v] : p["definition"].items()) policy.definition.emplace_back(k, value_from_json(v));
  return policy;
}

PolicyEntry policy_entry_from_json(const nlohmann::json& p) {
  if (!p.is_object() || !p.contains("vhost") || !p["vhost"].is_string() || !p.contains("name") ||
      !p["name"].is_string())
    throw std::invalid_argument("a policy needs vhost, name, pattern and a definition object");
  return {p["vhost"].get<std::string>(), policy_from_json(p["name"].get<std::string>(), p)};
}

nlohmann::json policy_to_json(std::string_view vhost, const broker::Policy& p) {
  nlohmann::json def = nlohmann::json::object();
  for (const auto& [k, v] : p.definition) def[k] = value_to_json(v);
  return {{"vhost", vhost},           {"name", p.name},         {"pattern", p.pattern},
          {"apply-to", p.apply_to},   {"definition", std::move(def)}, {"priority", p.priority}};
}

}  // namespace warren::server
