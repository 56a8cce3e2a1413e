#pragma once
// A simulated disk for the store's tests and fuzzers: files in memory, with
// the faults a real disk and kernel produce, driven by a seed so that every
// run can be replayed.
//
// What it models:
// - What is durable: a file's bytes as of its last good sync, and a
//   directory's entries as of its last sync_dir. power_loss() keeps those,
//   plus a seeded prefix of each file's unsynced appended bytes (a torn
//   write), and forgets the rest: created files vanish, removed or renamed
//   ones come back.
// - Failures: the next N calls of an operation fail with an errno (EIO,
//   ENOSPC...); writes may be short; a capacity makes writes past it fail
//   with ENOSPC.
// - fsyncgate: after a failed sync the file's unsynced bytes never reach
//   the disk, though they read back, and later syncs of it report success.
//   A store that syncs again and carries on loses data; one that stops
//   (or rewrites from its own memory into a new file) does not.
#include <cstdint>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>

#include "store/io.hpp"

namespace warren::store {

class SimIo final : public Io {
 public:
  enum class Op : uint8_t { Open, Write, Sync, SyncDir, Rename, Remove };

  explicit SimIo(uint64_t seed = 1) : rng_(seed) {}

  // The next `times` calls of `op` fail with `err`.
  void fail(Op op, int err, int times = 1);
  // Writes stop at a random point (at least one byte).
  void short_writes(bool on) { short_writes_ = on; }
  // Total bytes all files may hold; writes beyond fail with ENOSPC.
  void set_capacity(uint64_t bytes) { capacity_ = bytes; }
  // The machine loses power and comes back (see above). Files opened
  // before must not be used after.
  void power_loss();

  // For tests: a file's current bytes ("" if missing), and replacing them
  // (durably), e.g. to damage a record.
  std::string contents(const std::string& path) const;
  void set_contents(const std::string& path, std::string bytes);
  bool exists(const std::string& path) const { return files_.count(path) != 0; }
  // Copies the files of `dir` whose names `keep` takes (all, if null) into
  // `to`, durably: another machine with the same disk.
  void copy_dir(const std::string& dir, SimIo& to, bool (*keep)(const std::string& name) = nullptr) const;

  // Io
  int open(const std::string& path, OpenMode mode, std::unique_ptr<File>& out) override;
  int list(const std::string& dir, std::vector<std::string>& names) override;
  int make_dir(const std::string& path) override;
  int remove(const std::string& path) override;
  int rename(const std::string& from, const std::string& to) override;
  int sync_dir(const std::string& dir) override;
  int free_bytes(const std::string& dir, uint64_t& out) override;
  int lock(const std::string& path, std::unique_ptr<File>& holder) override;

 private:
  friend class SimFile;
  struct Node {
    std::string data;    // what reads see
    std::string synced;  // what survives power loss
    bool poisoned = false;  // a sync failed: later syncs persist nothing
  };
  using NodePtr = std::shared_ptr<Node>;

  int take_fault(Op op);  // errno to fail with, or 0
  uint64_t used() const;
  static std::string parent(const std::string& path);

  std::mt19937_64 rng_;
  std::map<Op, std::pair<int, int>> faults_;  // op -> (errno, times left)
  bool short_writes_ = false;
  uint64_t capacity_ = UINT64_MAX;
  std::map<std::string, NodePtr> files_;    // names as they are now
  std::map<std::string, NodePtr> durable_;  // names as of their directory's last sync
  std::set<std::string> dirs_;
  std::set<std::string> locked_;
};

}  // namespace warren::store
