// TLS for net::Socket, with OpenSSL: a context built from configuration
// (certificates, ciphers, minimum version, client verification) and one
// session per connection.
//
// Why a BIO of our own, not SSL_set_fd: the Socket keeps doing all of the
// I/O. Ciphertext is read by the Socket's one read per turn and handed to
// the session as a view; what OpenSSL writes (handshake flights, records,
// alerts, close_notify) is appended straight to the Socket's OutputBuffer
// and leaves with the same one gather write at the end of the turn. So the
// write batching, EPOLLOUT backpressure, lingering close and fd lifetime of
// net::Socket stay exactly as they are, and there is no copy through a
// memory BIO's buffer: records land in the output buffer's pooled blocks.
// With SSL_set_fd, OpenSSL would write each SSL_write's records with its
// own write(2), and its WANT_READ/WANT_WRITE would leak into every caller.
//
// The engines never see any of this: they get plaintext through
// engine::Transport, as on a plain socket.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "net/output_buffer.hpp"

struct ssl_st;
struct ssl_ctx_st;
struct bio_st;

namespace warren::net {

struct TlsOptions {
  std::string cert_file;     // PEM: our certificate, then its chain
  std::string key_file;      // PEM, unencrypted (a daemon has no one to ask for a passphrase)
  std::string ca_file;       // PEM: CAs that client certificates (server), or the server (client), must chain to
  std::string ciphers;       // TLS 1.2 cipher list, OpenSSL's syntax; empty: OpenSSL's defaults
  std::string ciphersuites;  // TLS 1.3 suites, OpenSSL's syntax; empty: OpenSSL's defaults
  std::string min_version = "1.2";  // "1.2" or "1.3"
  // RabbitMQ's ssl_options: ask the client for a certificate and check it
  // against ca_file (a bad one ends the handshake); and, with it, refuse a
  // client that presents none.
  bool verify_peer = false;
  bool fail_if_no_peer_cert = false;
};

// Sets up an SSL_CTX made elsewhere (the management API's HTTPS server,
// whose library makes its own) as TlsContext::server would; throws as it.
void configure_server_context(ssl_ctx_st* ctx, const TlsOptions& opts);

// An SSL_CTX: shared by every session it makes; used from one thread.
class TlsContext {
 public:
  // Throws std::runtime_error naming the file or setting at fault.
  static std::shared_ptr<TlsContext> server(const TlsOptions& opts);
  // For tests and tools: verifies the server against ca_file (when given),
  // presents cert_file/key_file (when given).
  static std::shared_ptr<TlsContext> client(const TlsOptions& opts);
  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;

  bool is_server() const { return server_; }
  ssl_ctx_st* native() const { return ctx_; }

 private:
  TlsContext(ssl_ctx_st* ctx, bool server) : ctx_(ctx), server_(server) {}
  ssl_ctx_st* ctx_;
  bool server_;
};

// One connection's TLS. Ciphertext comes in through set_input() and
// read(); records go out into `wire` (the Socket's output buffer).
// Plaintext to send waits in plain() until encrypt(), which the Socket
// calls once per turn, before its gather write.
class TlsSession {
 public:
  TlsSession(const TlsContext& ctx, OutputBuffer& wire);
  ~TlsSession();
  TlsSession(const TlsSession&) = delete;
  TlsSession& operator=(const TlsSession&) = delete;

  // What read() found.
  static constexpr ptrdiff_t kWouldBlock = 0;  // needs more ciphertext
  static constexpr ptrdiff_t kClosed = -1;     // the peer's close_notify
  static constexpr ptrdiff_t kFailed = -2;     // handshake or record error: see error()

  // The ciphertext of one read; read() consumes it (OpenSSL keeps an
  // incomplete record). Must stay valid until read() returns <= 0.
  void set_input(std::string_view cipher) { in_ = cipher; }
  // Up to `cap` bytes of plaintext into `out`; runs the handshake first.
  // May append to the wire (handshake flights, alerts, session tickets).
  ptrdiff_t read(char* out, size_t cap);

  // The plaintext the connection sends, encrypted at the end of the turn.
  OutputBuffer& plain() { return plain_; }
  // Encrypts everything in plain() into the wire, small chunks coalesced
  // into records of up to 16 KiB. False (error() set) if OpenSSL refused.
  bool encrypt();
  // Our close_notify, into the wire (once; nothing after it is sent).
  void shutdown();

  bool handshake_done() const { return done_; }
  bool failed() const { return failed_; }
  bool client() const { return client_; }
  // The client certificate's subject CN, when it presented one that was
  // verified and whose subject has exactly one CN; for SASL EXTERNAL.
  const std::optional<std::string>& peer_cn() const { return peer_cn_; }
  std::string_view version() const;  // "TLSv1.3"; "" before the handshake
  std::string_view cipher() const;
  const std::string& error() const { return error_; }

  // For the BIO.
  size_t take_input(char* out, size_t len);
  void put_output(const char* data, size_t len) { wire_.append(std::string_view(data, len)); }

 private:
  void fail(int ssl_error);
  void handshake_finished();
  bool write_all(const char* data, size_t len);

  ssl_st* ssl_;
  OutputBuffer& wire_;
  OutputBuffer plain_;
  std::string_view in_;
  std::optional<std::string> peer_cn_;
  std::string error_;
  bool client_;
  bool done_ = false;
  bool failed_ = false;
  bool shut_ = false;
};

}  // namespace warren::net
