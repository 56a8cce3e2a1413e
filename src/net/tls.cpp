#include "net/tls.hpp"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <cstring>
#include <stdexcept>

namespace warren::net {
namespace {

// TLS's largest record plaintext: encrypt() fills records up to this.
constexpr size_t kRecord = 16 * 1024;

TlsSession* session_of(BIO* b) { return static_cast<TlsSession*>(BIO_get_data(b)); }

int bio_write(BIO* b, const char* data, size_t len, size_t* written) {
  session_of(b)->put_output(data, len);
  *written = len;
  return 1;
}

int bio_read(BIO* b, char* out, size_t len, size_t* read) {
  BIO_clear_retry_flags(b);
  size_t n = session_of(b)->take_input(out, len);
  if (n == 0) {  // nothing more this turn: the Socket brings more
    BIO_set_retry_read(b);
    *read = 0;
    return 0;
  }
  *read = n;
  return 1;
}

long bio_ctrl(BIO*, int cmd, long, void*) {
  // FLUSH: the Socket writes at the end of the turn. Nothing else applies
  // (no kTLS, no fd, no pending counts OpenSSL relies on).
  return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

int bio_create(BIO* b) {
  BIO_set_init(b, 1);
  return 1;
}

// One method table for the process, made on first use (thread-safe static).
BIO_METHOD* wire_method() {
  static BIO_METHOD* method = [] {
    BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "warren socket buffers");
    if (m == nullptr || !BIO_meth_set_write_ex(m, bio_write) || !BIO_meth_set_read_ex(m, bio_read) ||
        !BIO_meth_set_ctrl(m, bio_ctrl) || !BIO_meth_set_create(m, bio_create))
      throw std::runtime_error("TLS: cannot make the socket BIO");
    return m;
  }();
  return method;
}

// OpenSSL's errors, oldest first ("No such file or directory", then
// "system lib"), for a configuration mistake; empties the queue.
[[noreturn]] void throw_openssl(const std::string& what) {
  std::string text = "TLS: " + what;
  std::string last;
  while (unsigned long e = ERR_get_error()) {
    const char* reason = ERR_SYSTEM_ERROR(e) ? std::strerror(int(ERR_GET_REASON(e))) : ERR_reason_error_string(e);
    std::string r = reason != nullptr ? reason : "error " + std::to_string(e);
    if (r != last) text += ": " + r;
    last = std::move(r);
  }
  throw std::runtime_error(text);
}

void configure(SSL_CTX* ctx, bool server, const TlsOptions& o) {
  int min = 0;
  if (o.min_version == "1.2")
    min = TLS1_2_VERSION;
  else if (o.min_version == "1.3")
    min = TLS1_3_VERSION;
  else
    throw std::runtime_error("TLS: min_version must be \"1.2\" or \"1.3\", not \"" + o.min_version + "\"");
  if (!SSL_CTX_set_min_proto_version(ctx, min)) throw_openssl("cannot set the minimum version");
  // Renegotiation only serves a client that wants to make us work; a
  // passphrase would be asked on a terminal a daemon does not have.
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  SSL_CTX_set_default_passwd_cb(ctx, [](char*, int, int, void*) { return 0; });
  if (!o.ciphers.empty() && !SSL_CTX_set_cipher_list(ctx, o.ciphers.c_str()))
    throw_openssl("no usable cipher in \"" + o.ciphers + "\"");
  if (!o.ciphersuites.empty() && !SSL_CTX_set_ciphersuites(ctx, o.ciphersuites.c_str()))
    throw_openssl("no usable TLS 1.3 ciphersuite in \"" + o.ciphersuites + "\"");
  if (!o.cert_file.empty() && SSL_CTX_use_certificate_chain_file(ctx, o.cert_file.c_str()) != 1)
    throw_openssl("cannot load the certificate chain " + o.cert_file);
  if (!o.key_file.empty()) {
    if (SSL_CTX_use_PrivateKey_file(ctx, o.key_file.c_str(), SSL_FILETYPE_PEM) != 1)
      throw_openssl("cannot load the private key " + o.key_file + " (PEM, without a passphrase)");
    if (SSL_CTX_check_private_key(ctx) != 1) throw_openssl("the key " + o.key_file + " does not match the certificate");
  }
  if (server && (o.cert_file.empty() || o.key_file.empty()))
    throw std::runtime_error("TLS: a server needs a certificate and its key");
  if (!o.ca_file.empty()) {
    if (SSL_CTX_load_verify_locations(ctx, o.ca_file.c_str(), nullptr) != 1)
      throw_openssl("cannot load the CA file " + o.ca_file);
    if (server) {
      // The CAs a client is told we accept (the CertificateRequest's list).
      STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(o.ca_file.c_str());
      if (names == nullptr) throw_openssl("no CA certificate in " + o.ca_file);
      SSL_CTX_set_client_CA_list(ctx, names);
    }
  }
  if (server) {
    if (o.fail_if_no_peer_cert && !o.verify_peer)
      throw std::runtime_error("TLS: fail_if_no_peer_cert needs verify_peer");
    if (o.verify_peer && o.ca_file.empty())
      throw std::runtime_error("TLS: verify_peer needs a CA file to verify client certificates against");
    int mode = SSL_VERIFY_NONE;
    if (o.verify_peer) mode = SSL_VERIFY_PEER | (o.fail_if_no_peer_cert ? SSL_VERIFY_FAIL_IF_NO_PEER_CERT : 0);
    SSL_CTX_set_verify(ctx, mode, nullptr);
    // Resumed sessions must be this context's (required with client certificates).
    static const unsigned char kSid[] = "warrend";
    SSL_CTX_set_session_id_context(ctx, kSid, sizeof kSid - 1);
  } else {
    SSL_CTX_set_verify(ctx, o.ca_file.empty() ? SSL_VERIFY_NONE : SSL_VERIFY_PEER, nullptr);
  }
  ERR_clear_error();
}

SSL_CTX* new_ctx(bool server, const TlsOptions& o) {
  SSL_CTX* ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
  if (ctx == nullptr) throw_openssl("cannot create a context");
  try {
    configure(ctx, server, o);
    return ctx;
  } catch (...) {
    SSL_CTX_free(ctx);
    throw;
  }
}

}  // namespace

void configure_server_context(ssl_ctx_st* ctx, const TlsOptions& opts) { configure(ctx, true, opts); }

std::shared_ptr<TlsContext> TlsContext::server(const TlsOptions& opts) {
  return std::shared_ptr<TlsContext>(new TlsContext(new_ctx(true, opts), true));
}

std::shared_ptr<TlsContext> TlsContext::client(const TlsOptions& opts) {
  return std::shared_ptr<TlsContext>(new TlsContext(new_ctx(false, opts), false));
}

TlsContext::~TlsContext() { SSL_CTX_free(ctx_); }

TlsSession::TlsSession(const TlsContext& ctx, OutputBuffer& wire)
    : ssl_(SSL_new(ctx.native())), wire_(wire), client_(!ctx.is_server()) {
  if (ssl_ == nullptr) throw_openssl("cannot create a session");
  BIO* bio = BIO_new(wire_method());
  if (bio == nullptr) {
    SSL_free(ssl_);
    throw_openssl("cannot create a BIO");
  }
  BIO_set_data(bio, this);
  SSL_set_bio(ssl_, bio, bio);  // one BIO both ways: SSL owns its one reference
  if (client_) {
    SSL_set_connect_state(ssl_);
    ERR_clear_error();
    SSL_do_handshake(ssl_);  // the ClientHello, into the wire
    ERR_clear_error();
  } else {
    SSL_set_accept_state(ssl_);
  }
}

TlsSession::~TlsSession() { SSL_free(ssl_); }

size_t TlsSession::take_input(char* out, size_t len) {
  const size_t n = std::min(len, in_.size());
  if (n == 0) return 0;
  std::memcpy(out, in_.data(), n);
  in_.remove_prefix(n);
  return n;
}

ptrdiff_t TlsSession::read(char* out, size_t cap) {
  if (failed_) return kFailed;
  for (;;) {
    ERR_clear_error();  // SSL_get_error reads this thread's queue
    const size_t before = in_.size();
    size_t n = 0;
    const int rc = SSL_read_ex(ssl_, out, cap, &n);
    if (!done_ && SSL_is_init_finished(ssl_)) handshake_finished();
    if (rc == 1) return ptrdiff_t(n);
    const int e = SSL_get_error(ssl_, rc);
    if (e == SSL_ERROR_WANT_READ) {
      // A record that carried no data for us (a ticket, a key update)
      // while more input waits: go on with it.
      if (!in_.empty() && in_.size() < before) continue;
      return kWouldBlock;
    }
    if (e == SSL_ERROR_ZERO_RETURN) return kClosed;
    fail(e);
    return kFailed;
  }
}

void TlsSession::fail(int ssl_error) {
  failed_ = true;
  const unsigned long code = ERR_peek_error();
  if (code != 0) {
    const char* reason = ERR_reason_error_string(code);
    error_ = reason != nullptr ? reason : "error " + std::to_string(code);
  } else {
    error_ = "TLS error " + std::to_string(ssl_error);
  }
  const long verify = SSL_get_verify_result(ssl_);
  if (verify != X509_V_OK) {
    error_ += " (";
    error_ += X509_verify_cert_error_string(verify);
    error_ += ")";
  }
  ERR_clear_error();
}

void TlsSession::handshake_finished() {
  done_ = true;
  X509* cert = SSL_get0_peer_certificate(ssl_);
  if (cert == nullptr || SSL_get_verify_result(ssl_) != X509_V_OK) return;
  X509_NAME* subject = X509_get_subject_name(cert);
  const int i = X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
  // None, or more than one: no name to log in as.
  if (i < 0 || X509_NAME_get_index_by_NID(subject, NID_commonName, i) >= 0) return;
  unsigned char* utf8 = nullptr;
  const int len = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, i)));
  if (len < 0) {
    ERR_clear_error();
    return;
  }
  std::string cn(reinterpret_cast<const char*>(utf8), size_t(len));
  OPENSSL_free(utf8);
  if (!cn.empty() && cn.find('\0') == std::string::npos) peer_cn_ = std::move(cn);
}

