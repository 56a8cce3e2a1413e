#include "store/epoch_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <filesystem>
#include <stdexcept>
#include <system_error>

namespace warren::store {

namespace {

[[noreturn]] void fail(const std::string& what, const std::string& path) {
  throw std::system_error(errno, std::generic_category(), what + " " + path);
}

// Closes on every way out.
struct Fd {
  int fd;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

}  // namespace

uint64_t bump_epoch(const std::string& path) {
  uint64_t epoch = 0;
  if (Fd in{::open(path.c_str(), O_RDONLY | O_CLOEXEC)}; in.fd >= 0) {
    char buf[32] = {};
    ssize_t n = ::pread(in.fd, buf, sizeof buf - 1, 0);
    if (n < 0) fail("read", path);
    const char* end = buf + n;
    while (end > buf && (end[-1] == '\n' || end[-1] == ' ')) --end;
    auto [p, ec] = std::from_chars(buf, end, epoch);
    if (ec != std::errc() || p != end || end == buf)
      throw std::runtime_error(path + " does not hold an epoch number: fencing tokens could repeat if it started over");
  } else if (errno != ENOENT) {
    fail("open", path);
  }
  ++epoch;
  const std::string tmp = path + ".tmp";
  const std::string text = std::to_string(epoch) + "\n";
  {
    Fd out{::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)};
    if (out.fd < 0) fail("create", tmp);
    if (::write(out.fd, text.data(), text.size()) != ssize_t(text.size()) || ::fsync(out.fd) != 0) fail("write", tmp);
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) fail("rename to", path);
  std::string dir = std::filesystem::path(path).parent_path().string();
  Fd d{::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)};
  if (d.fd < 0 || ::fsync(d.fd) != 0) fail("fsync directory of", path);
  return epoch;
}

}  // namespace warren::store
