#pragma once
// warrend's configuration: built-in defaults, then a TOML file (--config),
// then command-line flags, each overriding the one before.
#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "locks/rw_lock.hpp"

namespace warren::config {

struct SocketlockConfig {
  bool enabled = true;
  std::string path;  // empty: <data_dir>/socketlock.sock
  // The socket's permission bits, set once it is bound (0660: its group may
  // connect, as warrend.service's warren group); -1: as the umask made them.
  int socket_mode = -1;
  locks::Options lock;
  std::chrono::milliseconds hello_timeout = std::chrono::seconds(10);
};

// AMQPS ([amqp.tls]): a second listener whose connections are TLS from
// the first byte, both protocols sniffed after the handshake; AMQP 1.0's
// TLS header upgrades a connection on the plain port too. Off by default:
// there are no certificates to use.
struct TlsConfig {
  bool enabled = false;
  std::string host;      // empty: [amqp] host
  uint16_t port = 5671;  // 0: any free port
  std::string cert;      // PEM: the server's certificate, then its chain
  std::string key;       // PEM private key, without a passphrase
  std::string ca;        // PEM: CAs that client certificates must chain to
  std::string ciphers;       // TLS 1.2 cipher list (OpenSSL syntax); empty: OpenSSL's defaults
  std::string ciphersuites;  // TLS 1.3 suites (OpenSSL syntax); empty: OpenSSL's defaults
  std::string min_version = "1.2";  // "1.2" or "1.3"
  // RabbitMQ's ssl_options verify = verify_peer and fail_if_no_peer_cert.
  bool verify_peer = false;
  bool fail_if_no_peer_cert = false;
};

struct AmqpConfig {
  bool enabled = true;
  std::string host = "127.0.0.1";  // loopback unless configured otherwise
  uint16_t port = 5672;
  uint16_t heartbeat = 60;          // seconds proposed to clients
  uint32_t frame_max = 131072;
  uint16_t channel_max = 2047;
  uint64_t max_message_size = 16 * 1024 * 1024;
  // Up to 1: a fraction of physical memory; above: bytes. RabbitMQ's default 0.4.
  double memory_high_watermark = 0.4;
  // user -> password; guest/guest from loopback only when left as is.
  std::map<std::string, std::string> users;
  // Threads that read sockets and cut frames beside the broker's thread
  // (docs/architecture.md#threads); 0: the broker's thread reads them too.
  // -1 (the default): 1 on a machine with more than one CPU, else 0.
  int reader_threads = -1;
  TlsConfig tls;
};

// Durable storage (docs/storage.md).
struct StoreConfig {
  // Below this many free bytes on the data directory's file system,
  // publishers are blocked (RabbitMQ's disk_free_limit, same default).
  uint64_t disk_free_limit = 50'000'000;
  uint64_t segment_bytes = 64u << 20;  // a log segment is closed past this
  // Above this many bytes of messages in memory, durable queues keep only
  // a window of their persistent messages in memory; the rest are read
  // back from the log as consumers near them (docs/storage.md#paging).
  // -1: half the memory high watermark (RabbitMQ's paging ratio); 0: never.
  int64_t memory_budget = -1;
};

// AMQP 1.0 specifics (same listener and users as [amqp]).
struct Amqp10Config {
  std::chrono::milliseconds idle_time_out = std::chrono::seconds(60);  // ours; 0: none
  uint32_t max_frame_size = 128 * 1024;
  uint32_t link_credit = 256;         // granted to each publishing link
  bool declare_bare_queues = true;    // a bare address names a queue, declared on first use
  std::string default_user = "guest"; // ANONYMOUS / no SASL log in as this user; "": refused
};

// Users and permissions (docs/security.md). The directory itself is
// durable (DATA_DIR/definitions.json); these say how it starts.
struct AuthConfig {
  // The first boot's administrator (RabbitMQ's default_user / default_pass).
  std::string default_user = "guest";
  std::string default_pass = "guest";
  // Users who may log in from loopback addresses only (RabbitMQ's loopback_users).
  std::vector<std::string> loopback_users{"guest"};
  // A RabbitMQ definitions file imported at every boot (RabbitMQ's
  // load_definitions); "": none.
  std::string load_definitions;
  // SASL EXTERNAL for TLS clients whose certificate verified: its CN is
  // the user (RabbitMQ's rabbitmq_auth_mechanism_ssl, common_name).
  bool cert_login = false;
};

// The management HTTP API ([management]) and the Prometheus endpoint
// ([prometheus]); docs in README "Operations".
struct HttpConfig {
  bool enabled = true;
  std::string host = "127.0.0.1";
  uint16_t port = 0;  // 0: any free port
  // HTTPS on a port of its own, beside HTTP (RabbitMQ's management.ssl.*:
  // 15671 for the API, 15691 for Prometheus); `host` empty: the HTTP one's.
  TlsConfig tls;
};

struct Config {
  std::string config_file;  // empty: embedded defaults only
  std::string data_dir = "var";
  std::string log_level = "info";
  SocketlockConfig socketlock;
  AmqpConfig amqp;
  Amqp10Config amqp10;
  StoreConfig store;
  AuthConfig auth;
  HttpConfig management{true, "127.0.0.1", 15672, {.port = 15671}};
  HttpConfig prometheus{true, "127.0.0.1", 15692, {.port = 15691}};
  // The prover's planted bug (apps/prover selftest): lock queues grant an
  // exclusive lock to two holders at once. Never for anything else.
  bool unsafe_test_double_grant = false;

  std::string socketlock_path() const {
    return socketlock.path.empty() ? data_dir + "/socketlock.sock" : socketlock.path;
  }
};

// "30", "30s", "1.5s", "250ms", "2m", "1h". Seconds when no unit is given.
std::optional<std::chrono::milliseconds> parse_duration(std::string_view text);

// Applies a TOML document on top of `cfg`. Throws std::runtime_error naming
// the key at fault, and rejects unknown keys so typos do not pass silently.
void apply_toml(Config& cfg, std::string_view toml_text, std::string_view source_name);

// Whether a TLS table (`name`: amqp.tls, management.tls, prometheus.tls)
// holds together (a certificate and key when enabled, a CA for
// verify_peer, verify_peer for fail_if_no_peer_cert); throws
// std::runtime_error saying what is missing. parse_command_line calls it.
void check_tls(const TlsConfig& tls, std::string_view name = "amqp.tls");

// Parses argv (CLI11). Returns nothing and sets `exit_code` when the program
// should exit at once (--help, --version, or a usage error).
std::optional<Config> parse_command_line(int argc, char** argv, int& exit_code);

}  // namespace warren::config
