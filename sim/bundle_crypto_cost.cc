#include "sim/bundle_crypto_cost.h"

namespace fedtiny::sim {

namespace {

constexpr double kHostSha256BytesPerS = 1.0e9;
constexpr double kHostGcmBytesPerS = 3.4e9;
constexpr double kHostUnwrapS = 0.36e-3;
constexpr double kHostFlopsPerS = 20e9;  // phone-high's, the host's stand-in.
constexpr double kBlock = 65536;         // The instruction counts' buffer.

CryptoRates Mcu(double hz, double sha_instr, double gcm_instr, double unwrap_instr) {
  return CryptoRates{kBlock / sha_instr * hz, kBlock / gcm_instr * hz, unwrap_instr / hz};
}

}  // namespace

CryptoRates RatesOf(const DeviceClass& cls) {
  if (cls.name == "mcu-m4") return Mcu(64e6, 2'987'300, 7'916'200, 11'120'300);
  if (cls.name == "mcu-m7") return Mcu(216e6, 2'969'800, 8'080'200, 11'192'300);
  const double scale = cls.flops_per_s / kHostFlopsPerS;
  return CryptoRates{kHostSha256BytesPerS * scale, kHostGcmBytesPerS * scale,
                     kHostUnwrapS / scale};
}

BundleCryptoCost CostOf(const DeviceClass& cls, int64_t bytes, int bundles) {
  const CryptoRates r = RatesOf(cls);
  BundleCryptoCost c;
  c.downloads = 1;
  c.verified_bytes = bytes;
  c.decrypted_bytes = bytes;
  c.verify_s = static_cast<double>(bytes) / r.sha256_bytes_per_s;
  c.decrypt_s = bundles * r.unwrap_s + static_cast<double>(bytes) / r.gcm_bytes_per_s;
  return c;
}

}  // namespace fedtiny::sim
