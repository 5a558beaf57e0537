// The test firmware's entropy hook (client::RandomBytes) for its device key's
// CTR_DRBG (client/platform/cortex_m/p256_keys.h).
//
// QEMU's mps2-an386 has no TRNG, so this is NOT an entropy source a product
// may ship: each output block is SHA-256 (Mbed TLS) over
//   - a 32-byte seed provisioned at build time (FEDTINY_MCU_ENTROPY_SEED, hex;
//     mcu_round_test.sh draws it with `openssl rand` for each build, standing
//     in for a seed injected per device at the factory), and
//   - the host's wall clock and QEMU's clock at boot (through semihosting;
//     guessable, they only make two boots of one image differ), and a counter.
// Whoever holds the image holds the seed. A real part must hand its TRNG here
// (or generate the key inside a secure element); docs/security.md, "On
// microcontrollers". Without a provisioned seed the hook fails, and the
// firmware refuses to make a key rather than make a predictable one.
// Not thread-safe (one counter).
#ifndef FEDTINY_TOOLS_CROSS_MCU_BOARD_ENTROPY_H_
#define FEDTINY_TOOLS_CROSS_MCU_BOARD_ENTROPY_H_

#include "client/platform/cortex_m/device_crypto.h"

namespace fedtiny::mcu {

// BoardEntropy returns the hook; its fill returns non-zero without a seed.
client::RandomBytes BoardEntropy();

}  // namespace fedtiny::mcu

#endif  // FEDTINY_TOOLS_CROSS_MCU_BOARD_ENTROPY_H_
