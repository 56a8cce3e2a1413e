// TLS over net::Socket: both ends on one loop, over a socket pair, with
// certificates made here (a CA, a server and a client it signed, and a
// self-signed client nobody trusts).
#include "net/tls.hpp"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cerrno>
#include <cstdio>
#include <memory>

#include "net/socket.hpp"
#include "net/test_util.hpp"

namespace warren::net {
namespace tls_fixture {

using namespace testing;

struct Pki {
  TempDir dir;
  std::string ca, server_cert, server_key, client_cert, client_key, rogue_cert, rogue_key;
  // Two CNs in one subject: no name for SASL EXTERNAL.
  std::string twice_cert, twice_key;

  Pki() {
    EVP_PKEY* ca_key = EVP_EC_gen("P-256");
    X509* ca_x = make(ca_key, {"Warren test CA"}, nullptr, ca_key, true);
    ca = save_cert(ca_x, "ca.pem");
    issue("server", {"localhost"}, ca_x, ca_key, server_cert, server_key);
    issue("client", {"guest"}, ca_x, ca_key, client_cert, client_key);
    issue("twice", {"guest", "admin"}, ca_x, ca_key, twice_cert, twice_key);
    EVP_PKEY* rogue = EVP_EC_gen("P-256");
    X509* rogue_x = make(rogue, {"guest"}, nullptr, rogue, false);
    rogue_cert = save_cert(rogue_x, "rogue.pem");
    rogue_key = save_key(rogue, "rogue.key");
    X509_free(rogue_x);
    EVP_PKEY_free(rogue);
    X509_free(ca_x);
    EVP_PKEY_free(ca_key);
  }

  void issue(const std::string& name, std::initializer_list<const char*> cns, X509* ca_x, EVP_PKEY* ca_key,
             std::string& cert, std::string& key) {
    EVP_PKEY* k = EVP_EC_gen("P-256");
    X509* x = make(k, cns, ca_x, ca_key, false);
    cert = save_cert(x, name + ".pem");
    key = save_key(k, name + ".key");
    X509_free(x);
    EVP_PKEY_free(k);
  }

  static X509* make(EVP_PKEY* key, std::initializer_list<const char*> cns, X509* issuer, EVP_PKEY* signer, bool ca) {
    static long serial = 1;
    X509* x = X509_new();
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), serial++);
    X509_gmtime_adj(X509_getm_notBefore(x), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x), 24 * 3600);
    X509_set_pubkey(x, key);
    X509_NAME* name = X509_get_subject_name(x);
    for (const char* cn : cns)
      X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn), -1, -1, 0);
    X509_set_issuer_name(x, issuer != nullptr ? X509_get_subject_name(issuer) : name);
    if (ca) {
      X509V3_CTX v3;
      X509V3_set_ctx_nodb(&v3);
      X509V3_set_ctx(&v3, x, x, nullptr, nullptr, 0);
      X509_EXTENSION* bc = X509V3_EXT_conf_nid(nullptr, &v3, NID_basic_constraints, "critical,CA:TRUE");
      X509_add_ext(x, bc, -1);
      X509_EXTENSION_free(bc);
    }
    X509_sign(x, signer, EVP_sha256());
    return x;
  }
  std::string save_cert(X509* x, const std::string& name) {
    std::string path = dir.file(name);
    FILE* f = std::fopen(path.c_str(), "w");
    PEM_write_X509(f, x);
    std::fclose(f);
    return path;
  }
  std::string save_key(EVP_PKEY* k, const std::string& name) {
    std::string path = dir.file(name);
    FILE* f = std::fopen(path.c_str(), "w");
    PEM_write_PrivateKey(f, k, nullptr, nullptr, 0, nullptr, nullptr);
    std::fclose(f);
    return path;
  }

  TlsOptions server(bool verify = true, bool require = true) const {
    TlsOptions o;
    o.cert_file = server_cert;
    o.key_file = server_key;
    o.ca_file = ca;
    o.verify_peer = verify;
    o.fail_if_no_peer_cert = verify && require;
    return o;
  }
  TlsOptions client(const std::string& cert, const std::string& key) const {
    TlsOptions o;
    o.ca_file = ca;
    o.cert_file = cert;
    o.key_file = key;
    return o;
  }
};

const Pki& pki() {
  static Pki p;
  return p;
}

// A server and a client Socket over a socket pair, on one loop.
struct Link {
  EventLoop loop;
  SocketPair sp;
  Recorder server_rec, client_rec;
  std::unique_ptr<Socket> server, client;
  std::shared_ptr<TlsContext> server_ctx, client_ctx;

