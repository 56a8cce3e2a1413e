#include "mgmt/endpoints.hpp"

#include <spdlog/spdlog.h>

namespace warren::mgmt {

namespace {

// Threads per API listener: a browser keeps connections open (each holds a
// thread until idle for 1 s), so two left tools waiting behind it.
constexpr unsigned kApiThreads = 8;

std::unique_ptr<HttpServer> listen(const std::string& host, uint16_t port, const char* what, HttpServer::Handler h,
                                   unsigned threads, const net::TlsOptions* tls = nullptr) {
  try {
    auto s = std::make_unique<HttpServer>(host, port, std::move(h), threads, tls);
    spdlog::info("{} listening on {}:{}", what, host, s->port());
    return s;
  } catch (const std::exception& e) {
    spdlog::error("{}: {}: not served", what, e.what());
    return nullptr;
  }
}

// HTTP, and HTTPS beside it when asked.
void serve(const Endpoint& e, const char* what, const char* what_tls, const HttpServer::Handler& h, unsigned threads,
           std::unique_ptr<HttpServer>& plain, std::unique_ptr<HttpServer>& tls) {
  if (!e.enabled) return;
  plain = listen(e.host, e.port, what, h, threads);
  if (e.tls) tls = listen(e.tls->host, e.tls->port, what_tls, h, threads, &e.tls->options);
}

}  // namespace

Endpoints::Endpoints(net::EventLoop& loop, server::Node& node, server::AmqpServer* amqp, ApiOptions opts,
                     const Endpoint& management, const Endpoint& prometheus) {
  if (!management.enabled && !prometheus.enabled) return;
  api_ = std::make_unique<Api>(loop, node, amqp, std::move(opts));
  Api& api = *api_;
  serve(management, "management HTTP API", "management HTTPS API",
        [&api](const Request& r) { return api.handle(r); }, kApiThreads, http_, https_);
  serve(prometheus, "Prometheus metrics", "Prometheus metrics (HTTPS)",
        [&api](const Request& r) { return api.metrics(std::string_view(r.target).substr(0, r.target.find('?'))); },
        1, prometheus_, prometheus_tls_);
  api.set_ports(management_port(), prometheus_port());
}

Endpoints::~Endpoints() {
  if (api_) api_->stop();
  http_.reset();
  https_.reset();
  prometheus_.reset();
  prometheus_tls_.reset();
}

}  // namespace warren::mgmt
