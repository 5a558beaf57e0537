// The device's public-key and symmetric cryptography over Mbed TLS 2.28, for
// Cortex-M ports (issue #13, model trust): the algorithms that both OpenSSL on
// the server (tools/base/crypto) and Mbed TLS on a microcontroller offer.
//
//   EcdsaP256Verify       Uptane's partial verification: the director's
//                         targets metadata signature (proto/trust.proto's
//                         "ecdsa-p256-sha256": SubjectPublicKeyInfo DER key,
//                         DER signature over SHA-256)
//   EcdhP256SharedSecret  key agreement
//   HkdfSha256            RFC 5869
//   Aes256GcmDecrypt      an encrypted bundle, with associated data
//
// Not part of client/core, which stays free of any crypto library: a port
// hands these to the core through an interface beside client::Crypto when the
// core needs them (docs/security.md, "On microcontrollers").
//
// Every function is stateless and thread-safe, allocates from the C heap
// (Mbed TLS's bignums; a few KiB, freed before returning) and runs in time
// independent of secret data as far as Mbed TLS's implementation is. Errors
// are client::Status codes, named on each function.
#ifndef FEDTINY_CLIENT_PLATFORM_CORTEX_M_DEVICE_CRYPTO_H_
#define FEDTINY_CLIENT_PLATFORM_CORTEX_M_DEVICE_CRYPTO_H_

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "client/core/span.h"
#include "client/core/status.h"

namespace fedtiny::client {

inline constexpr size_t kP256ScalarBytes = 32;
// An uncompressed point (SEC1: 0x04 || X || Y).
inline constexpr size_t kP256PointBytes = 65;
inline constexpr size_t kAes256KeyBytes = 32;
inline constexpr size_t kGcmIvBytes = 12;
inline constexpr size_t kGcmTagBytes = 16;

// A source of random bytes (the port's TRNG), Mbed TLS's f_rng shape: fills
// `out` and returns 0, or non-zero on failure.
struct RandomBytes {
  int (*fill)(void* context, unsigned char* out, size_t size) = nullptr;
  void* context = nullptr;
};

// EcdsaP256Verify checks `der_signature` over SHA-256(message) with the P-256
// key `spki_der` (SubjectPublicKeyInfo). kInvalidArgument if the key does not
// parse or is not a P-256 EC key; kUnauthenticated if the signature is wrong
// or malformed (trailing bytes included).
Status EcdsaP256Verify(std::string_view spki_der, std::string_view message,
                       std::string_view der_signature);

// EcdhP256SharedSecret writes the X coordinate of private_key * peer_public
// into `shared` (what OpenSSL's EVP_PKEY_derive gives). `peer_public` is an
// uncompressed point. `rng` blinds the computation; without one Mbed TLS
// blinds with its internal DRBG seeded from the private key.
// kInvalidArgument if the private key is out of range or the peer's point is
// malformed or not on the curve; kInternal if Mbed TLS fails otherwise.
Status EcdhP256SharedSecret(const uint8_t (&private_key)[kP256ScalarBytes],
                            std::string_view peer_public,
                            uint8_t (&shared)[kP256ScalarBytes],
                            RandomBytes rng = {});

// HkdfSha256 fills `okm` with HKDF-SHA256(salt, ikm, info) (RFC 5869; an
// empty salt is the RFC's default). kInvalidArgument if `okm` is longer than
// 255 * 32 bytes.
Status HkdfSha256(std::string_view salt, std::string_view ikm,
                  std::string_view info, Span<uint8_t> okm);

// Aes256GcmDecrypt checks `tag` over `aad` and `ciphertext` and writes the
// plaintext (ciphertext.size() bytes) into `plaintext`, which must not
// overlap the ciphertext (Mbed TLS's GCM decrypts out of place).
// kInvalidArgument for a wrong key, IV (12 bytes) or tag (16 bytes) size or a
// short output; kUnauthenticated if the tag does not match, and then
// `plaintext` is zeroed.
Status Aes256GcmDecrypt(std::string_view key, std::string_view iv,
                        std::string_view aad, std::string_view ciphertext,
                        std::string_view tag, Span<uint8_t> plaintext);

}  // namespace fedtiny::client

#endif  // FEDTINY_CLIENT_PLATFORM_CORTEX_M_DEVICE_CRYPTO_H_
