#pragma once
// The node's durable definitions (DATA_DIR/definitions.json): users, vhosts,
// permissions and limits, in RabbitMQ's definitions format. Small and
// rarely changed, so it is rewritten whole: to "<path>.tmp", synced,
// renamed over the file, and the directory synced, through store::Io (so
// tests can fail or cut any step). A crash leaves the old file or the new
// one, never a torn one.
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>

#include "store/io.hpp"

namespace warren::server {

class DefinitionsFile {
 public:
  DefinitionsFile(store::Io& io, std::string path) : io_(io), path_(std::move(path)) {}

  const std::string& path() const { return path_; }
  // The file's text; nullopt when there is none (a first boot). Throws
  // std::system_error when it exists but cannot be read.
  std::optional<std::string> read() const;
  // Makes `text`, the definitions as of change number `version`, durable.
  // Any thread: writes are serialised, and one older than what is already
  // on disk is skipped (two API requests racing to save). 0 or an errno.
  int write(const std::string& text, uint64_t version);

 private:
  store::Io& io_;
  std::string path_;
  std::mutex mu_;
  uint64_t written_ = 0;  // the version on disk
};

}  // namespace warren::server
