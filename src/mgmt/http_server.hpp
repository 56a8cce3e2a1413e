#pragma once
// An HTTP or HTTPS listener (cpp-httplib) on threads of its own, handing
// every request to a function: the management API's ports and Prometheus's.
#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "mgmt/api.hpp"
#include "net/tls.hpp"

namespace warren::mgmt {

class HttpServer {
 public:
  using Handler = std::function<Response(const Request&)>;
  // Binds host:port (0: any free port); throws std::runtime_error when it
  // cannot, or when `tls` (HTTPS; null: HTTP) does not hold together.
  // `threads` serve requests (each waits for the broker's loop).
  HttpServer(const std::string& host, uint16_t port, Handler handler, unsigned threads,
             const net::TlsOptions* tls = nullptr);
  ~HttpServer();  // stop()
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  uint16_t port() const { return port_; }
  // Stops listening, lets the requests under way finish, joins.
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  uint16_t port_ = 0;
  std::thread thread_;
  std::atomic<bool> listen_returned_{false};
};

}  // namespace warren::mgmt
