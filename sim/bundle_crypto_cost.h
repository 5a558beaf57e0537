// What verifying and decrypting an encrypted bundle costs a virtual device
// (issue #13 item 6), from a cost model over measured figures: running real
// SHA-256, key unwrapping and AES-GCM for every virtual device of every round
// would cost the simulator more than the training it simulates, and the host's
// speed says nothing of a microcontroller's.
//
// Figures (docs/benchmarks.md "Encrypted bundles"; docs/security.md "On
// microcontrollers"):
//  - host (OpenSSL 3, AES-NI): SHA-256 ~1.0 GB/s (BM_VerifyLoad - BM_Load on
//    5.3 MB), AES-256-GCM 3.4 GB/s, unwrap (ECDH + HKDF + GCM) 0.36 ms;
//    phones and gateways take these scaled by their training speed relative
//    to phone-high (flops_per_s / 20 GFLOP/s), an assumption;
//  - Cortex-M (Mbed TLS 2.28, QEMU instruction counts): SHA-256 2.99 M and
//    AES-256-GCM 7.92 M (M4) / 8.08 M (M7) instructions per 64 KiB, unwrap
//    11.1 M instructions (ECDH; HKDF and the 48-byte GCM are noise), at one
//    instruction per cycle and a 64 MHz (mcu-m4) or 216 MHz (mcu-m7) clock,
//    also an assumption (flash wait states make real boards slower).
// Stateless; thread-safe.
#ifndef FEDTINY_SIM_BUNDLE_CRYPTO_COST_H_
#define FEDTINY_SIM_BUNDLE_CRYPTO_COST_H_

#include <cstdint>

#include "sim/experiment_types.h"
#include "sim/population.h"

namespace fedtiny::sim {

// A device class's crypto speed.
struct CryptoRates {
  double sha256_bytes_per_s = 0;
  double gcm_bytes_per_s = 0;
  double unwrap_s = 0;  // One wrapped model key.
};

// RatesOf returns the modelled rates of `cls` (by name for the mcu-* classes,
// scaled host figures otherwise).
CryptoRates RatesOf(const DeviceClass& cls);

// CostOf is one device's cost for `bundles` encrypted bundles of `bytes` in
// all: every byte hashed against its signed target, one key unwrapped per
// bundle, every byte decrypted.
BundleCryptoCost CostOf(const DeviceClass& cls, int64_t bytes, int bundles);

}  // namespace fedtiny::sim

#endif  // FEDTINY_SIM_BUNDLE_CRYPTO_COST_H_
