#pragma once
// Who may serve a socket path. The right to be primary is an exclusive
// flock(2) on "<path>.lock": the kernel drops it the moment its holder dies
// (even by SIGKILL), two processes can never both hold it, and only its
// holder unlinks and binds the socket path, so a stale socket file left by a
// dead primary is taken over safely.
//
// The same file keeps the primary epoch. Each new primary increments it
// (written and fsynced before it serves) and issues lock ids from
// (epoch << 32) + 1, so lock ids stay strictly increasing across primaries:
// they are fencing tokens.
#include <cstdint>
#include <memory>
#include <string>

namespace warren::socketlock {

class PrimaryClaim {
 public:
  // nullptr when another process (or another claim in this one) holds the
  // path. Throws std::system_error when the lock file cannot be used.
  static std::unique_ptr<PrimaryClaim> try_acquire(const std::string& socket_path);
  ~PrimaryClaim();
  PrimaryClaim(const PrimaryClaim&) = delete;
  PrimaryClaim& operator=(const PrimaryClaim&) = delete;

  uint64_t epoch() const { return epoch_; }
  uint64_t first_token() const { return (epoch_ << 32) + 1; }
  const std::string& socket_path() const { return path_; }
  // The locked descriptor: while any process holds a duplicate of it (an
  // inherited copy, say), nobody else can claim the path.
  int fd() const { return fd_; }
  static std::string lock_path(const std::string& socket_path) { return socket_path + ".lock"; }

 private:
  PrimaryClaim(std::string path, int fd, uint64_t epoch) : path_(std::move(path)), fd_(fd), epoch_(epoch) {}
  std::string path_;
  int fd_;
  uint64_t epoch_;
};

}  // namespace warren::socketlock
