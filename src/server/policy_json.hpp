#pragma once
// Policies in RabbitMQ's JSON, as definitions files and the management API
// write them: {"vhost", "name", "pattern", "apply-to", "definition",
// "priority"}. Definitions hold scalars (numbers, strings, booleans) and
// lists of them.
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "broker/policy.hpp"

namespace warren::server {

// A policy named `name` from the API's body or a definitions entry
// (whose own "name" and "vhost" the caller reads). Throws
// std::invalid_argument, in RabbitMQ's words, when a field is missing or
// has the wrong type; validate_policy judges the rest.
broker::Policy policy_from_json(std::string name, const nlohmann::json& p);
// An entry of a definitions file's "policies": its vhost and its policy.
struct PolicyEntry {
  std::string vhost;
  broker::Policy policy;
};
PolicyEntry policy_entry_from_json(const nlohmann::json& p);
nlohmann::json policy_to_json(std::string_view vhost, const broker::Policy& p);

}  // namespace warren::server
