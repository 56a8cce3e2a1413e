#pragma once
// The directory in RabbitMQ's definitions format (rabbitmqctl
// export_definitions, GET /api/definitions): "users", "vhosts",
// "permissions", and vhost limits as "parameters" of component
// "vhost-limits". An export from RabbitMQ imports here and back. Warren's
// own file of durable definitions (DATA_DIR/definitions.json) is this too.
#include <nlohmann/json.hpp>

#include "auth/directory.hpp"

namespace warren::auth {

// Adds the directory's sections to `out` (other keys are left alone).
void export_directory(const Directory& dir, nlohmann::json& out);

// Adds or replaces every user, vhost, permission and vhost limit `defs`
// names (what it does not name stays). A user may carry "password" (hashed
// here) instead of "password_hash". Checks everything before changing
// anything: throws std::invalid_argument naming the entry at fault.
void import_directory(Directory& dir, const nlohmann::json& defs);

}  // namespace warren::auth
