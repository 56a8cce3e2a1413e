#include "config/config.hpp"

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <toml++/toml.h>

#include <charconv>
#include <fstream>
#include <set>
#include <sstream>
#include <stdexcept>

namespace warren::config {

using std::chrono::milliseconds;

std::optional<milliseconds> parse_duration(std::string_view text) {
  double value = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || value < 0) return std::nullopt;
  std::string_view unit(p, text.data() + text.size() - p);
  double ms;
  if (unit.empty() || unit == "s") ms = value * 1000;
  else if (unit == "ms") ms = value;
  else if (unit == "m") ms = value * 60'000;
  else if (unit == "h") ms = value * 3'600'000;
  else return std::nullopt;
  if (ms > 1e15) return std::nullopt;
  return milliseconds(static_cast<int64_t>(ms));
}

namespace {

[[noreturn]] void bad(std::string_view source, std::string_view key, std::string_view why) {
  throw std::runtime_error(fmt::format("{}: {}: {}", source, key, why));
}

milliseconds duration_of(const toml::node& n, std::string_view source, std::string_view key) {
  if (auto v = n.value<double>()) {
    if (*v < 0) bad(source, key, "must not be negative");
    return milliseconds(static_cast<int64_t>(*v * 1000));
  }
  if (auto s = n.value<std::string>()) {
    if (auto d = parse_duration(*s)) return *d;
  }
  bad(source, key, "expected a duration such as 30, \"30s\" or \"250ms\"");
}

std::string string_of(const toml::node& n, std::string_view source, std::string_view key) {
  if (auto s = n.value<std::string>()) return *s;
  bad(source, key, "expected a string");
}

void check_keys(const toml::table& t, std::initializer_list<std::string_view> known, std::string_view source,
                std::string_view prefix) {
  std::set<std::string_view> k(known);
  for (const auto& [key, _] : t)
    if (!k.contains(key.str())) bad(source, fmt::format("{}{}", prefix, key.str()), "unknown key");
}

std::string tls_version_of(std::string_view text, std::string_view source, std::string_view key) {
  if (text == "1.2" || text == "1.3") return std::string(text);
  bad(source, key, "expected \"1.2\" or \"1.3\"");
}

// [amqp.tls], [management.tls], [prometheus.tls] (`name`): keys alone;
// whether they fit together is check_tls's.
void apply_tls(TlsConfig& c, const toml::table& t, std::string_view source, std::string_view name) {
  check_keys(t,
             {"enabled", "host", "port", "cert", "key", "ca", "ciphers", "ciphersuites", "min_version", "verify_peer",
              "fail_if_no_peer_cert"},
             source, fmt::format("{}.", name));
  auto boolean = [&](const char* key, bool& out) {
    if (const toml::node* n = t.get(key)) {
      auto b = n->value<bool>();
      if (!b) bad(source, fmt::format("{}.{}", name, key), "expected true or false");
      out = *b;
    }
  };
  auto text = [&](const char* key, std::string& out) {
    if (const toml::node* n = t.get(key)) out = string_of(*n, source, fmt::format("{}.{}", name, key));
  };
  boolean("enabled", c.enabled);
  text("host", c.host);
  if (const toml::node* n = t.get("port")) {
    auto v = n->value<int64_t>();
    if (!v || *v < 0 || *v > 65535) bad(source, fmt::format("{}.port", name), "expected an integer in 0..65535");
    c.port = uint16_t(*v);
  }
  text("cert", c.cert);
  text("key", c.key);
  text("ca", c.ca);
  text("ciphers", c.ciphers);
  text("ciphersuites", c.ciphersuites);
  if (const toml::node* n = t.get("min_version"))
    c.min_version = tls_version_of(string_of(*n, source, fmt::format("{}.min_version", name)), source,
                                   fmt::format("{}.min_version", name));
  boolean("verify_peer", c.verify_peer);
  boolean("fail_if_no_peer_cert", c.fail_if_no_peer_cert);
}

// "0660": permission bits, in octal.
int mode_of(std::string_view text, std::string_view source, std::string_view key) {
  int mode = 0;
  if (text.empty() || text.size() > 4) bad(source, key, "expected permission bits in octal, as \"0660\"");
  for (char c : text) {
    if (c < '0' || c > '7') bad(source, key, "expected permission bits in octal, as \"0660\"");
    mode = mode * 8 + (c - '0');
  }
  if (mode > 0777) bad(source, key, "expected permission bits in octal, at most 0777");
  return mode;
}

locks::Policy policy_of(std::string_view text, std::string_view source, std::string_view key) {
  if (auto p = locks::parse_policy(text)) return *p;
  bad(source, key, "expected ReaderPreferred, WriterPreferred or FIFO");
}

}  // namespace

