#include "sim/bundle_crypto_cost.h"

#include "gtest/gtest.h"

namespace fedtiny::sim {
namespace {

const DeviceClass& Named(const std::string& name) {
  for (const DeviceClass& c : DefaultCatalogue()) {
    if (c.name == name) return c;
  }
  ADD_FAILURE() << "no class " << name;
  return DefaultCatalogue().front();
}

TEST(BundleCryptoCostTest, PhoneHighMatchesTheHostBenchmark) {
  // docs/benchmarks.md: 5.3 MB hashes in ~5.3 ms and decrypts in ~1.6 ms with the unwrap.
  BundleCryptoCost c = CostOf(Named("phone-high"), 5'335'180, 1);
  EXPECT_NEAR(c.verify_s * 1e3, 5.3, 0.2);
  EXPECT_NEAR(c.decrypt_s * 1e3, 1.57 + 0.36 - 0.0, 0.1);
  EXPECT_EQ(c.verified_bytes, 5'335'180);
  EXPECT_EQ(c.decrypted_bytes, 5'335'180);
}

TEST(BundleCryptoCostTest, MicrocontrollersPayForTheUnwrapAndEveryByte) {
  BundleCryptoCost m4 = CostOf(Named("mcu-m4"), 65536, 1);
  // 2.99 M instructions of SHA-256 at 64 MHz; 11.1 M + 7.9 M to unwrap and decrypt.
  EXPECT_NEAR(m4.verify_s, 2'987'300 / 64e6, 1e-6);
  EXPECT_NEAR(m4.decrypt_s, (11'120'300 + 7'916'200) / 64e6, 1e-6);
  BundleCryptoCost m7 = CostOf(Named("mcu-m7"), 65536, 1);
  EXPECT_LT(m7.decrypt_s, m4.decrypt_s);
  EXPECT_GT(m7.decrypt_s, CostOf(Named("phone-low"), 65536, 1).decrypt_s);
}

}  // namespace
}  // namespace fedtiny::sim
