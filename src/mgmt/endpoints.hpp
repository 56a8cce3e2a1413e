#pragma once
// The management API's and Prometheus's listeners as warrend runs them:
// HTTP, and HTTPS beside it when asked (RabbitMQ's management.ssl), each on
// threads of its own, over one Api. A port that is taken (another
// broker's) is logged at error level and that listener skipped: warrend
// goes on serving AMQP without it.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "mgmt/api.hpp"
#include "mgmt/http_server.hpp"
#include "net/tls.hpp"

namespace warren::mgmt {

struct Endpoint {
  bool enabled = true;
  std::string host;
  uint16_t port = 0;  // 0: any free port
  struct Tls {
    net::TlsOptions options;
    std::string host;
    uint16_t port = 0;
  };
  std::optional<Tls> tls;  // HTTPS beside HTTP
};

class Endpoints {
 public:
  // Nothing is served when neither endpoint is enabled. `node` and `amqp`
  // live on `loop`'s thread (Api's rules).
  Endpoints(net::EventLoop& loop, server::Node& node, server::AmqpServer* amqp, ApiOptions opts,
            const Endpoint& management, const Endpoint& prometheus);
  // Stops the API first (requests waiting for the loop give up), then the
  // listeners: before the loop's objects go.
  ~Endpoints();
  Endpoints(const Endpoints&) = delete;
  Endpoints& operator=(const Endpoints&) = delete;

  // The plain HTTP ports bound (0: not served).
  uint16_t management_port() const { return http_ ? http_->port() : 0; }
  uint16_t prometheus_port() const { return prometheus_ ? prometheus_->port() : 0; }

 private:
  std::unique_ptr<Api> api_;
  std::unique_ptr<HttpServer> http_, https_, prometheus_, prometheus_tls_;
};

}  // namespace warren::mgmt
