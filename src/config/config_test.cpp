#include "config/config.hpp"

#include <gtest/gtest.h>

using namespace std::chrono_literals;
using warren::config::Config;

TEST(Config, DurationsAcceptUnitsAndPlainSeconds) {
  using warren::config::parse_duration;
  EXPECT_EQ(parse_duration("30"), 30s);
  EXPECT_EQ(parse_duration("1.5s"), 1500ms);
  EXPECT_EQ(parse_duration("250ms"), 250ms);
  EXPECT_EQ(parse_duration("2m"), 120s);
  EXPECT_EQ(parse_duration("1h"), 3600s);
  EXPECT_FALSE(parse_duration("-1"));
  EXPECT_FALSE(parse_duration("10 parsecs"));
  EXPECT_FALSE(parse_duration(""));
}

TEST(Config, TomlOverridesDefaults) {
  Config c;
  warren::config::apply_toml(c, R"(
data_dir = "/srv/warren"
[log]
level = "debug"
[socketlock]
path = "/run/locks.sock"
policy = "fifo"
request_timeout = "2s"
confirm_timeout = 3
max_ttl = "1m"
)", "test.toml");
  EXPECT_EQ(c.data_dir, "/srv/warren");
  EXPECT_EQ(c.log_level, "debug");
  EXPECT_EQ(c.socketlock_path(), "/run/locks.sock");
  EXPECT_EQ(c.socketlock.lock.policy, warren::locks::Policy::Fifo);
  EXPECT_EQ(c.socketlock.lock.request_timeout, 2s);
  EXPECT_EQ(c.socketlock.lock.confirm_timeout, 3s);
  EXPECT_EQ(c.socketlock.lock.max_ttl, 60s);
}

TEST(Config, DefaultSocketPathLivesInTheDataDir) {
  Config c;
  c.data_dir = "/d";
  EXPECT_EQ(c.socketlock_path(), "/d/socketlock.sock");
}

TEST(Config, SocketModeIsOctal) {
  Config c;
  EXPECT_EQ(c.socketlock.socket_mode, -1);  // the umask's
  warren::config::apply_toml(c, "[socketlock]\nsocket_mode = \"0660\"\n", "x.toml");
  EXPECT_EQ(c.socketlock.socket_mode, 0660);
  warren::config::apply_toml(c, "[socketlock]\nsocket_mode = \"770\"\n", "x.toml");
  EXPECT_EQ(c.socketlock.socket_mode, 0770);
  for (const char* bad : {"\"0668\"", "\"01777\"", "\"\"", "\"rw-rw----\"", "660"})
    EXPECT_THROW(warren::config::apply_toml(c, std::string("[socketlock]\nsocket_mode = ") + bad + "\n", "x.toml"),
                 std::runtime_error)
        << bad;
}

TEST(Config, UnknownKeysAndBadValuesAreNamed) {
  Config c;
  try {
    warren::config::apply_toml(c, "[socketlock]\npolcy = \"fifo\"\n", "x.toml");
    FAIL() << "typo accepted";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("socketlock.polcy"), std::string::npos) << e.what();
  }
  EXPECT_THROW(warren::config::apply_toml(c, "[socketlock]\npolicy = \"random\"\n", "x.toml"), std::runtime_error);
  EXPECT_THROW(warren::config::apply_toml(c, "[socketlock]\nmax_ttl = \"soon\"\n", "x.toml"), std::runtime_error);
  EXPECT_THROW(warren::config::apply_toml(c, "data_dir = [", "x.toml"), std::runtime_error);
}

TEST(Config, FlagsOverrideTheFile) {
  char tmpl[] = "/tmp/warren-config-XXXXXX";
  int fd = mkstemp(tmpl);
  ASSERT_GE(fd, 0);
  std::string text = "data_dir = \"/from-file\"\n[socketlock]\npolicy = \"ReaderPreferred\"\n";
  ASSERT_EQ(write(fd, text.data(), text.size()), static_cast<ssize_t>(text.size()));
  close(fd);
  std::vector<std::string> args = {"warrend", "--config", tmpl, "--data-dir", "/from-flag", "--socketlock-max-ttl", "90s"};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  int code = -1;
  auto c = warren::config::parse_command_line(static_cast<int>(argv.size()), argv.data(), code);
  unlink(tmpl);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->data_dir, "/from-flag");
  EXPECT_EQ(c->socketlock.lock.policy, warren::locks::Policy::ReaderPreferred);
  EXPECT_EQ(c->socketlock.lock.max_ttl, 90s);
}

