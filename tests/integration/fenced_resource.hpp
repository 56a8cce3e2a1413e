#pragma once
// A tiny resource guarded by fencing tokens, for the integration tests.
//
// This is how a guarded resource uses socketlock's fencing tokens: every
// write carries the token of the lock its writer holds, and the resource
// remembers the highest token it has accepted. A write whose token is lower
// than that is refused, because a newer lock holder has already written: its
// writer is a holder whose lock was lost (TTL passed while it was stopped,
// its primary died...) and who has not noticed yet. A token equal to the
// highest is accepted (the same holder writing again).
//
// The resource is a text file of accepted writes, one "WRITE <token> <data>"
// line each. The file's own flock(2) only makes each check-and-append atomic,
// as a storage server would serialise its requests; it is not the
// distributed lock under test.
#include <sys/file.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstdint>
#include <sstream>
#include <stdexcept>
#include <string>

namespace warren::itest {

struct FencedResult {
  bool accepted = false;
  uint64_t highest = 0;  // the highest token seen before this write
};

inline FencedResult fenced_write(const std::string& path, uint64_t token, const std::string& data) {
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) throw std::runtime_error("cannot open resource " + path);
  if (::flock(fd, LOCK_EX) != 0) {
    ::close(fd);
    throw std::runtime_error("cannot flock resource " + path);
  }
  std::string content;
  char buf[4096];
  ssize_t n;
  off_t off = 0;
  while ((n = ::pread(fd, buf, sizeof buf, off)) > 0) {
    content.append(buf, static_cast<size_t>(n));
    off += n;
  }
  FencedResult r;
  std::istringstream in(content);
  std::string word;
  uint64_t t = 0;
  std::string rest;
  while (in >> word >> t && std::getline(in, rest))
    if (word == "WRITE" && t > r.highest) r.highest = t;
  r.accepted = token >= r.highest;
  if (r.accepted) {
    std::string line = "WRITE " + std::to_string(token) + " " + data + "\n";
    if (::write(fd, line.data(), line.size()) != static_cast<ssize_t>(line.size())) {
      ::close(fd);
      throw std::runtime_error("short write to resource " + path);
    }
  }
  ::close(fd);  // drops the flock
  return r;
}

}  // namespace warren::itest
