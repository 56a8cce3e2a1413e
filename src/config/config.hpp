#pragma once
// warrend's configuration: built-in defaults, then a TOML file (--config),
// then command-line flags, each overriding the one before.
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "locks/rw_lock.hpp"

namespace warren::config {

struct SocketlockConfig {
  bool enabled = true;
  std::string path;  // empty: <data_dir>/socketlock.sock
  locks::Options lock;
  std::chrono::milliseconds hello_timeout = std::chrono::seconds(10);
};

struct Config {
  std::string config_file;  // empty: embedded defaults only
  std::string data_dir = "var";
  std::string log_level = "info";
  SocketlockConfig socketlock;

  std::string socketlock_path() const {
    return socketlock.path.empty() ? data_dir + "/socketlock.sock" : socketlock.path;
  }
};

// "30", "30s", "1.5s", "250ms", "2m", "1h". Seconds when no unit is given.
std::optional<std::chrono::milliseconds> parse_duration(std::string_view text);

// Applies a TOML document on top of `cfg`. Throws std::runtime_error naming
// the key at fault, and rejects unknown keys so typos do not pass silently.
void apply_toml(Config& cfg, std::string_view toml_text, std::string_view source_name);

// Parses argv (CLI11). Returns nothing and sets `exit_code` when the program
// should exit at once (--help, --version, or a usage error).
std::optional<Config> parse_command_line(int argc, char** argv, int& exit_code);

}  // namespace warren::config
