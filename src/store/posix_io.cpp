// PosixIo: the store's system calls on the real file system.
#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <iterator>

#include "store/io.hpp"

namespace warren::store {

namespace {

class PosixFile final : public File {
 public:
  explicit PosixFile(int fd) : fd_(fd) {}
  ~PosixFile() override { ::close(fd_); }
  PosixFile(const PosixFile&) = delete;
  PosixFile& operator=(const PosixFile&) = delete;

  int write_at(std::span<const uint8_t> data, uint64_t offset, size_t& written) override {
    written = 0;
    ssize_t n;
    do n = ::pwrite(fd_, data.data(), data.size(), off_t(offset));
    while (n < 0 && errno == EINTR);
    if (n < 0) return errno;
    written = size_t(n);
    return 0;
  }
  int write_parts_at(std::span<const std::span<const uint8_t>> parts, uint64_t offset, size_t& written) override {
    written = 0;
    iovec iov[64];
    const size_t count = std::min(parts.size(), std::size(iov));  // the rest on the next call, as a short write
    for (size_t i = 0; i < count; ++i)
      iov[i] = {const_cast<uint8_t*>(parts[i].data()), parts[i].size()};
    ssize_t n;
    do n = ::pwritev(fd_, iov, int(count), off_t(offset));
    while (n < 0 && errno == EINTR);
    if (n < 0) return errno;
    written = size_t(n);
    return 0;
  }
  int read_at(std::span<uint8_t> out, uint64_t offset, size_t& got) override {
    got = 0;
    while (got < out.size()) {
      ssize_t n = ::pread(fd_, out.data() + got, out.size() - got, off_t(offset + got));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return errno;
      if (n == 0) break;
      got += size_t(n);
    }
    return 0;
  }
  int sync() override { return ::fdatasync(fd_) == 0 ? 0 : errno; }
  int truncate(uint64_t size) override { return ::ftruncate(fd_, off_t(size)) == 0 ? 0 : errno; }
  int start_writeback(uint64_t offset, uint64_t length) override {
    return ::sync_file_range(fd_, off_t(offset), off_t(length), SYNC_FILE_RANGE_WRITE) == 0 ? 0 : errno;
  }
  int size(uint64_t& out) override {
    struct stat st;
    if (::fstat(fd_, &st) != 0) return errno;
    out = uint64_t(st.st_size);
    return 0;
  }

 private:
  int fd_;
};

class PosixIo final : public Io {
 public:
  int open(const std::string& path, OpenMode mode, std::unique_ptr<File>& out) override {
    int flags = O_CLOEXEC;
    switch (mode) {
      case OpenMode::Read: flags |= O_RDONLY; break;
      case OpenMode::ReadWrite: flags |= O_RDWR; break;
      case OpenMode::Create: flags |= O_RDWR | O_CREAT; break;
    }
    int fd = ::open(path.c_str(), flags, 0640);
    if (fd < 0) return errno;
    out = std::make_unique<PosixFile>(fd);
    return 0;
  }
  int list(const std::string& dir, std::vector<std::string>& names) override {
    names.clear();
    DIR* d = ::opendir(dir.c_str());
    if (!d) return errno;
    while (dirent* e = ::readdir(d)) {
      std::string n = e->d_name;
      if (n != "." && n != "..") names.push_back(std::move(n));
    }
    ::closedir(d);
    return 0;
  }
  int make_dir(const std::string& path) override {
    if (::mkdir(path.c_str(), 0750) == 0 || errno == EEXIST) return 0;
    return errno;
  }
  int remove(const std::string& path) override { return ::unlink(path.c_str()) == 0 ? 0 : errno; }
  int rename(const std::string& from, const std::string& to) override {
    return ::rename(from.c_str(), to.c_str()) == 0 ? 0 : errno;
  }
  int sync_dir(const std::string& dir) override {
    int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return errno;
    int err = ::fsync(fd) == 0 ? 0 : errno;
    ::close(fd);
    return err;
  }
  int free_bytes(const std::string& dir, uint64_t& out) override {
    struct statvfs st;
    if (::statvfs(dir.c_str(), &st) != 0) return errno;
    out = uint64_t(st.f_bavail) * st.f_frsize;
    return 0;
  }
  int lock(const std::string& path, std::unique_ptr<File>& holder) override {
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0) return errno;
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      int err = errno;
      ::close(fd);
      return err;
    }
    holder = std::make_unique<PosixFile>(fd);  // closing the fd releases the lock
    return 0;
  }
};

}  // namespace

std::unique_ptr<Io> posix_io() { return std::make_unique<PosixIo>(); }

int File::write_parts_at(std::span<const std::span<const uint8_t>> parts, uint64_t offset, size_t& written) {
  written = 0;
  for (std::span<const uint8_t> p : parts) {
    size_t n = 0;
    if (int err = write_at(p, offset + written, n)) return err;
    written += n;
    if (n < p.size()) break;
  }
  return 0;
}

int write_all(File& f, std::span<const std::span<const uint8_t>> parts, uint64_t offset) {
  std::vector<std::span<const uint8_t>> rest(parts.begin(), parts.end());
  size_t first = 0;
  while (first < rest.size()) {
    if (rest[first].empty()) {
      ++first;
      continue;
    }
    size_t n = 0;
    if (int err = f.write_parts_at(std::span(rest).subspan(first), offset, n)) return err;
    if (n == 0) return EIO;
    offset += n;
    while (n > 0) {  // past what was written: whole parts, then into one
      const size_t k = std::min(n, rest[first].size());
      rest[first] = rest[first].subspan(k);
      n -= k;
      if (rest[first].empty()) ++first;
    }
  }
  return 0;
}

int write_all(File& f, std::span<const uint8_t> data, uint64_t offset) {
  while (!data.empty()) {
    size_t n = 0;
    if (int err = f.write_at(data, offset, n)) return err;
    if (n == 0) return EIO;
    data = data.subspan(n);
    offset += n;
  }
  return 0;
}

}  // namespace warren::store