bool TlsSession::write_all(const char* data, size_t len) {
  ERR_clear_error();
  size_t written = 0;
  // Our BIO takes everything: one call writes it all, cut into records.
  if (SSL_write_ex(ssl_, data, len, &written) != 1 || written != len) {
    fail(SSL_get_error(ssl_, 0));
    return false;
  }
  return true;
}

bool TlsSession::encrypt() {
  if (failed_) return false;
  if (!done_ || shut_ || plain_.empty()) return true;
  // Small chunks (frame heads, small copies) would cost a record each:
  // they are gathered into full records here; long runs go as they are.
  thread_local std::unique_ptr<char[]> stage(new char[kRecord]);
  size_t staged = 0;
  iovec iov[64];
  while (!plain_.empty()) {
    const int count = plain_.fill_iov(iov, 64);
    size_t taken = 0;
    for (int i = 0; i < count; ++i) {
      const char* p = static_cast<const char*>(iov[i].iov_base);
      size_t len = iov[i].iov_len;
      taken += len;
      if (staged > 0) {
        const size_t n = std::min(len, kRecord - staged);
        std::memcpy(stage.get() + staged, p, n);
        staged += n;
        p += n;
        len -= n;
        if (staged < kRecord) continue;
        if (!write_all(stage.get(), staged)) return false;
        staged = 0;
      }
      if (len >= kRecord) {
        const size_t whole = len - len % kRecord;
        if (!write_all(p, whole)) return false;
        p += whole;
        len -= whole;
      }
      std::memcpy(stage.get(), p, len);
      staged = len;
    }
    plain_.consume(taken);
  }
  return staged == 0 || write_all(stage.get(), staged);
}

void TlsSession::shutdown() {
  if (!done_ || failed_ || shut_) return;
  shut_ = true;
  ERR_clear_error();
  SSL_shutdown(ssl_);  // 0: our close_notify is in the wire; we do not wait for theirs
  ERR_clear_error();
}

std::string_view TlsSession::version() const { return done_ ? SSL_get_version(ssl_) : ""; }

std::string_view TlsSession::cipher() const {
  const SSL_CIPHER* c = SSL_get_current_cipher(ssl_);
  return c != nullptr ? SSL_CIPHER_get_name(c) : "";
}

}  // namespace warren::net