TEST(Config, AmqpSectionAndFlags) {
  Config c;
  warren::config::apply_toml(c, R"(
[amqp]
host = "0.0.0.0"
port = 5673
heartbeat = 30
[amqp.users]
app = "secret"
)", "a.toml");
  EXPECT_EQ(c.amqp.host, "0.0.0.0");
  EXPECT_EQ(c.amqp.port, 5673);
  EXPECT_EQ(c.amqp.heartbeat, 30);
  EXPECT_EQ(c.amqp.users.at("app"), "secret");
  EXPECT_THROW(warren::config::apply_toml(c, "[amqp]\nport = 70000\n", "a.toml"), std::runtime_error);
  std::vector<std::string> args = {"warrend", "--amqp-port", "0"};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  int code = -1;
  auto parsed = warren::config::parse_command_line(static_cast<int>(argv.size()), argv.data(), code);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->amqp.port, 0);
  EXPECT_EQ(parsed->amqp.host, "127.0.0.1");
}

TEST(Config, MemoryHighWatermarkIsAFractionOrBytes) {
  Config c;
  EXPECT_DOUBLE_EQ(c.amqp.memory_high_watermark, 0.4);
  warren::config::apply_toml(c, "[amqp]\nmemory_high_watermark = 0.25\n", "m.toml");
  EXPECT_DOUBLE_EQ(c.amqp.memory_high_watermark, 0.25);
  warren::config::apply_toml(c, "[amqp]\nmemory_high_watermark = 1000000\n", "m.toml");
  EXPECT_DOUBLE_EQ(c.amqp.memory_high_watermark, 1e6);
  EXPECT_THROW(warren::config::apply_toml(c, "[amqp]\nmemory_high_watermark = 0\n", "m.toml"), std::runtime_error);
}

TEST(Config, Amqp10Table) {
  warren::config::Config c;
  EXPECT_EQ(c.amqp10.idle_time_out, std::chrono::seconds(60));
  EXPECT_TRUE(c.amqp10.declare_bare_queues);
  warren::config::apply_toml(c,
                             "[amqp10]\nidle_time_out = \"5s\"\nmax_frame_size = 65536\nlink_credit = 1000\n"
                             "declare_bare_queues = false\ndefault_user = \"\"\n",
                             "a.toml");
  EXPECT_EQ(c.amqp10.idle_time_out, std::chrono::seconds(5));
  EXPECT_EQ(c.amqp10.max_frame_size, 65536u);
  EXPECT_EQ(c.amqp10.link_credit, 1000u);
  EXPECT_FALSE(c.amqp10.declare_bare_queues);
  EXPECT_EQ(c.amqp10.default_user, "");
  EXPECT_THROW(warren::config::apply_toml(c, "[amqp10]\nmax_frame_size = 100\n", "a.toml"), std::runtime_error);
  EXPECT_THROW(warren::config::apply_toml(c, "[amqp10]\nidle = 1\n", "a.toml"), std::runtime_error);
}

TEST(Config, StoreTableAndDiskFreeLimitFlag) {
  Config c;
  EXPECT_EQ(c.store.disk_free_limit, 50'000'000u);  // RabbitMQ's default
  warren::config::apply_toml(c, "[store]\ndisk_free_limit = 1000000000\nsegment_bytes = 16777216\n", "s.toml");
  EXPECT_EQ(c.store.disk_free_limit, 1'000'000'000u);
  EXPECT_EQ(c.store.segment_bytes, 16u << 20);
  EXPECT_THROW(warren::config::apply_toml(c, "[store]\nsegment_bytes = 10\n", "s.toml"), std::runtime_error);
  EXPECT_THROW(warren::config::apply_toml(c, "[store]\ndisk_free_limit = -1\n", "s.toml"), std::runtime_error);
  EXPECT_THROW(warren::config::apply_toml(c, "[store]\nfsync = false\n", "s.toml"), std::runtime_error);
  std::vector<std::string> args = {"warrend", "--disk-free-limit", "123"};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  int code = 0;
  auto parsed = warren::config::parse_command_line(int(argv.size()), argv.data(), code);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->store.disk_free_limit, 123u);
}

