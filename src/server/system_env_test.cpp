#include "server/system_env.hpp"

#include <gtest/gtest.h>

#include <array>
#include <chrono>

namespace warren::server {
namespace {

TEST(SystemEnv, RandomBytesDifferEachTime) {
  SystemEnv env;
  std::array<uint8_t, 16> a{}, b{};
  env.fill_random(a);
  env.fill_random(b);
  EXPECT_NE(a, b);  // 2^-128 to fail by chance
  EXPECT_NE(env.random_u64(), env.random_u64());
}

TEST(SystemEnv, UnixSecondsIsTheSystemClock) {
  SystemEnv env;
  const auto sys = [] {
    return uint64_t(std::chrono::duration_cast<std::chrono::seconds>(
                        std::chrono::system_clock::now().time_since_epoch())
                        .count());
  };
  const uint64_t before = sys();
  const uint64_t got = env.unix_seconds();
  EXPECT_GE(got, before);
  EXPECT_LE(got, sys());
}

TEST(SystemEnv, DefaultMemoryHighWatermark) { EXPECT_GT(default_memory_high_watermark(), 0u); }

}  // namespace
}  // namespace warren::server
