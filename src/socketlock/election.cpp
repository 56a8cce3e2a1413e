#include "socketlock/election.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <string>
#include <system_error>

namespace warren::socketlock {

namespace {
[[noreturn]] void fail(const std::string& what, const std::string& path) {
  throw std::system_error(errno, std::generic_category(), what + " " + path);
}
}  // namespace

std::unique_ptr<PrimaryClaim> PrimaryClaim::try_acquire(const std::string& socket_path) {
  std::string lp = lock_path(socket_path);
  int fd = ::open(lp.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) fail("open", lp);
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    int e = errno;
    ::close(fd);
    if (e == EWOULDBLOCK) return nullptr;
    errno = e;
    fail("flock", lp);
  }
  char buf[32] = {};
  ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
  uint64_t epoch = 0;
  if (n > 0) std::from_chars(buf, buf + n, epoch);  // garbage or empty: start over at 1
  ++epoch;
  std::string text = std::to_string(epoch) + "\n";
  if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, text.data(), text.size(), 0) != static_cast<ssize_t>(text.size()) ||
      ::fsync(fd) != 0) {
    int e = errno;
    ::close(fd);
    errno = e;
    fail("write epoch to", lp);
  }
  // Any socket file here now is stale: its primary no longer holds the lock.
  ::unlink(socket_path.c_str());
  return std::unique_ptr<PrimaryClaim>(new PrimaryClaim(socket_path, fd, epoch));
}

PrimaryClaim::~PrimaryClaim() {
  // Unlink while still holding the claim, so we never remove a successor's socket.
  ::unlink(path_.c_str());
  ::close(fd_);
}

}  // namespace warren::socketlock
