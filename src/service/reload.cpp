#include "service/reload.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <map>

namespace warren::service {

namespace {

std::string text(bool b) { return b ? "true" : "false"; }
std::string text(const std::string& s) { return fmt::format("\"{}\"", s); }
std::string text(std::chrono::milliseconds d) { return fmt::format("\"{}ms\"", d.count()); }
template <class N>
  requires std::is_arithmetic_v<N>
std::string text(N n) {
  return fmt::format("{}", n);
}

// Collects settings under a section's prefix.
struct Out {
  std::vector<Setting>& v;
  std::string prefix;
  template <class T>
  void operator()(std::string_view key, const T& value) {
    v.push_back({prefix + std::string(key), text(value), false});
  }
  void secret(std::string_view key, const std::string& value) {
    v.push_back({prefix + std::string(key), value, true});
  }
  Out sub(std::string_view name) const { return {v, prefix + std::string(name) + "."}; }
};

void tls_settings(Out o, const config::TlsConfig& t) {
  o("enabled", t.enabled);
  o("host", t.host);
  o("port", t.port);
  o("cert", t.cert);
  o("key", t.key);
  o("ca", t.ca);
  o("ciphers", t.ciphers);
  o("ciphersuites", t.ciphersuites);
  o("min_version", t.min_version);
  o("verify_peer", t.verify_peer);
  o("fail_if_no_peer_cert", t.fail_if_no_peer_cert);
}

void http_settings(Out o, const config::HttpConfig& h) {
  o("enabled", h.enabled);
  o("host", h.host);
  o("port", h.port);
  tls_settings(o.sub("tls"), h.tls);
}

// [amqp.tls] keys that a new context takes: all but the listener's.
bool is_tls_context_key(std::string_view key) {
  constexpr std::string_view prefix = "amqp.tls.";
  if (!key.starts_with(prefix)) return false;
  key.remove_prefix(prefix.size());
  return key != "enabled" && key != "host" && key != "port";
}

}  // namespace

// Every member of config::Config, but config_file (where it came from) and
// unsafe_test_double_grant (a test's flag). A member added to Config must
// be listed here, or a reload would neither apply nor report it:
// reload_test's FieldCounts fails until it is.
std::vector<Setting> settings_of(const config::Config& c) {
  std::vector<Setting> v;
  Out root{v, ""};
  root("data_dir", c.data_dir);
  root("log.level", c.log_level);

  Out a = root.sub("amqp");
  a("enabled", c.amqp.enabled);
  a("host", c.amqp.host);
  a("port", c.amqp.port);
  a("heartbeat", c.amqp.heartbeat);
  a("frame_max", c.amqp.frame_max);
  a("channel_max", c.amqp.channel_max);
  a("max_message_size", c.amqp.max_message_size);
  a("memory_high_watermark", c.amqp.memory_high_watermark);
  a("reader_threads", c.amqp.reader_threads);
  for (const auto& [user, password] : c.amqp.users) a.sub("users").secret(user, password);
  tls_settings(a.sub("tls"), c.amqp.tls);

  Out a10 = root.sub("amqp10");
  a10("idle_time_out", c.amqp10.idle_time_out);
  a10("max_frame_size", c.amqp10.max_frame_size);
  a10("link_credit", c.amqp10.link_credit);
  a10("declare_bare_queues", c.amqp10.declare_bare_queues);
  a10("default_user", c.amqp10.default_user);

  Out au = root.sub("auth");
  au("default_user", c.auth.default_user);
  au.secret("default_pass", c.auth.default_pass);
  au("loopback_users", fmt::format("{}", fmt::join(c.auth.loopback_users, ",")));
  au("load_definitions", c.auth.load_definitions);
  au("cert_login", c.auth.cert_login);

  Out st = root.sub("store");
  st("disk_free_limit", c.store.disk_free_limit);
  st("segment_bytes", c.store.segment_bytes);
  st("memory_budget", c.store.memory_budget);

  http_settings(root.sub("management"), c.management);
  http_settings(root.sub("prometheus"), c.prometheus);

  Out sl = root.sub("socketlock");
  sl("enabled", c.socketlock.enabled);
  sl("path", c.socketlock_path());  // its default follows data_dir
  sl("socket_mode", c.socketlock.socket_mode < 0 ? std::string() : fmt::format("{:04o}", c.socketlock.socket_mode));
  sl("policy", std::string(locks::to_string(c.socketlock.lock.policy)));
  sl("request_timeout", c.socketlock.lock.request_timeout);
  sl("confirm_timeout", c.socketlock.lock.confirm_timeout);
  sl("max_ttl", c.socketlock.lock.max_ttl);
  sl("max_shared", c.socketlock.lock.max_shared);
  sl("hello_timeout", c.socketlock.hello_timeout);
  return v;
}

size_t ReloadPlan::restart_needed() const {
  return size_t(std::count_if(changes.begin(), changes.end(), [](const Change& c) { return !c.live; }));
}

ReloadPlan plan_reload(const config::Config& running, const config::Config& fresh) {
  ReloadPlan plan;
  plan.next = running;
  const std::vector<Setting> before = settings_of(running), after = settings_of(fresh);
  std::map<std::string, const Setting*> old_by_key, new_by_key;
  for (const Setting& s : before) old_by_key[s.key] = &s;
  for (const Setting& s : after) new_by_key[s.key] = &s;

  // AMQPS takes a new context only while its listener is up and stays.
  const bool tls_stays = running.amqp.enabled && fresh.amqp.enabled && running.amqp.tls.enabled &&
                         fresh.amqp.tls.enabled;
  auto live = [&](std::string_view key) {
    if (key == "log.level") return true;
    // The resource alarms' thresholds, checked by the AMQP listener.
    if (key == "amqp.memory_high_watermark" || key == "store.disk_free_limit") return running.amqp.enabled;
    return tls_stays && is_tls_context_key(key);
  };
  auto add = [&](const std::string& key, const Setting* from, const Setting* to) {
    const bool secret = (from && from->secret) || (to && to->secret);
    Change c{key, from ? (secret ? "(hidden)" : from->value) : "(none)", to ? (secret ? "(hidden)" : to->value) : "(none)",
             live(key)};
    plan.changes.push_back(std::move(c));
  };
  // In the new file's order, then what it no longer has (a removed user).
  for (const Setting& s : after) {
    auto it = old_by_key.find(s.key);
    if (it == old_by_key.end() || it->second->value != s.value) add(s.key, it == old_by_key.end() ? nullptr : it->second, &s);
  }
  for (const Setting& s : before)
    if (!new_by_key.count(s.key)) add(s.key, &s, nullptr);
  // The stores' paging budget, when left to its default, is half the
  // watermark as it was at start: it follows a new one at a restart.
  if (running.store.memory_budget < 0 && fresh.store.memory_budget < 0 &&
      running.amqp.memory_high_watermark != fresh.amqp.memory_high_watermark)
    plan.changes.push_back({"store.memory_budget", "half the memory high watermark at start",
                            "half the new memory high watermark", false});

  for (const Change& c : plan.changes) {
    if (!c.live) continue;
    if (c.key == "log.level") {
      plan.log_level = true;
      plan.next.log_level = fresh.log_level;
    } else if (c.key == "amqp.memory_high_watermark") {
      plan.resource_limits = true;
      plan.next.amqp.memory_high_watermark = fresh.amqp.memory_high_watermark;
    } else if (c.key == "store.disk_free_limit") {
      plan.resource_limits = true;
      plan.next.store.disk_free_limit = fresh.store.disk_free_limit;
    }
  }
  // While AMQPS stays on, every reload makes a new context, changed
  // settings or not: certificates renewed in place (the same paths, as
  // certbot's) are read again.
  plan.amqp_tls = tls_stays;
  if (plan.amqp_tls) {
    // From the new settings but the listener's own (enabled, host, port),
    // which stay as they run.
    const config::TlsConfig& listener = running.amqp.tls;
    plan.next.amqp.tls = fresh.amqp.tls;
    plan.next.amqp.tls.enabled = listener.enabled;
    plan.next.amqp.tls.host = listener.host;
    plan.next.amqp.tls.port = listener.port;
  }
  return plan;
}

}  // namespace warren::service
