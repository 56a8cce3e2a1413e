#pragma once
// Bytes held by live messages, process-wide: what the memory high watermark
// compares against. Counted when a message is made and when it dies, so
// a body shared by several queues counts once. The watermark itself is
// the server's (its default, 40% of physical memory, is asked of the
// system in src/server/system_env.hpp).
#include <atomic>
#include <cstdint>

namespace warren::broker {

class MemoryAccount {
 public:
  static void add(int64_t bytes) { used_.fetch_add(bytes, std::memory_order_relaxed); }
  static int64_t used() { return used_.load(std::memory_order_relaxed); }

 private:
  static inline std::atomic<int64_t> used_{0};
};

}  // namespace warren::broker
