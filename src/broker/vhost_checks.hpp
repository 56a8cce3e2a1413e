#pragma once
// RabbitMQ's access checks as VHost's declarations, deletions and bindings
// make them (vhost.cpp, vhost_bindings.cpp); not for use elsewhere.
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "auth/directory.hpp"
#include "broker/error.hpp"

namespace warren::broker::vhost_checks {

inline Error default_exchange_refused() {
  return Error::make(ErrorCode::AccessRefused, "operation not permitted on the default exchange");
}

// RabbitMQ's check_*_permitted: 403 with "<perm> access to <resource>
// refused for user '<u>'". No Access: nothing to check.
inline Error permitted(auth::Access* access, auth::Perm p, auth::Resource r, std::string_view name) {
  if (!access) return Error::none();
  if (std::optional<std::string> refused = access->check(p, r, name))
    return Error::make(ErrorCode::AccessRefused, std::move(*refused));
  return Error::none();
}

}  // namespace warren::broker::vhost_checks