TEST(Config, TlsIsOffByDefaultAndReadFromAmqpTls) {
  Config c;
  EXPECT_FALSE(c.amqp.tls.enabled);
  EXPECT_EQ(c.amqp.tls.port, 5671);
  EXPECT_EQ(c.amqp.tls.min_version, "1.2");
  EXPECT_FALSE(c.amqp.tls.verify_peer);
  EXPECT_NO_THROW(warren::config::check_tls(c.amqp.tls));
  warren::config::apply_toml(c, R"(
[amqp.tls]
enabled = true
host = "0.0.0.0"
port = 5681
cert = "/etc/warren/server.pem"
key = "/etc/warren/server.key"
ca = "/etc/warren/ca.pem"
ciphers = "ECDHE+AESGCM"
ciphersuites = "TLS_AES_256_GCM_SHA384"
min_version = "1.3"
verify_peer = true
fail_if_no_peer_cert = true
)", "t.toml");
  const auto& t = c.amqp.tls;
  EXPECT_TRUE(t.enabled);
  EXPECT_EQ(t.host, "0.0.0.0");
  EXPECT_EQ(t.port, 5681);
  EXPECT_EQ(t.cert, "/etc/warren/server.pem");
  EXPECT_EQ(t.key, "/etc/warren/server.key");
  EXPECT_EQ(t.ca, "/etc/warren/ca.pem");
  EXPECT_EQ(t.ciphers, "ECDHE+AESGCM");
  EXPECT_EQ(t.ciphersuites, "TLS_AES_256_GCM_SHA384");
  EXPECT_EQ(t.min_version, "1.3");
  EXPECT_TRUE(t.verify_peer);
  EXPECT_TRUE(t.fail_if_no_peer_cert);
  EXPECT_NO_THROW(warren::config::check_tls(t));
  EXPECT_THROW(warren::config::apply_toml(c, "[amqp.tls]\nmin_version = \"1.1\"\n", "t.toml"), std::runtime_error);
  EXPECT_THROW(warren::config::apply_toml(c, "[amqp.tls]\nverify = true\n", "t.toml"), std::runtime_error);
  EXPECT_THROW(warren::config::apply_toml(c, "[amqp.tls]\nport = -1\n", "t.toml"), std::runtime_error);
  EXPECT_THROW(warren::config::apply_toml(c, "[amqp]\ntls = true\n", "t.toml"), std::runtime_error);
}

TEST(Config, HttpsForTheManagementApiAndPrometheusIsItsOwnTable) {
  Config c;
  EXPECT_FALSE(c.management.tls.enabled);
  EXPECT_EQ(c.management.tls.port, 15671);  // RabbitMQ's management.ssl.port
  EXPECT_EQ(c.prometheus.tls.port, 15691);
  warren::config::apply_toml(c, R"(
[management.tls]
enabled = true
port = 0
cert = "s.pem"
key = "s.key"
min_version = "1.3"
)", "t.toml");
  EXPECT_TRUE(c.management.tls.enabled);
  EXPECT_EQ(c.management.tls.port, 0);
  EXPECT_EQ(c.management.tls.min_version, "1.3");
  EXPECT_EQ(c.management.port, 15672);  // HTTP stays
  EXPECT_FALSE(c.prometheus.tls.enabled);
  try {
    warren::config::apply_toml(c, "[prometheus.tls]\nverify = true\n", "t.toml");
    ADD_FAILURE() << "an unknown key passed";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("prometheus.tls.verify"), std::string::npos) << e.what();
  }
  warren::config::TlsConfig t;
  t.enabled = true;
  try {
    warren::config::check_tls(t, "management.tls");
    ADD_FAILURE() << "TLS without a certificate passed";
  } catch (const std::runtime_error& e) {
    EXPECT_EQ(std::string(e.what()), "management.tls: TLS needs a certificate and its key (cert, key)");
  }
}

TEST(Config, TlsSettingsMustHoldTogether) {
  warren::config::TlsConfig t;
  t.enabled = true;
  EXPECT_THROW(warren::config::check_tls(t), std::runtime_error);  // no certificate
  t.cert = "c.pem";
  t.key = "k.pem";
  EXPECT_NO_THROW(warren::config::check_tls(t));
  t.fail_if_no_peer_cert = true;
  EXPECT_THROW(warren::config::check_tls(t), std::runtime_error);  // without verify_peer
  t.verify_peer = true;
  EXPECT_THROW(warren::config::check_tls(t), std::runtime_error);  // without a CA
  t.ca = "ca.pem";
  EXPECT_NO_THROW(warren::config::check_tls(t));
}

