// Socket helpers shared by the two drivers (connection.cpp, polled.cpp).
#include "client/transport.hpp"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace warren::client {

ConnectionOptions resolve_options(ConnectionOptions o) {
  o.session.user = o.uri.user;
  o.session.password = o.uri.password;
  o.session.vhost = o.uri.vhost;
  if (o.uri.heartbeat_s >= 0) o.session.heartbeat_s = uint16_t(o.uri.heartbeat_s);
  if (o.uri.frame_max) o.session.frame_max = o.uri.frame_max;
  if (const char* t = std::getenv("WARREN_CLIENT_TRACE"); t && *t && *t != '0') o.session.trace = true;
  return o;
}

Error os_error(std::string_view what, int err) { return Error{0, std::string(what) + ": " + std::strerror(err)}; }

int dial_tcp(const Uri& u, milliseconds timeout, Error& err) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (int rc = getaddrinfo(u.host.c_str(), std::to_string(u.port).c_str(), &hints, &res); rc != 0) {
    err = Error{0, u.host + ": " + gai_strerror(rc)};
    return -1;
  }
  int fd = -1;
  err = Error{0, "no address for " + u.host};
  for (addrinfo* a = res; a && fd < 0; a = a->ai_next) {
    fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, a->ai_protocol);
    if (fd < 0) continue;
    int rc = ::connect(fd, a->ai_addr, a->ai_addrlen);
    if (rc < 0 && errno == EINPROGRESS) {
      pollfd p{.fd = fd, .events = POLLOUT, .revents = 0};
      rc = ::poll(&p, 1, int(timeout.count()));
      int soerr = 0;
      socklen_t len = sizeof soerr;
      if (rc == 1) getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len);
      if (rc == 1 && soerr == 0) break;
      err = rc == 0 ? Error{0, "connect to " + u.host + ":" + std::to_string(u.port) + " timed out"}
                    : os_error("connect to " + u.host + ":" + std::to_string(u.port), soerr ? soerr : errno);
    } else if (rc == 0) {
      break;
    } else {
      err = os_error("connect to " + u.host + ":" + std::to_string(u.port), errno);
    }
    ::close(fd);
    fd = -1;
  }
  freeaddrinfo(res);
  if (fd >= 0) {
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  return fd;
}

}  // namespace warren::client