void apply_toml(Config& cfg, std::string_view toml_text, std::string_view source) {
  toml::table root;
  try {
    root = toml::parse(toml_text, source);
  } catch (const toml::parse_error& e) {
    std::ostringstream msg;
    msg << e;
    throw std::runtime_error(msg.str());
  }
  check_keys(root, {"data_dir", "log", "socketlock", "amqp", "amqp10", "store", "auth", "management", "prometheus"},
             source, "");
  for (auto [key, http] : {std::pair{"management", &cfg.management}, std::pair{"prometheus", &cfg.prometheus}}) {
    auto* t = root.get_as<toml::table>(key);
    if (!t) continue;
    check_keys(*t, {"enabled", "host", "port", "tls"}, source, fmt::format("{}.", key));
    if (auto* tls = t->get("tls")) {
      if (!tls->is_table()) bad(source, fmt::format("{}.tls", key), fmt::format("expected a table ([{}.tls])", key));
      apply_tls(http->tls, *tls->as_table(), source, fmt::format("{}.tls", key));
    }
    if (auto* n = t->get("enabled")) {
      auto b = n->value<bool>();
      if (!b) bad(source, fmt::format("{}.enabled", key), "expected true or false");
      http->enabled = *b;
    }
    if (auto* n = t->get("host")) http->host = string_of(*n, source, fmt::format("{}.host", key));
    if (auto* n = t->get("port")) {
      auto v = n->value<int64_t>();
      if (!v || *v < 0 || *v > 65535) bad(source, fmt::format("{}.port", key), "expected an integer in 0..65535");
      http->port = uint16_t(*v);
    }
  }
  if (auto* n = root.get("data_dir")) cfg.data_dir = string_of(*n, source, "data_dir");
  if (auto* log = root.get_as<toml::table>("log")) {
    check_keys(*log, {"level"}, source, "log.");
    if (auto* n = log->get("level")) cfg.log_level = string_of(*n, source, "log.level");
  }
  if (auto* a = root.get_as<toml::table>("amqp")) {
    check_keys(*a, {"enabled", "host", "port", "heartbeat", "frame_max", "channel_max", "max_message_size",
                    "memory_high_watermark", "users", "reader_threads", "tls"},
               source, "amqp.");
    AmqpConfig& c = cfg.amqp;
    auto integer = [&](const char* key, int64_t lo, int64_t hi) -> std::optional<int64_t> {
      const toml::node* n = a->get(key);
      if (!n) return std::nullopt;
      auto v = n->value<int64_t>();
      if (!v || *v < lo || *v > hi) bad(source, fmt::format("amqp.{}", key), fmt::format("expected an integer in {}..{}", lo, hi));
      return v;
    };
    if (auto* n = a->get("enabled")) {
      auto b = n->value<bool>();
      if (!b) bad(source, "amqp.enabled", "expected true or false");
      c.enabled = *b;
    }
    if (auto* n = a->get("host")) c.host = string_of(*n, source, "amqp.host");
    if (auto v = integer("port", 0, 65535)) c.port = uint16_t(*v);
    if (auto v = integer("heartbeat", 0, 65535)) c.heartbeat = uint16_t(*v);
    if (auto v = integer("frame_max", 4096, 1 << 30)) c.frame_max = uint32_t(*v);
    if (auto v = integer("channel_max", 1, 65535)) c.channel_max = uint16_t(*v);
    if (auto v = integer("max_message_size", 1, 512ll << 20)) c.max_message_size = uint64_t(*v);
    if (auto v = integer("reader_threads", 0, 64)) c.reader_threads = int(*v);
    if (auto* n = a->get("memory_high_watermark")) {
      auto v = n->value<double>();
      if (!v || *v <= 0) bad(source, "amqp.memory_high_watermark", "expected a fraction of RAM (0.4) or bytes");
      c.memory_high_watermark = *v;
    }
    if (auto* t = a->get("tls")) {
      if (!t->is_table()) bad(source, "amqp.tls", "expected a table ([amqp.tls])");
      apply_tls(c.tls, *t->as_table(), source, "amqp.tls");
    }
    if (auto* users = a->get_as<toml::table>("users")) {
      for (const auto& [name, pw] : *users) c.users[std::string(name.str())] = string_of(pw, source, "amqp.users");
    }
  }
  if (auto* au = root.get_as<toml::table>("auth")) {
    check_keys(*au, {"default_user", "default_pass", "loopback_users", "load_definitions", "cert_login"}, source,
               "auth.");
    AuthConfig& c = cfg.auth;
    if (auto* n = au->get("cert_login")) {
      auto b = n->value<bool>();
      if (!b) bad(source, "auth.cert_login", "expected true or false");
      c.cert_login = *b;
    }
    if (auto* n = au->get("default_user")) c.default_user = string_of(*n, source, "auth.default_user");
    if (auto* n = au->get("default_pass")) c.default_pass = string_of(*n, source, "auth.default_pass");
    if (auto* n = au->get("load_definitions")) c.load_definitions = string_of(*n, source, "auth.load_definitions");
    if (auto* n = au->get("loopback_users")) {
      auto* list = n->as_array();
      if (!list) bad(source, "auth.loopback_users", "expected a list of user names");
      c.loopback_users.clear();
      for (const auto& u : *list) c.loopback_users.push_back(string_of(u, source, "auth.loopback_users"));
    }
  }
  if (auto* st = root.get_as<toml::table>("store")) {
    check_keys(*st, {"disk_free_limit", "segment_bytes", "memory_budget"}, source, "store.");
    auto bytes = [&](const char* key, int64_t lo, uint64_t& out) {
      const toml::node* n = st->get(key);
      if (!n) return;
      auto v = n->value<int64_t>();
      if (!v || *v < lo) bad(source, fmt::format("store.{}", key), fmt::format("expected bytes, at least {}", lo));
      out = uint64_t(*v);
    };
    bytes("disk_free_limit", 0, cfg.store.disk_free_limit);
    bytes("segment_bytes", 1 << 20, cfg.store.segment_bytes);
    if (st->get("memory_budget")) {
      uint64_t budget = 0;
      bytes("memory_budget", 0, budget);
      cfg.store.memory_budget = int64_t(budget);
    }
  }
  if (auto* a = root.get_as<toml::table>("amqp10")) {
    check_keys(*a, {"idle_time_out", "max_frame_size", "link_credit", "declare_bare_queues", "default_user"}, source,
               "amqp10.");
    Amqp10Config& c = cfg.amqp10;
    auto integer = [&](const char* key, int64_t lo, int64_t hi) -> std::optional<int64_t> {
      const toml::node* n = a->get(key);
      if (!n) return std::nullopt;
      auto v = n->value<int64_t>();
      if (!v || *v < lo || *v > hi)
        bad(source, fmt::format("amqp10.{}", key), fmt::format("expected an integer in {}..{}", lo, hi));
      return v;
    };
    if (auto* n = a->get("idle_time_out")) c.idle_time_out = duration_of(*n, source, "amqp10.idle_time_out");
    // 2.7.1: no peer may set max-frame-size below 512.
    if (auto v = integer("max_frame_size", 512, 1 << 30)) c.max_frame_size = uint32_t(*v);
    if (auto v = integer("link_credit", 1, 1 << 20)) c.link_credit = uint32_t(*v);
    if (auto* n = a->get("declare_bare_queues")) {
      auto b = n->value<bool>();
      if (!b) bad(source, "amqp10.declare_bare_queues", "expected true or false");
      c.declare_bare_queues = *b;
    }
    if (auto* n = a->get("default_user")) c.default_user = string_of(*n, source, "amqp10.default_user");
  }
  if (auto* sl = root.get_as<toml::table>("socketlock")) {
    check_keys(*sl,
               {"enabled", "path", "socket_mode", "policy", "request_timeout", "confirm_timeout", "max_ttl",
                "hello_timeout"},
               source, "socketlock.");
    SocketlockConfig& s = cfg.socketlock;
    if (auto* n = sl->get("enabled")) {
      auto b = n->value<bool>();
      if (!b) bad(source, "socketlock.enabled", "expected true or false");
      s.enabled = *b;
    }
    if (auto* n = sl->get("path")) s.path = string_of(*n, source, "socketlock.path");
    if (auto* n = sl->get("socket_mode"))
      s.socket_mode = mode_of(string_of(*n, source, "socketlock.socket_mode"), source, "socketlock.socket_mode");
    if (auto* n = sl->get("policy")) s.lock.policy = policy_of(string_of(*n, source, "socketlock.policy"), source, "socketlock.policy");
    if (auto* n = sl->get("request_timeout")) s.lock.request_timeout = duration_of(*n, source, "socketlock.request_timeout");
    if (auto* n = sl->get("confirm_timeout")) s.lock.confirm_timeout = duration_of(*n, source, "socketlock.confirm_timeout");
    if (auto* n = sl->get("max_ttl")) s.lock.max_ttl = duration_of(*n, source, "socketlock.max_ttl");
    if (auto* n = sl->get("hello_timeout")) s.hello_timeout = duration_of(*n, source, "socketlock.hello_timeout");
  }
}

