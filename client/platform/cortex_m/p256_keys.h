// A device's own P-256 key pair over Mbed TLS 2.28, for Cortex-M ports that
// enroll (issue #13, encrypted bundles; docs/security.md, "On
// microcontrollers"): a CTR_DRBG over the port's entropy hook, key generation,
// and the uncompressed point inside a peer's SubjectPublicKeyInfo (a wrapped
// key's ephemeral key, for EcdhP256SharedSecret).
//
// Where the entropy comes from is the port's business, behind RandomBytes: a
// real part hands its TRNG (or generates the key inside a secure element and
// never exposes the scalar); QEMU's mps2 boards have no TRNG, see
// tools/cross/mcu/board_entropy.h for what the test firmware uses instead.
//
// Errors are client::Status codes, named on each function.
#ifndef FEDTINY_CLIENT_PLATFORM_CORTEX_M_P256_KEYS_H_
#define FEDTINY_CLIENT_PLATFORM_CORTEX_M_P256_KEYS_H_

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "client/core/span.h"
#include "client/core/status.h"
#include "client/platform/cortex_m/device_crypto.h"
#include "mbedtls/ctr_drbg.h"

namespace fedtiny::client {

// A DER SubjectPublicKeyInfo of a P-256 key with an uncompressed point.
inline constexpr size_t kP256SpkiBytes = 91;

// Mbed TLS's CTR_DRBG (AES-256), seeded once from an entropy hook. Not
// thread-safe; owns its context, which it wipes on destruction; borrows the
// entropy hook's context, which must outlive it. Not copyable or movable
// (Mbed TLS keeps a pointer to the hook).
class CtrDrbg {
 public:
  CtrDrbg();
  ~CtrDrbg();
  CtrDrbg(const CtrDrbg&) = delete;
  CtrDrbg& operator=(const CtrDrbg&) = delete;

  // Seed draws the DRBG's entropy from `entropy` and mixes in
  // `personalization` (a device id: not secret, only separates devices).
  // kInternal if the hook fails.
  Status Seed(RandomBytes entropy, std::string_view personalization);
  // rng is this DRBG as a RandomBytes; valid while it lives, after Seed().
  RandomBytes rng();

 private:
  RandomBytes entropy_;
  mbedtls_ctr_drbg_context ctx_;
};

// GenerateP256Key makes a key pair from `rng`: the private scalar (big-endian)
// into `private_key`, the public key as DER SubjectPublicKeyInfo into `spki`
// (kP256SpkiBytes). kInvalidArgument if `spki` is too short; kInternal if
// Mbed TLS fails (the RNG among them). Wipes its intermediates.
Status GenerateP256Key(RandomBytes rng, uint8_t (&private_key)[kP256ScalarBytes],
                       uint8_t (&spki)[kP256SpkiBytes]);

// P256PointOfSpki writes the uncompressed point of a P-256 SubjectPublicKeyInfo
// into `point`. kInvalidArgument if it does not parse, is not P-256 or has
// trailing bytes.
Status P256PointOfSpki(std::string_view spki_der, uint8_t (&point)[kP256PointBytes]);

}  // namespace fedtiny::client

#endif  // FEDTINY_CLIENT_PLATFORM_CORTEX_M_P256_KEYS_H_
