#include "mgmt/http_server.hpp"

#include <httplib.h>

#include <sys/socket.h>

#include <chrono>
#include <stdexcept>

namespace warren::mgmt {

struct HttpServer::Impl {
  std::unique_ptr<httplib::Server> server;
};

namespace {

// HTTPS: httplib makes the SSL_CTX, net::configure_server_context sets it up
// as the AMQPS listener's (versions, ciphers, certificates, client
// verification); its error is kept to be thrown with its own words.
std::unique_ptr<httplib::Server> https_server(const net::TlsOptions& tls) {
  std::string error;
  auto s = std::make_unique<httplib::SSLServer>([&](SSL_CTX& ctx) {
    try {
      net::configure_server_context(&ctx, tls);
      return true;
    } catch (const std::exception& e) {
      error = e.what();
      return false;
    }
  });
  if (!s->is_valid()) throw std::runtime_error(error.empty() ? "TLS: cannot create a context" : error);
  return s;
}

}  // namespace

HttpServer::HttpServer(const std::string& host, uint16_t port, Handler handler, unsigned threads,
                       const net::TlsOptions* tls)
    : impl_(std::make_unique<Impl>()) {
  impl_->server = tls ? https_server(*tls) : std::make_unique<httplib::Server>();
  httplib::Server& s = *impl_->server;
  s.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  s.set_payload_max_length(64 << 20);  // a definitions file
  // SO_REUSEADDR only: httplib's default adds SO_REUSEPORT, with which a
  // second warrend would share the port (the kernel spreading requests
  // between them) instead of being refused it.
  s.set_socket_options([](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
  auto serve = [h = std::move(handler)](const httplib::Request& in, httplib::Response& out) {
    Request r;
    r.method = in.method;
    r.target = in.target;
    r.body = in.body;
    r.authorization = in.get_header_value("Authorization");
    r.x_reason = in.get_header_value("X-Reason");
    r.if_none_match = in.get_header_value("If-None-Match");
    r.peer = in.remote_addr;
    Response resp = h(r);
    out.status = resp.status;
    for (auto& [k, v] : resp.headers) out.set_header(k, v);
    // What set_content does, without copying the body (it takes a const&).
    if (!resp.body.empty() || resp.status == 200) {
      out.body = std::move(resp.body);
      out.set_header("Content-Type", resp.content_type);
    }
  };
  // httplib keeps a thread on each connection until it has been idle this
  // long (5 s by default). A browser keeps a connection or two open, and
  // opens some ahead of need: with a console open, other clients waited
  // seconds for one of the API's threads.
  s.set_keep_alive_timeout(1);
  s.Get(".*", serve);
  s.Put(".*", serve);
  s.Post(".*", serve);
  s.Delete(".*", serve);
  s.Patch(".*", serve);
  s.Options(".*", serve);
  if (port == 0) {
    const int p = s.bind_to_any_port(host);
    if (p <= 0) throw std::runtime_error("cannot bind " + host + ": no free port");
    port_ = uint16_t(p);
  } else {
    if (!s.bind_to_port(host, port)) throw std::runtime_error("cannot bind " + host + ":" + std::to_string(port));
    port_ = port;
  }
  thread_ = std::thread([this] {
    impl_->server->listen_after_bind();
    listen_returned_ = true;
  });
}

HttpServer::~HttpServer() { stop(); }

void HttpServer::stop() {
  if (!thread_.joinable()) return;
  // httplib's stop() does nothing until listen_after_bind() has begun, and
  // the thread would then listen for ever: a warrend told to stop right
  // after it started (under load, the thread may not have run yet) hung.
  while (!impl_->server->is_running() && !listen_returned_) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  impl_->server->stop();
  thread_.join();
}

}  // namespace warren::mgmt
