#include "broker/error.hpp"

#include <fmt/format.h>

namespace warren::broker {

std::string_view reply_name(ErrorCode code) {
  switch (code) {
    case ErrorCode::None: return "";
    case ErrorCode::NotFound: return "NOT_FOUND";
    case ErrorCode::AccessRefused: return "ACCESS_REFUSED";
    case ErrorCode::ResourceLocked: return "RESOURCE_LOCKED";
    case ErrorCode::PreconditionFailed: return "PRECONDITION_FAILED";
    case ErrorCode::CommandInvalid: return "COMMAND_INVALID";
    case ErrorCode::ResourceError: return "RESOURCE_ERROR";
    case ErrorCode::NotAllowed: return "NOT_ALLOWED";
    case ErrorCode::NotImplemented: return "NOT_IMPLEMENTED";
    case ErrorCode::InternalError: return "INTERNAL_ERROR";
  }
  return "INTERNAL_ERROR";
}

std::string Error::text() const { return fmt::format("{} - {}", reply_name(code), detail); }

std::string resource(std::string_view kind, std::string_view name, std::string_view vhost) {
  return fmt::format("{} '{}' in vhost '{}'", kind, name, vhost);
}

}  // namespace warren::broker