TEST(Config, TlsFlagsOverrideTheFile) {
  char tmpl[] = "/tmp/warren-config-XXXXXX";
  int fd = mkstemp(tmpl);
  ASSERT_GE(fd, 0);
  std::string text = "[amqp.tls]\nenabled = true\ncert = \"f.pem\"\nkey = \"f.key\"\nca = \"ca.pem\"\n"
                     "verify_peer = true\nfail_if_no_peer_cert = true\n";
  ASSERT_EQ(write(fd, text.data(), text.size()), static_cast<ssize_t>(text.size()));
  close(fd);
  auto parse = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {"warrend", "--config", tmpl});
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    int code = -1;
    return warren::config::parse_command_line(static_cast<int>(argv.size()), argv.data(), code);
  };
  auto c = parse({"--tls-port", "0", "--tls-cert", "g.pem", "--no-tls-fail-if-no-peer-cert", "--tls-min-version",
                  "1.3", "--tls-host", "::1"});
  ASSERT_TRUE(c);
  EXPECT_TRUE(c->amqp.tls.enabled);
  EXPECT_EQ(c->amqp.tls.port, 0);
  EXPECT_EQ(c->amqp.tls.host, "::1");
  EXPECT_EQ(c->amqp.tls.cert, "g.pem");
  EXPECT_EQ(c->amqp.tls.key, "f.key");
  EXPECT_TRUE(c->amqp.tls.verify_peer);
  EXPECT_FALSE(c->amqp.tls.fail_if_no_peer_cert);
  EXPECT_EQ(c->amqp.tls.min_version, "1.3");
  auto off = parse({"--no-tls"});
  ASSERT_TRUE(off);
  EXPECT_FALSE(off->amqp.tls.enabled);
  // Settings that do not hold together are a usage error (exit 2).
  EXPECT_FALSE(parse({"--no-tls-verify-peer"}));
  EXPECT_FALSE(parse({"--tls-min-version", "1.0"}));
  unlink(tmpl);
}

TEST(Config, AuthSection) {
  Config c;
  EXPECT_EQ(c.auth.default_user, "guest");
  EXPECT_EQ(c.auth.loopback_users, std::vector<std::string>{"guest"});
  warren::config::apply_toml(c, R"(
[auth]
default_user = "admin"
default_pass = "s3cret"
loopback_users = []
load_definitions = "/etc/warren/definitions.json"
)", "test.toml");
  EXPECT_EQ(c.auth.default_user, "admin");
  EXPECT_EQ(c.auth.default_pass, "s3cret");
  EXPECT_TRUE(c.auth.loopback_users.empty());
  EXPECT_EQ(c.auth.load_definitions, "/etc/warren/definitions.json");
  EXPECT_THROW(warren::config::apply_toml(c, "[auth]\nloopback_users = \"guest\"\n", "t"), std::runtime_error);
  EXPECT_THROW(warren::config::apply_toml(c, "[auth]\ndefault_password = \"x\"\n", "t"), std::runtime_error);
}

TEST(Config, ManagementAndPrometheusSectionsAndFlags) {
  Config c;
  EXPECT_TRUE(c.management.enabled);
  EXPECT_EQ(c.management.port, 15672);
  EXPECT_EQ(c.prometheus.port, 15692);
  EXPECT_EQ(c.management.host, "127.0.0.1");
  warren::config::apply_toml(c, R"(
[management]
host = "0.0.0.0"
port = 8080
[prometheus]
enabled = false
)", "m.toml");
  EXPECT_EQ(c.management.host, "0.0.0.0");
  EXPECT_EQ(c.management.port, 8080);
  EXPECT_FALSE(c.prometheus.enabled);
  Config bad;
  EXPECT_THROW(warren::config::apply_toml(bad, "[management]\nport = 70000\n", "b.toml"), std::runtime_error);
  EXPECT_THROW(warren::config::apply_toml(bad, "[prometheus]\npath = \"/m\"\n", "b.toml"), std::runtime_error);
  std::vector<std::string> args = {"warrend", "--management-port", "0", "--no-prometheus"};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  int code = -1;
  auto f = warren::config::parse_command_line(static_cast<int>(argv.size()), argv.data(), code);
  ASSERT_TRUE(f);
  EXPECT_EQ(f->management.port, 0);
  EXPECT_TRUE(f->management.enabled);
  EXPECT_FALSE(f->prometheus.enabled);
}
