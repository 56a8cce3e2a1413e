#pragma once
// Bytes held by live messages, process-wide: what the memory high watermark
// compares against. Counted when a message is made and when it dies, so
// a body shared by several queues counts once.
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

// 40% of physical memory, RabbitMQ's default vm_memory_high_watermark.
uint64_t default_memory_high_watermark();

}  // namespace warren::broker