void check_tls(const TlsConfig& t, std::string_view name) {
  if (!t.enabled) return;
  if (t.cert.empty() || t.key.empty())
    throw std::runtime_error(fmt::format("{}: TLS needs a certificate and its key (cert, key{})", name,
                                         name == "amqp.tls" ? "; --tls-cert, --tls-key" : ""));
  if (t.verify_peer && t.ca.empty())
    throw std::runtime_error(
        fmt::format("{}: verify_peer needs the CA file client certificates are checked against (ca)", name));
  if (t.fail_if_no_peer_cert && !t.verify_peer)
    throw std::runtime_error(fmt::format("{}: fail_if_no_peer_cert needs verify_peer", name));
}

std::optional<Config> parse_command_line(int argc, char** argv, int& exit_code) {
  Config defaults;
  CLI::App app{"warrend: the Warren broker and lock service"};
  app.set_version_flag("--version", "warrend 0.1.0");
  app.get_formatter()->column_width(44);

  // Flags are kept as strings so that only those given override the file.
  std::string config_file, data_dir, log_level, sl_path, sl_mode, policy, req_to, conf_to, max_ttl, hello_to;
  bool no_socketlock = false, no_amqp = false;
  std::string amqp_host;
  int amqp_port = -1;
  int reader_threads = -2;
  app.add_option("-c,--config", config_file, "TOML configuration file (README.md, section Configuration)");
  app.add_option("--data-dir", data_dir, "Directory for the broker's data")->default_str(defaults.data_dir);
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error, critical or off")
      ->default_str(defaults.log_level);
  app.add_option("--amqp-host", amqp_host, "Address the AMQP listener binds")->default_str(defaults.amqp.host);
  app.add_option("--amqp-port", amqp_port, "AMQP port (0: any free port)")->default_str(std::to_string(defaults.amqp.port));
  app.add_option("--amqp-reader-threads", reader_threads,
                 "threads reading AMQP sockets beside the broker's (0: none; default: 1 with more than one CPU)")
      ->check(CLI::Range(0, 64));
  app.add_flag("--no-amqp", no_amqp, "Do not serve AMQP");
  // AMQPS. Booleans are -1 until a flag says otherwise, so that only the
  // flags given override the file.
  int tls_on = -1, tls_verify = -1, tls_require = -1, tls_port = -1;
  std::string tls_host, tls_cert, tls_key, tls_ca, tls_ciphers, tls_suites, tls_min;
  app.add_flag_function("--tls,!--no-tls", [&](int64_t n) { tls_on = n > 0; },
                        "Serve AMQPS (AMQP over TLS) on a second port; needs --tls-cert and --tls-key");
  app.add_option("--tls-host", tls_host, "Address the AMQPS listener binds")->default_str("the AMQP host");
  app.add_option("--tls-port", tls_port, "AMQPS port (0: any free port)")
      ->default_str(std::to_string(defaults.amqp.tls.port))
      ->check(CLI::Range(0, 65535));
  app.add_option("--tls-cert", tls_cert, "PEM file: the server's certificate, then its chain");
  app.add_option("--tls-key", tls_key, "PEM file: the server's private key (no passphrase)");
  app.add_option("--tls-ca", tls_ca, "PEM file: CAs that client certificates must chain to");
  app.add_option("--tls-ciphers", tls_ciphers, "TLS 1.2 cipher list, OpenSSL's syntax")->default_str("OpenSSL's");
  app.add_option("--tls-ciphersuites", tls_suites, "TLS 1.3 ciphersuites, OpenSSL's syntax")->default_str("OpenSSL's");
  app.add_option("--tls-min-version", tls_min, "Oldest TLS version accepted: 1.2 or 1.3")
      ->default_str(defaults.amqp.tls.min_version);
  app.add_flag_function("--tls-verify-peer,!--no-tls-verify-peer", [&](int64_t n) { tls_verify = n > 0; },
                        "Ask clients for a certificate and verify it against --tls-ca");
  app.add_flag_function("--tls-fail-if-no-peer-cert,!--no-tls-fail-if-no-peer-cert",
                        [&](int64_t n) { tls_require = n > 0; },
                        "With --tls-verify-peer: refuse clients without a certificate");
  double watermark = -1;
  app.add_option("--memory-high-watermark", watermark, "Block publishers above this: a fraction of RAM, or bytes")
      ->default_str("0.4");
  int64_t disk_free_limit = -1;
  app.add_option("--disk-free-limit", disk_free_limit, "Block publishers when the data directory's disk has less free (bytes)")
      ->default_str(std::to_string(defaults.store.disk_free_limit))
      ->check(CLI::NonNegativeNumber);
  int64_t memory_budget = -1;
  app.add_option("--memory-budget", memory_budget,
                 "Page durable queues' messages to disk above this many bytes of messages (0: never)")
      ->default_str("half the memory high watermark")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--socketlock-path", sl_path, "Unix socket where socketlock is served")
      ->default_str("<data-dir>/socketlock.sock");
  app.add_option("--socketlock-socket-mode", sl_mode, "The socket's permission bits, in octal (0660: its group may connect)")
      ->default_str("as the umask makes them");
  app.add_flag("--no-socketlock", no_socketlock, "Do not serve socketlock");
  int management_port = -1, prometheus_port = -1;
  bool no_management = false, no_prometheus = false;
  std::string management_host;
  app.add_option("--management-host", management_host, "Address the management HTTP API binds")
      ->default_str(defaults.management.host);
  app.add_option("--management-port", management_port, "Management HTTP API port (0: any free port)")
      ->default_str(std::to_string(defaults.management.port))
      ->check(CLI::Range(0, 65535));
  app.add_flag("--no-management", no_management, "Do not serve the management HTTP API");
  app.add_option("--prometheus-port", prometheus_port, "Prometheus metrics port, on the management host (0: any free port)")
      ->default_str(std::to_string(defaults.prometheus.port))
      ->check(CLI::Range(0, 65535));
  app.add_flag("--no-prometheus", no_prometheus, "Do not serve Prometheus metrics");
  bool double_grant = false;
  std::string load_definitions;
  app.add_option("--load-definitions", load_definitions,
                 "RabbitMQ definitions file (users, vhosts, permissions) imported at every boot");
  bool cert_login = false;
  app.add_flag("--cert-login", cert_login, "Offer SASL EXTERNAL to TLS clients: a verified certificate's CN is the user");
  app.add_flag("--unsafe-test-double-grant", double_grant,
               "TESTS ONLY: lock queues grant exclusive locks twice (the prover's selftest proves it notices)");
  app.add_option("--socketlock-policy", policy, "ReaderPreferred, WriterPreferred or FIFO")
      ->default_str(std::string(locks::to_string(defaults.socketlock.lock.policy)));
  app.add_option("--socketlock-request-timeout", req_to, "How long a request may wait for an offer")->default_str("30s");
  app.add_option("--socketlock-confirm-timeout", conf_to, "How long an offer waits for CONFIRM")->default_str("30s");
  app.add_option("--socketlock-max-ttl", max_ttl, "Largest TTL a client may ask for (0: no limit)")->default_str("0");
  app.add_option("--socketlock-hello-timeout", hello_to, "Close connections silent this long")->default_str("10s");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    exit_code = app.exit(e);
    return std::nullopt;
  }

  Config cfg;
  try {
    if (!config_file.empty()) {
      std::ifstream in(config_file);
      if (!in) throw std::runtime_error("cannot read config file " + config_file);
      std::stringstream text;
      text << in.rdbuf();
      apply_toml(cfg, text.str(), config_file);
      cfg.config_file = config_file;
    }
    auto dur = [](const std::string& flag, const std::string& v) {
      auto d = parse_duration(v);
      if (!d) throw std::runtime_error(fmt::format("{}: not a duration: {}", flag, v));
      return *d;
    };
    if (!data_dir.empty()) cfg.data_dir = data_dir;
    cfg.unsafe_test_double_grant = double_grant;
    if (!load_definitions.empty()) cfg.auth.load_definitions = load_definitions;
    if (cert_login) cfg.auth.cert_login = true;
    if (!log_level.empty()) cfg.log_level = log_level;
    if (!sl_path.empty()) cfg.socketlock.path = sl_path;
    if (!sl_mode.empty()) cfg.socketlock.socket_mode = mode_of(sl_mode, "command line", "--socketlock-socket-mode");
    if (!amqp_host.empty()) cfg.amqp.host = amqp_host;
    if (amqp_port >= 0) {
      if (amqp_port > 65535) throw std::runtime_error("--amqp-port: out of range");
      cfg.amqp.port = uint16_t(amqp_port);
    }
    if (no_amqp) cfg.amqp.enabled = false;
    TlsConfig& tls = cfg.amqp.tls;
    if (tls_on >= 0) tls.enabled = tls_on > 0;
    if (!tls_host.empty()) tls.host = tls_host;
    if (tls_port >= 0) tls.port = uint16_t(tls_port);
    if (!tls_cert.empty()) tls.cert = tls_cert;
    if (!tls_key.empty()) tls.key = tls_key;
    if (!tls_ca.empty()) tls.ca = tls_ca;
    if (!tls_ciphers.empty()) tls.ciphers = tls_ciphers;
    if (!tls_suites.empty()) tls.ciphersuites = tls_suites;
    if (!tls_min.empty()) tls.min_version = tls_version_of(tls_min, "command line", "--tls-min-version");
    if (tls_verify >= 0) tls.verify_peer = tls_verify > 0;
    if (tls_require >= 0) tls.fail_if_no_peer_cert = tls_require > 0;
    check_tls(tls, "amqp.tls");
    check_tls(cfg.management.tls, "management.tls");
    check_tls(cfg.prometheus.tls, "prometheus.tls");
    if (reader_threads >= 0) cfg.amqp.reader_threads = reader_threads;
    if (watermark == 0 || (watermark < 0 && watermark != -1))
      throw std::runtime_error("--memory-high-watermark: must be positive");
    if (watermark > 0) cfg.amqp.memory_high_watermark = watermark;
    if (disk_free_limit >= 0) cfg.store.disk_free_limit = uint64_t(disk_free_limit);
    if (memory_budget >= 0) cfg.store.memory_budget = memory_budget;
    if (no_socketlock) cfg.socketlock.enabled = false;
    if (!management_host.empty()) cfg.management.host = cfg.prometheus.host = management_host;
    if (management_port >= 0) cfg.management.port = uint16_t(management_port);
    if (no_management) cfg.management.enabled = false;
    if (prometheus_port >= 0) cfg.prometheus.port = uint16_t(prometheus_port);
    if (no_prometheus) cfg.prometheus.enabled = false;
    if (!policy.empty()) cfg.socketlock.lock.policy = policy_of(policy, "command line", "--socketlock-policy");
    if (!req_to.empty()) cfg.socketlock.lock.request_timeout = dur("--socketlock-request-timeout", req_to);
    if (!conf_to.empty()) cfg.socketlock.lock.confirm_timeout = dur("--socketlock-confirm-timeout", conf_to);
    if (!max_ttl.empty()) cfg.socketlock.lock.max_ttl = dur("--socketlock-max-ttl", max_ttl);
    if (!hello_to.empty()) cfg.socketlock.hello_timeout = dur("--socketlock-hello-timeout", hello_to);
    if (cfg.socketlock.lock.request_timeout <= milliseconds::zero() ||
        cfg.socketlock.lock.confirm_timeout <= milliseconds::zero())
      throw std::runtime_error("socketlock timeouts must be positive");
  } catch (const std::exception& e) {
    fmt::print(stderr, "warrend: {}\n", e.what());
    exit_code = 2;
    return std::nullopt;
  }
  return cfg;
}

}  // namespace warren::config
