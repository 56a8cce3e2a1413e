#pragma once
// Why the core refused something, in terms both AMQP versions can map:
// 0-9-1 reply codes (404, 403, 405, 406, ...) and 1.0 error conditions.
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

namespace warren::broker {

enum class ErrorCode : uint16_t {
  None = 0,
  NotFound = 404,            // amqp:not-found
  AccessRefused = 403,       // amqp:unauthorized-access
  ResourceLocked = 405,      // amqp:resource-locked (exclusive queue of another connection)
  PreconditionFailed = 406,  // amqp:precondition-failed (redeclare with other arguments, ...)
  CommandInvalid = 503,      // amqp:not-implemented (e.g. unknown exchange type; a connection error in 0-9-1)
  ResourceError = 506,       // amqp:resource-limit-exceeded
  NotAllowed = 530,          // amqp:not-allowed
  NotImplemented = 540,      // amqp:not-implemented
  InternalError = 541,       // amqp:internal-error
};

// A refusal, as data: what kind (`code`) and what and why (`detail`, e.g.
// "no queue 'q' in vhost '/'"), in no protocol's wording. Each front end
// words it: 0-9-1 as RabbitMQ's reply text ("NOT_FOUND - " + detail, text()),
// 1.0 as an error condition (amqp:not-found) with the detail as its
// description. Truthy when it is an error, as std::error_code.
struct Error {
  ErrorCode code = ErrorCode::None;
  std::string detail;
  explicit operator bool() const { return code != ErrorCode::None; }
  static Error none() { return {}; }
  static Error make(ErrorCode code, std::string detail) { return Error{code, std::move(detail)}; }
  // RabbitMQ's wording: "NOT_FOUND - no queue 'q' in vhost '/'".
  std::string text() const;
};

// RabbitMQ's reply-code names: "NOT_FOUND", "ACCESS_REFUSED", ...
std::string_view reply_name(ErrorCode code);
// RabbitMQ's rendering of a resource: "queue 'q' in vhost '/'".
std::string resource(std::string_view kind, std::string_view name, std::string_view vhost);

}  // namespace warren::broker
