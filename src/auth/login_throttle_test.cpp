#include "auth/login_throttle.hpp"

#include <gtest/gtest.h>

namespace warren::auth {
namespace {

using namespace std::chrono_literals;

TEST(LoginThrottle, BurstThenOnePerRefill) {
  LoginThrottle t({.burst = 3, .refill = 1s});
  TimePoint now{};
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(t.allowed("10.0.0.1", now));
    t.failed("10.0.0.1", now);
  }
  EXPECT_FALSE(t.allowed("10.0.0.1", now));
  EXPECT_FALSE(t.allowed("10.0.0.1", now + 999ms));
  EXPECT_TRUE(t.allowed("10.0.0.1", now + 1s));
  t.failed("10.0.0.1", now + 1s);
  EXPECT_FALSE(t.allowed("10.0.0.1", now + 1500ms));
  EXPECT_TRUE(t.allowed("10.0.0.2", now));  // others are not affected
}

TEST(LoginThrottle, RecoversToTheBurstOnly) {
  LoginThrottle t({.burst = 2, .refill = 1s});
  TimePoint now{};
  t.failed("a", now);
  now += 1h;  // long quiet: back to 2, not 3600
  t.failed("a", now);
  t.failed("a", now);
  EXPECT_FALSE(t.allowed("a", now));
}

TEST(LoginThrottle, ForgetsRecoveredAddressesWhenFull) {
  LoginThrottle t({.burst = 1, .refill = 1s, .max_addresses = 4});
  TimePoint now{};
  for (int i = 0; i < 4; ++i) t.failed("old" + std::to_string(i), now);
  now += 10s;
  t.failed("new", now);  // 5 > 4: the recovered ones go
  EXPECT_EQ(t.tracked(), 1u);
  EXPECT_FALSE(t.allowed("new", now));
}

}  // namespace
}  // namespace warren::auth
