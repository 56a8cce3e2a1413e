#pragma once
// The system's side of what the broker core may not ask for itself
// (broker::Env): the kernel's random generator and the system clock; and
// the default memory high watermark, which needs the machine's memory.
// warrend passes a SystemEnv to its Broker; tests and fuzzers pass a
// broker::SeededEnv instead. src/broker never includes this header.
#include <cstdint>
#include <span>

#include "broker/env.hpp"

namespace warren::server {

class SystemEnv final : public broker::Env {
 public:
  // getrandom(2); std::random_device if that fails (it too reads the
  // kernel's generator on Linux).
  void fill_random(std::span<uint8_t> out) override;
  // std::chrono::system_clock.
  uint64_t unix_seconds() override;
};

// 40% of physical memory, RabbitMQ's default vm_memory_high_watermark (1 GiB
// when the system does not say).
uint64_t default_memory_high_watermark();

}  // namespace warren::server
