#pragma once
// The first kMinBodySize bytes of every body: send time (CLOCK_MONOTONIC ns;
// producers and consumers share the host), producer id and the producer's
// sequence number (from 0). Native byte order: only this host reads them.
#include <cstdint>
#include <cstring>
#include <ctime>
#include <span>

#include "options.hpp"

namespace warren::perf {

struct Stamp {
  uint64_t sent_ns = 0;
  uint32_t producer = 0;
  uint32_t seq = 0;
};

inline void write_stamp(std::span<uint8_t> body, const Stamp& s) {
  std::memcpy(body.data(), &s.sent_ns, 8);
  std::memcpy(body.data() + 8, &s.producer, 4);
  std::memcpy(body.data() + 12, &s.seq, 4);
}

// False if the body is too short to hold a stamp.
inline bool read_stamp(std::span<const uint8_t> head, Stamp& s) {
  if (head.size() < kMinBodySize) return false;
  std::memcpy(&s.sent_ns, head.data(), 8);
  std::memcpy(&s.producer, head.data() + 8, 4);
  std::memcpy(&s.seq, head.data() + 12, 4);
  return true;
}

inline uint64_t now_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return uint64_t(ts.tv_sec) * 1'000'000'000u + uint64_t(ts.tv_nsec);
}

}  // namespace warren::perf
