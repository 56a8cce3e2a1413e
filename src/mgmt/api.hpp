#pragma once
// The management HTTP API (RabbitMQ 3.10's, a compatible subset) and the
// Prometheus endpoint, independent of the HTTP library: a request in, a
// response out, on an HTTP thread. Whatever touches the broker, the node
// or the directory runs on the broker's loop: a handler posts a closure
// that takes a snapshot (snapshot.hpp) or applies a change, and waits for
// it; JSON is encoded back on the HTTP thread. The loop never waits for
// the API.
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "mgmt/format.hpp"
#include "mgmt/snapshot.hpp"
#include "net/event_loop.hpp"

namespace warren::server {
class Node;
class AmqpServer;
}  // namespace warren::server

namespace warren::mgmt {

struct Request {
  std::string method;  // GET, HEAD, PUT, POST, DELETE, ...
  std::string target;  // as sent: the path, percent-encoded, and the query
  std::string body;
  std::string authorization;  // the Authorization header
  std::string x_reason;       // the X-Reason header (DELETE of a connection)
  std::string if_none_match;  // the If-None-Match header (the console's files)
  std::string peer;           // the client's address
};

struct Response {
  int status = 200;
  std::string body;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;
};

struct ApiOptions {
  std::string data_dir;  // for disk space
  // The listeners the API reports and its port-listener health check knows.
  std::string management_host;
  uint16_t management_port = 0;
  uint16_t prometheus_port = 0;
  // The socketlock primary's gauges, from its own loop (empty, or null
  // returned: not served by this warrend). Called on an HTTP thread.
  std::function<std::optional<SocketlockGauges>()> socketlock;
};

class Api {
 public:
  // `node` and `amqp` (null: AMQP off) live on `loop`'s thread and must
  // outlive every request: stop() the HTTP servers before they go.
  Api(net::EventLoop& loop, server::Node& node, server::AmqpServer* amqp, ApiOptions opts);
  ~Api();

  Response handle(const Request& r);
  // Prometheus: /metrics, /metrics/per-object.
  Response metrics(std::string_view path);
  void set_ports(uint16_t management, uint16_t prometheus) {
    opts_.management_port = management;
    opts_.prometheus_port = prometheus;
  }
  // From now on, requests waiting for the loop give up (503): the loop is
  // stopping and will not run them.
  void stop() { stopping_ = true; }

  struct Caller;  // who is asking (api.cpp)
  class Route;    // a request being served (api.cpp)

 private:
  friend class Route;
  // Runs `fn` on the broker's loop and returns its result; throws
  // Unavailable when the loop does not run it (stopping).
  template <class F>
  auto on_loop(F&& fn) -> decltype(fn());

  net::EventLoop& loop_;
  server::Node& node_;
  server::AmqpServer* amqp_;
  ApiOptions opts_;
  RateTracker rates_;
  std::atomic<bool> stopping_{false};
};

}  // namespace warren::mgmt
