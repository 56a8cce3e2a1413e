#include "service/reload.hpp"

#include <gtest/gtest.h>

#include <algorithm>

using namespace warren;
using service::plan_reload;

namespace {

config::Config base() {
  config::Config c;
  c.config_file = "/etc/warren/warrend.toml";
  c.data_dir = "/var/lib/warren";
  c.amqp.tls.enabled = true;
  c.amqp.tls.cert = "/etc/warren/server.pem";
  c.amqp.tls.key = "/etc/warren/server.key";
  return c;
}

const service::Change* change_of(const service::ReloadPlan& p, std::string_view key) {
  auto it = std::find_if(p.changes.begin(), p.changes.end(), [&](const service::Change& c) { return c.key == key; });
  return it == p.changes.end() ? nullptr : &*it;
}

// How many members an aggregate has: the most initializers it takes.
struct AnyMember {
  template <class T>
  operator T() const;
};
template <class T, class... A>
constexpr size_t members() {
  if constexpr (requires { T{A{}..., AnyMember{}}; })
    return members<T, A..., AnyMember>();
  else
    return sizeof...(A);
}

}  // namespace

TEST(Reload, NothingChanged) {
  const service::ReloadPlan p = plan_reload(base(), base());
  EXPECT_TRUE(p.changes.empty());
  EXPECT_FALSE(p.log_level || p.resource_limits);
  EXPECT_EQ(p.restart_needed(), 0u);
  // Certificates renewed in place, at the same paths: read again.
  EXPECT_TRUE(p.amqp_tls);
  config::Config plain = base();
  plain.amqp.tls.enabled = false;
  EXPECT_FALSE(plan_reload(plain, plain).amqp_tls);
}

TEST(Reload, LogLevelAppliesLive) {
  config::Config fresh = base();
  fresh.log_level = "debug";
  const service::ReloadPlan p = plan_reload(base(), fresh);
  ASSERT_EQ(p.changes.size(), 1u);
  EXPECT_EQ(p.changes[0].key, "log.level");
  EXPECT_EQ(p.changes[0].from, "\"info\"");
  EXPECT_EQ(p.changes[0].to, "\"debug\"");
  EXPECT_TRUE(p.changes[0].live);
  EXPECT_TRUE(p.log_level);
  EXPECT_EQ(p.next.log_level, "debug");
}

TEST(Reload, PortsAndPathsNeedARestartAndKeepTheirRunningValue) {
  config::Config fresh = base();
  fresh.amqp.port = 5673;
  fresh.data_dir = "/srv/warren";
  fresh.management.port = 15673;
  fresh.socketlock.lock.request_timeout = std::chrono::seconds(5);
  const service::ReloadPlan p = plan_reload(base(), fresh);
  for (const char* key : {"amqp.port", "data_dir", "management.port", "socketlock.request_timeout"}) {
    const service::Change* c = change_of(p, key);
    ASSERT_NE(c, nullptr) << key;
    EXPECT_FALSE(c->live) << key;
  }
  // socketlock's default path follows data_dir: it moves too, at a restart.
  ASSERT_NE(change_of(p, "socketlock.path"), nullptr);
  EXPECT_EQ(change_of(p, "socketlock.path")->to, "\"/srv/warren/socketlock.sock\"");
  EXPECT_EQ(change_of(p, "amqp.port")->from, "5672");
  EXPECT_EQ(change_of(p, "amqp.port")->to, "5673");
  EXPECT_EQ(p.restart_needed(), p.changes.size());
  EXPECT_FALSE(p.log_level || p.resource_limits);
  EXPECT_EQ(p.next.amqp.port, 5672);
  EXPECT_EQ(p.next.data_dir, "/var/lib/warren");
  // Reloading again names them again: the running values did not move.
  EXPECT_EQ(plan_reload(p.next, fresh).restart_needed(), p.changes.size());
}

TEST(Reload, TlsCertificateRotationAppliesWhileAmqpsStaysOn) {
  config::Config fresh = base();
  fresh.amqp.tls.cert = "/etc/warren/new.pem";
  fresh.amqp.tls.key = "/etc/warren/new.key";
  fresh.amqp.tls.min_version = "1.3";
  fresh.amqp.tls.port = 5676;  // the listener's: not the context's
  const service::ReloadPlan p = plan_reload(base(), fresh);
  EXPECT_TRUE(p.amqp_tls);
  for (const char* key : {"amqp.tls.cert", "amqp.tls.key", "amqp.tls.min_version"}) {
    ASSERT_NE(change_of(p, key), nullptr) << key;
    EXPECT_TRUE(change_of(p, key)->live) << key;
  }
  EXPECT_FALSE(change_of(p, "amqp.tls.port")->live);
  EXPECT_EQ(p.next.amqp.tls.cert, "/etc/warren/new.pem");
  EXPECT_EQ(p.next.amqp.tls.key, "/etc/warren/new.key");
  EXPECT_EQ(p.next.amqp.tls.min_version, "1.3");
  EXPECT_EQ(p.next.amqp.tls.port, 5671);
}

