#pragma once
// A deterministic broker::Env for tests and fuzzers: random bytes from a
// seeded generator, a wall clock that only moves when told. Two brokers on
// SeededEnvs with the same seed name their queues and reply-to receivers
// alike.
#include <cstdint>
#include <random>
#include <span>

#include "broker/env.hpp"

namespace warren::broker {

class SeededEnv final : public Env {
 public:
  static constexpr uint64_t kDefaultUnixSeconds = 1700000000;  // 2023-11-14T22:13:20Z

  explicit SeededEnv(uint64_t seed = 1, uint64_t unix_seconds = kDefaultUnixSeconds)
      : rng_(seed), unix_seconds_(unix_seconds) {}

  void fill_random(std::span<uint8_t> out) override {
    for (uint8_t& b : out) b = uint8_t(rng_());
  }
  uint64_t unix_seconds() override { return unix_seconds_; }
  void set_unix_seconds(uint64_t s) { unix_seconds_ = s; }

 private:
  std::mt19937_64 rng_;  // fully specified by the standard: the same sequence everywhere
  uint64_t unix_seconds_;
};

}  // namespace warren::broker
