#include "server/system_env.hpp"

#include <sys/random.h>
#include <unistd.h>

#include <chrono>
#include <random>

namespace warren::server {

void SystemEnv::fill_random(std::span<uint8_t> out) {
  size_t got = 0;
  while (got < out.size()) {
    ssize_t n = ::getrandom(out.data() + got, out.size() - got, 0);
    if (n <= 0) break;
    got += size_t(n);
  }
  if (got == out.size()) return;
  std::random_device rd;
  for (uint8_t& b : out.subspan(got)) b = uint8_t(rd());
}

uint64_t SystemEnv::unix_seconds() {
  return uint64_t(
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count());
}

uint64_t default_memory_high_watermark() {
  long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  if (pages <= 0 || page <= 0) return uint64_t(1) << 30;
  return uint64_t(pages) * uint64_t(page) / 10 * 4;
}

}  // namespace warren::server