TEST(Reload, TurningAmqpsOnOrOffNeedsARestart) {
  config::Config off = base();
  off.amqp.tls.enabled = false;
  for (bool turning_on : {true, false}) {
    config::Config running = turning_on ? off : base();
    config::Config fresh = turning_on ? base() : off;
    fresh.amqp.tls.cert = "/etc/warren/other.pem";
    const service::ReloadPlan p = plan_reload(running, fresh);
    EXPECT_FALSE(p.amqp_tls);
    ASSERT_NE(change_of(p, "amqp.tls.enabled"), nullptr);
    EXPECT_FALSE(change_of(p, "amqp.tls.enabled")->live);
    ASSERT_NE(change_of(p, "amqp.tls.cert"), nullptr);
    EXPECT_FALSE(change_of(p, "amqp.tls.cert")->live);
    EXPECT_EQ(p.next.amqp.tls.cert, running.amqp.tls.cert);
    EXPECT_EQ(p.next.amqp.tls.enabled, running.amqp.tls.enabled);
  }
}

TEST(Reload, ManagementTlsNeedsARestart) {
  config::Config fresh = base();
  fresh.management.tls.cert = "/etc/warren/api.pem";
  const service::ReloadPlan p = plan_reload(base(), fresh);
  ASSERT_NE(change_of(p, "management.tls.cert"), nullptr);
  EXPECT_FALSE(change_of(p, "management.tls.cert")->live);
}

TEST(Reload, ResourceLimitsApplyLiveButNotThePagingBudgetDerivedFromThem) {
  config::Config fresh = base();
  fresh.amqp.memory_high_watermark = 0.6;
  fresh.store.disk_free_limit = 1'000'000'000;
  const service::ReloadPlan p = plan_reload(base(), fresh);
  EXPECT_TRUE(p.resource_limits);
  EXPECT_TRUE(change_of(p, "amqp.memory_high_watermark")->live);
  EXPECT_TRUE(change_of(p, "store.disk_free_limit")->live);
  EXPECT_EQ(p.next.amqp.memory_high_watermark, 0.6);
  EXPECT_EQ(p.next.store.disk_free_limit, 1'000'000'000u);
  ASSERT_NE(change_of(p, "store.memory_budget"), nullptr);
  EXPECT_FALSE(change_of(p, "store.memory_budget")->live);
  EXPECT_EQ(p.restart_needed(), 1u);

  // An explicit budget does not follow the watermark.
  config::Config running = base(), fixed = fresh;
  running.store.memory_budget = fixed.store.memory_budget = 1 << 30;
  EXPECT_EQ(plan_reload(running, fixed).restart_needed(), 0u);

  // Without the AMQP listener there are no alarms to move.
  running = base();
  running.amqp.enabled = false;
  fixed = fresh;
  fixed.amqp.enabled = false;
  EXPECT_FALSE(plan_reload(running, fixed).resource_limits);
}

TEST(Reload, PasswordsAreNeverShown) {
  config::Config running = base(), fresh = base();
  running.amqp.users["app"] = "old-secret";
  running.amqp.users["gone"] = "gone-secret";
  fresh.amqp.users["app"] = "new-secret";
  fresh.amqp.users["added"] = "added-secret";
  fresh.auth.default_pass = "changed-secret";
  const service::ReloadPlan p = plan_reload(running, fresh);
  for (const char* key : {"amqp.users.app", "amqp.users.added", "amqp.users.gone", "auth.default_pass"}) {
    const service::Change* c = change_of(p, key);
    ASSERT_NE(c, nullptr) << key;
    EXPECT_FALSE(c->live) << key;
    EXPECT_EQ(c->from.find("secret"), std::string::npos) << key;
    EXPECT_EQ(c->to.find("secret"), std::string::npos) << key;
  }
  EXPECT_EQ(change_of(p, "amqp.users.added")->from, "(none)");
  EXPECT_EQ(change_of(p, "amqp.users.gone")->to, "(none)");
}

TEST(Reload, EverySettingIsCompared) {
  // Each key once; 72 with no [amqp.users] (one more per user).
  const std::vector<service::Setting> all = service::settings_of(base());
  std::vector<std::string> keys;
  for (const auto& s : all) keys.push_back(s.key);
  std::sort(keys.begin(), keys.end());
  EXPECT_EQ(std::adjacent_find(keys.begin(), keys.end()), keys.end()) << "a key is listed twice";
  EXPECT_EQ(all.size(), 72u);
}

// settings_of() lists config::Config's members by hand. When one of these
// counts changes, a setting was added or removed: list it in
// src/service/reload.cpp (settings_of, and live() if it can apply while
// warrend runs), then update the count here.
TEST(Reload, FieldCounts) {
  EXPECT_EQ((members<config::Config>()), 11u);
  EXPECT_EQ((members<config::SocketlockConfig>()), 5u);
  EXPECT_EQ((members<locks::Options>()), 6u);  // unsafe_double_grant is not the file's
  EXPECT_EQ((members<config::TlsConfig>()), 11u);
  EXPECT_EQ((members<config::AmqpConfig>()), 11u);
  EXPECT_EQ((members<config::StoreConfig>()), 3u);
  EXPECT_EQ((members<config::Amqp10Config>()), 5u);
  EXPECT_EQ((members<config::AuthConfig>()), 5u);
  EXPECT_EQ((members<config::HttpConfig>()), 4u);
}