  Link(const TlsOptions& s, const TlsOptions& c) {
    server_ctx = TlsContext::server(s);
    client_ctx = TlsContext::client(c);
    server = Socket::adopt(loop, sp.take(0), &server_rec);
    client = Socket::adopt(loop, sp.take(1), &client_rec);
    server->start_tls(*server_ctx);
    client->start_tls(*client_ctx);
  }
  bool handshake() {
    return run_until(loop, [&] {
      return (server->tls()->handshake_done() && client->tls()->handshake_done()) || server_rec.closes > 0 ||
             client_rec.closes > 0;
    }) && server_rec.closes == 0 && client_rec.closes == 0;
  }
};

TEST(Tls, HandshakeCarriesDataBothWaysAndNamesTheClient) {
  Link l(pki().server(), pki().client(pki().client_cert, pki().client_key));
  l.server_rec.on_data_hook = [](Socket& s, std::string_view b) { s.send(b); };  // echo
  l.client->send("queued before the handshake");  // held until it is done
  ASSERT_TRUE(run_until(l.loop, [&] { return l.client_rec.data == "queued before the handshake"; }))
      << l.server->tls()->error() << " / " << l.client->tls()->error();
  EXPECT_EQ(l.server_rec.data, "queued before the handshake");
  EXPECT_EQ(l.server->tls()->version(), "TLSv1.3");
  EXPECT_EQ(l.server->tls()->peer_cn(), "guest");
  EXPECT_FALSE(l.server->tls()->cipher().empty());
}

TEST(Tls, WithoutVerificationNoCertificateIsAskedForAndNoNameKnown) {
  Link l(pki().server(false), pki().client(pki().client_cert, pki().client_key));
  ASSERT_TRUE(l.handshake());
  EXPECT_FALSE(l.server->tls()->peer_cn());
}

TEST(Tls, TwoCommonNamesGiveNoName) {
  Link l(pki().server(), pki().client(pki().twice_cert, pki().twice_key));
  ASSERT_TRUE(l.handshake());
  EXPECT_FALSE(l.server->tls()->peer_cn());
}

TEST(Tls, OneTurnsSendsAreOneWriteAndBodiesArriveWhole) {
  Link l(pki().server(), pki().client(pki().client_cert, pki().client_key));
  ASSERT_TRUE(l.handshake());
  run_for(l.loop, 20ms);  // session tickets and the like are written
  const uint64_t writes = l.server->writev_calls();
  auto body = std::make_shared<const std::string>(pattern(1 << 20));
  std::string expect;
  for (int i = 0; i < 300; ++i) {
    expect += "frame " + std::to_string(i) + ";";
    if (i % 100 == 0) expect.append(*body, 1000, body->size() - 2000);
  }
  l.loop.post([&] {  // all in one turn
    for (int i = 0; i < 300; ++i) {
      l.server->send("frame " + std::to_string(i) + ";");
      if (i % 100 == 0) l.server->send(body, 1000, body->size() - 2000);  // a slice, by reference
    }
  });
  ASSERT_TRUE(run_until(l.loop, [&] { return l.client_rec.data.size() >= expect.size(); }))
      << l.client_rec.data.size() << " of " << expect.size() << "; closes " << l.client_rec.closes << "/"
      << l.server_rec.closes << " " << l.client->tls()->error() << " / " << l.server->tls()->error();
  EXPECT_TRUE(l.client_rec.data == expect);
  // 3 MiB does not fit a socket pair's buffer: the first write is partial
  // and EPOLLOUT writes the rest, but the turn's sends were encrypted and
  // handed to one sendmsg.
  EXPECT_GE(l.server->writev_calls() - writes, 1u);
  const uint64_t one_turn = l.server->writev_calls();
  l.loop.post([&] {
    for (int i = 0; i < 100; ++i) l.server->send("x");
  });
  run_for(l.loop, 1ms);
  ASSERT_TRUE(run_until(l.loop, [&] { return l.client_rec.data.size() == expect.size() + 100; }));
  EXPECT_EQ(l.server->writev_calls() - one_turn, 1u);
}

TEST(Tls, CloseSendsCloseNotifyAfterTheData) {
  Link l(pki().server(), pki().client(pki().client_cert, pki().client_key));
  ASSERT_TRUE(l.handshake());
  l.server->send("last words");
  l.server->close();
  ASSERT_TRUE(run_until(l.loop, [&] { return l.client_rec.closes == 1; }));
  EXPECT_EQ(l.client_rec.data, "last words");
  EXPECT_EQ(l.client_rec.error, 0);
  EXPECT_FALSE(l.client->tls()->failed());
}

