#include "coordinator/telemetry/rate_limiter.h"

#include "gtest/gtest.h"

namespace fedtiny::coordinator::telemetry {
namespace {

TEST(RateLimiterTest, BurstThenRefillPerPeer) {
  RateLimiter limiter({/*per_minute=*/60, /*burst=*/3, /*max_peers=*/10});
  const absl::Time t0 = absl::FromUnixSeconds(1000);
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(limiter.Allow("a", t0));
  EXPECT_FALSE(limiter.Allow("a", t0));
  EXPECT_TRUE(limiter.Allow("b", t0));  // Another peer has its own bucket.
  EXPECT_FALSE(limiter.Allow("a", t0 + absl::Milliseconds(500)));
  EXPECT_TRUE(
      limiter.Allow("a", t0 + absl::Seconds(1)));  // One token per second.
  EXPECT_FALSE(limiter.Allow("a", t0 + absl::Seconds(1)));
  // Refill stops at the burst.
  for (int i = 0; i < 3; ++i)
    EXPECT_TRUE(limiter.Allow("a", t0 + absl::Hours(1)));
  EXPECT_FALSE(limiter.Allow("a", t0 + absl::Hours(1)));
}

TEST(RateLimiterTest, PeerHostDropsThePort) {
  EXPECT_EQ(PeerHost("ipv4:127.0.0.1:5555"), "ipv4:127.0.0.1");
  EXPECT_EQ(PeerHost("ipv6:[::1]:5555"), "ipv6:[::1]");
  EXPECT_EQ(PeerHost("ipv6:[::1]"), "ipv6:[::1]");
  EXPECT_EQ(PeerHost("unix:/tmp/s"), "unix:/tmp/s");
}

}  // namespace
}  // namespace fedtiny::coordinator::telemetry
