// Ephemeral-static ECDH on P-256 through OpenSSL 3's EVP_PKEY_derive, with the
// keys of ec_key.h. Mbed TLS 2.28 offers the same (mbedtls_ecdh_compute_shared).
//
// Stateless free functions; thread-safe. No error message contains key
// material.
#ifndef FEDTINY_TOOLS_BASE_CRYPTO_ECDH_H_
#define FEDTINY_TOOLS_BASE_CRYPTO_ECDH_H_

#include <cstddef>

#include "absl/status/statusor.h"
#include "tools/base/crypto/ec_key.h"
#include "tools/base/crypto/secure_bytes.h"

namespace fedtiny::crypto {

// The shared secret's size: the x-coordinate of the shared point.
inline constexpr size_t kEcdhP256SecretBytes = 32;

// EcdhP256 returns the raw shared secret (SEC 1 / RFC 5903: the x-coordinate,
// 32 bytes big-endian) of `mine` and `theirs`, the same value
// `openssl pkeyutl -derive` prints. Not a key by itself: run it through
// HkdfSha256. Both keys are P-256 by construction (ec_key.h refuses others and
// points off the curve). kInternal if OpenSSL fails.
absl::StatusOr<SecureBytes> EcdhP256(const EcPrivateKey& mine,
                                     const EcPublicKey& theirs);

}  // namespace fedtiny::crypto

#endif  // FEDTINY_TOOLS_BASE_CRYPTO_ECDH_H_