TEST(Tls, UntrustedClientCertificateIsRefused) {
  Link l(pki().server(), pki().client(pki().rogue_cert, pki().rogue_key));
  ASSERT_TRUE(run_until(l.loop, [&] { return l.server_rec.closes == 1 && l.client_rec.closes == 1; }));
  EXPECT_EQ(l.server_rec.error, EPROTO);
  EXPECT_NE(l.server->tls()->error().find("certificate"), std::string::npos) << l.server->tls()->error();
  EXPECT_FALSE(l.server->tls()->peer_cn());
}

TEST(Tls, MissingClientCertificateIsRefusedWhenRequired) {
  Link l(pki().server(), pki().client("", ""));
  ASSERT_TRUE(run_until(l.loop, [&] { return l.server_rec.closes == 1; }));
  EXPECT_EQ(l.server_rec.error, EPROTO);
  EXPECT_NE(l.server->tls()->error().find("certificate"), std::string::npos) << l.server->tls()->error();
}

TEST(Tls, MissingClientCertificateIsFineWhenOnlyVerified) {
  Link l(pki().server(true, false), pki().client("", ""));
  ASSERT_TRUE(l.handshake());
  EXPECT_FALSE(l.server->tls()->peer_cn());
}

TEST(Tls, BelowTheMinimumVersionIsRefused) {
  TlsOptions s = pki().server(false);
  s.min_version = "1.3";
  EventLoop loop;
  SocketPair sp;
  Recorder srec, crec;
  auto sctx = TlsContext::server(s);
  auto cctx = TlsContext::client(pki().client("", ""));
  SSL_CTX_set_max_proto_version(cctx->native(), TLS1_2_VERSION);
  auto server = Socket::adopt(loop, sp.take(0), &srec);
  auto client = Socket::adopt(loop, sp.take(1), &crec);
  server->start_tls(*sctx);
  client->start_tls(*cctx);
  ASSERT_TRUE(run_until(loop, [&] { return srec.closes == 1 && crec.closes == 1; }));
  EXPECT_EQ(srec.error, EPROTO);
  EXPECT_NE(server->tls()->error().find("protocol"), std::string::npos) << server->tls()->error();
}

TEST(Tls, GarbageInsteadOfAClientHelloEndsTheSocketOnly) {
  EventLoop loop;
  SocketPair sp;
  Recorder srec;
  auto ctx = TlsContext::server(pki().server());
  auto server = Socket::adopt(loop, sp.take(0), &srec);
  server->start_tls(*ctx);
  const char junk[] = "AMQP\x00\x00\x09\x01 and then a lot of nothing in particular";
  ASSERT_EQ(::write(sp.fd[1], junk, sizeof junk), ssize_t(sizeof junk));
  ASSERT_TRUE(run_until(loop, [&] { return srec.closes == 1; }));
  EXPECT_EQ(srec.error, EPROTO);
  EXPECT_FALSE(server->tls()->error().empty());
  EXPECT_TRUE(srec.data.empty());
}

TEST(Tls, CiphertextRightBehindAPreambleIsNotLost) {
  // AMQP 1.0's TLS header: the server reads "AMQP 2 1 0 0" and, in the
  // same read, the ClientHello. (The server's header back is left out
  // here: this client's Socket is TLS from its first byte.)
  EventLoop loop;
  SocketPair sp;
  Recorder srec, crec;
  auto sctx = TlsContext::server(pki().server(false));
  auto cctx = TlsContext::client(pki().client("", ""));
  auto server = Socket::adopt(loop, sp.take(0), &srec);
  auto client = Socket::adopt(loop, sp.take(1), &crec);
  size_t preamble_read = 0;
  srec.on_data_hook = [&](Socket& s, std::string_view b) {
    if (s.tls() != nullptr) {
      s.send(b);  // echo, encrypted
      return;
    }
    preamble_read = b.size();
    srec.data.clear();
    s.start_tls(*sctx, b.substr(8));
  };
  ASSERT_EQ(::write(client->fd(), "AMQP\x02\x01\x00\x00", 8), 8);
  client->start_tls(*cctx);
  client->send("ping");
  client->flush();  // the ClientHello, now: the server reads it with the header
  ASSERT_TRUE(run_until(loop, [&] { return crec.data == "ping" || srec.closes > 0; }));
  EXPECT_GT(preamble_read, 8u);
  EXPECT_EQ(srec.data, "ping");
}

}  // namespace tls_fixture
}  // namespace warren::net
