#pragma once
// Every system call the store makes, behind one narrow interface, so that
// tests can drive the store through a simulated disk (SimIo, sim_io.hpp)
// that fails writes and syncs, writes short, fills up and loses power,
// deterministically from a seed. PosixIo (posix_io.cpp) is the real one.
//
// Calls return 0 or an errno value; nothing throws. A File is used by one
// thread at a time.
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace warren::store {

class File {
 public:
  virtual ~File() = default;
  // Writes up to data.size() bytes at `offset`; `written` says how many
  // (short writes happen: the caller continues or gives up).
  virtual int write_at(std::span<const uint8_t> data, uint64_t offset, size_t& written) = 0;
  // The same for `parts` side by side (pwritev): `written` counts from the
  // first part's start, and may end in any part. By default one part at a
  // time, stopping at the first short write.
  virtual int write_parts_at(std::span<const std::span<const uint8_t>> parts, uint64_t offset, size_t& written);
  // Reads up to out.size() bytes at `offset`; `got` < size only at the end.
  virtual int read_at(std::span<uint8_t> out, uint64_t offset, size_t& got) = 0;
  // fdatasync: what was written is on stable storage when this returns 0.
  // After a failure nothing written since the last good sync may be
  // trusted, even if it reads back (Linux marks the pages clean): the
  // caller must not sync again and carry on.
  virtual int sync() = 0;
  virtual int truncate(uint64_t size) = 0;
  // Starts writing [offset, offset + length) back to the disk without
  // waiting for it (sync_file_range), so that a later sync has less to do.
  // A hint: doing nothing is correct.
  virtual int start_writeback(uint64_t offset, uint64_t length) { return 0; }
  virtual int size(uint64_t& out) = 0;
};

enum class OpenMode : uint8_t {
  Read,       // must exist
  ReadWrite,  // must exist
  Create,     // read-write; created if missing (the directory needs a sync_dir to keep it)
};

class Io {
 public:
  virtual ~Io() = default;
  virtual int open(const std::string& path, OpenMode mode, std::unique_ptr<File>& out) = 0;
  // The names in `dir` (not "." or ".."), in no particular order.
  virtual int list(const std::string& dir, std::vector<std::string>& names) = 0;
  virtual int make_dir(const std::string& path) = 0;  // 0 if it exists already
  virtual int remove(const std::string& path) = 0;
  virtual int rename(const std::string& from, const std::string& to) = 0;
  // Makes the directory's entries (files created, removed, renamed) durable.
  virtual int sync_dir(const std::string& dir) = 0;
  virtual int free_bytes(const std::string& dir, uint64_t& out) = 0;
  // Takes an exclusive lock on `path` (created if missing) for as long as
  // `holder` lives: EWOULDBLOCK when another process holds it.
  virtual int lock(const std::string& path, std::unique_ptr<File>& holder) = 0;
};

// The real file system (open/pwrite/fdatasync/flock...).
std::unique_ptr<Io> posix_io();

// Writes all of `data` at `offset`, continuing after short writes; an
// error, or a write that makes no progress (EIO), stops it.
int write_all(File& f, std::span<const uint8_t> data, uint64_t offset);
// The same for parts side by side, in gathered writes (File::write_parts_at).
int write_all(File& f, std::span<const std::span<const uint8_t>> parts, uint64_t offset);

}  // namespace warren::store
