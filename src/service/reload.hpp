// What a reload (SIGHUP; `systemctl reload warrend`) does with the
// configuration read again: which settings changed, which of them warrend
// applies while it runs, and which wait for a restart.
//
// Applied live: the log level; [amqp.tls]'s certificate, key, CA, ciphers,
// minimum version and client verification, when AMQPS was on and stays
// on: every reload then makes a new context (so certificate files renewed
// in place are read again too) for the AMQPS connections made from then
// on, those already up keeping theirs; [amqp] memory_high_watermark and [store]
// disk_free_limit (the resource alarms' thresholds). Everything else (ports,
// addresses, the data directory, users, protocol limits, socketlock, the
// management API's settings) is logged as needing a restart and keeps its
// running value, so a later reload names it again until then.
#pragma once

#include <string>
#include <vector>

#include "config/config.hpp"

namespace warren::service {

// One setting whose value differs.
struct Change {
  std::string key;       // as in the TOML file: "log.level", "amqp.tls.cert", "amqp.users.app"
  std::string from, to;  // printable values; secrets (passwords) are "(hidden)"
  bool live = false;     // applied by this reload; false: needs a restart
};

struct ReloadPlan {
  std::vector<Change> changes;  // in the order of the file's sections
  // What to apply.
  bool log_level = false;
  bool amqp_tls = false;         // build a new AMQPS context from next.amqp.tls (whenever AMQPS stays on)
  bool resource_limits = false;  // memory_high_watermark, disk_free_limit
  // The configuration warrend runs after the reload: the running one with
  // the live changes taken from the new one.
  config::Config next;

  size_t restart_needed() const;
};

// Compares the running configuration with one just read (the same command
// line over the file as it is now).
ReloadPlan plan_reload(const config::Config& running, const config::Config& fresh);

// Every setting as (key, printable value), in a stable order; what
// plan_reload compares. Exposed for tests.
struct Setting {
  std::string key, value;
  bool secret = false;
};
std::vector<Setting> settings_of(const config::Config& c);

}  // namespace warren::service
