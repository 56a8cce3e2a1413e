#pragma once
// Socket helpers shared by the two drivers: Connection (a thread per
// connection) and PolledConnection (the caller's thread).
#include <string_view>

#include "client/connection.hpp"
#include "client/session.hpp"
#include "client/uri.hpp"

namespace warren::client {

// A non-blocking TCP socket connected to the URI's host and port (each of
// its addresses in turn, each within `timeout`), TCP_NODELAY set. -1 and
// `err` when none answers.
int dial_tcp(const Uri& u, milliseconds timeout, Error& err);
Error os_error(std::string_view what, int err);
// The session options completed from the URI (user, password, vhost,
// heartbeat, frame_max) and the environment (WARREN_CLIENT_TRACE).
ConnectionOptions resolve_options(ConnectionOptions o);

}  // namespace warren::client
