// Encrypted model bundles and per-device wrapping of their keys
// (proto/trust.proto: BundleBinding, EncryptedBundle, WrappedKey;
// docs/security.md, "Encrypted bundles and device keys").
//
// A bundle is sealed with AES-256-GCM under a random 32-byte model key, its
// binding (task, cluster, model version, variant) as associated data. The
// model key reaches a device wrapped to that device's P-256 key: ECDH with a
// fresh ephemeral key, HKDF-SHA256, AES-256-GCM. Every algorithm is also in
// Mbed TLS 2.28, so microcontroller ports can implement the device's side.
//
// Associated data, canonical and unambiguous (not a protobuf serialization):
// LP(x) is x's length as 4 bytes big-endian then x; BE32/BE64 are big-endian
// unsigned / two's complement integers.
//   bundle:  LP("fedtiny.bundle") BE32(format) LP(task) LP(cluster)
//            BE64(model_version) LP(variant)
//   wrapped: LP("fedtiny.wrapped-key") BE32(format) LP(device_key_id)
//            LP(ephemeral_public_spki) LP(task) LP(cluster)
//            BE64(model_version) LP(variant)
// Key-encryption key: HKDF-SHA256(ikm = ECDH x-coordinate, salt = empty,
//   info = LP("fedtiny.wrap-kek.v1") LP(ephemeral_spki) LP(device_spki)), 32 bytes.
//
// The decrypted bundle is returned in a SecureBytes only (zeroed when it is
// dropped); nothing here writes plaintext, or a key, to disk or to a log.
// Stateless free functions; thread-safe.
//
// Status codes, the same for every function that opens something:
//   kInvalidArgument     malformed: unknown format, a nonce or key of the
//                        wrong size, a ciphertext too short, a bad ephemeral key;
//   kFailedPrecondition  well-formed but not the one asked for: its binding (or
//                        scope, or device key id) differs from the expected one;
//                        the message starts with kBindingMismatch;
//   kUnauthenticated     the tag does not verify: wrong key, or any changed
//                        byte of the nonce, ciphertext, tag or associated data;
//   kInternal            OpenSSL failed.
#ifndef FEDTINY_TOOLS_BASE_CRYPTO_ENVELOPE_H_
#define FEDTINY_TOOLS_BASE_CRYPTO_ENVELOPE_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "proto/trust.pb.h"
#include "tools/base/crypto/ec_key.h"
#include "tools/base/crypto/secure_bytes.h"

namespace fedtiny::crypto {

inline constexpr uint32_t kBundleFormatAes256Gcm = 1;
inline constexpr uint32_t kWrapFormatP256HkdfAes256Gcm = 1;
inline constexpr size_t kModelKeyBytes = 32;
// The prefix of every binding-mismatch message (kFailedPrecondition).
inline constexpr char kBindingMismatch[] = "envelope:binding_mismatch";

// BundleAad returns the canonical associated data of a bundle (above).
std::string BundleAad(uint32_t format, const v1::BundleBinding& binding);
// WrappedKeyAad returns the canonical associated data of a wrapped key.
std::string WrappedKeyAad(const v1::WrappedKey& wrapped);
// SameBinding says whether two bindings are equal field by field.
bool SameBinding(const v1::BundleBinding& a, const v1::BundleBinding& b);
// IsBindingMismatch says whether `status` is a refusal for a binding, scope or
// device key id other than the expected one.
bool IsBindingMismatch(const absl::Status& status);

// NewModelKey returns a fresh random 32-byte model key (RAND_priv_bytes).
// kInternal if the CSPRNG fails.
absl::StatusOr<SecureBytes> NewModelKey();

// EncryptBundle seals `plaintext` (a serialized model bundle) under
// `model_key` (32 bytes) with a fresh random nonce. A model key must encrypt
// few enough bundles that random 96-bit nonces never collide (the coordinator
// makes one key per model version). kInvalidArgument for a key of the wrong
// size; kInternal if OpenSSL fails.
absl::StatusOr<v1::EncryptedBundle> EncryptBundle(
    const SecureBytes& model_key, const v1::BundleBinding& binding,
    absl::string_view plaintext);

// DecryptBundle opens `bundle` if it is bound to exactly `expected` (which
// the device takes from its verified TargetInfo) and authenticates under
// `model_key`. The plaintext lives only in the returned SecureBytes. Codes
// as above: a binding other than `expected` is kFailedPrecondition before any
// decryption; a binding edited to match is kUnauthenticated.
absl::StatusOr<SecureBytes> DecryptBundle(const SecureBytes& model_key,
                                          const v1::BundleBinding& expected,
                                          const v1::EncryptedBundle& bundle);

// WrapModelKey wraps `model_key` (32 bytes) to `device_key` for `scope`, with
// a fresh ephemeral key and nonce. kInvalidArgument for a key of the wrong
// size; kInternal if OpenSSL fails.
absl::StatusOr<v1::WrappedKey> WrapModelKey(const EcPublicKey& device_key,
                                            const SecureBytes& model_key,
                                            const v1::BundleBinding& scope);

// UnwrapModelKey recovers the 32-byte model key of `wrapped` with the device's
// private key, if it was wrapped to this key for exactly `expected_scope`.
// Codes as above (another device key id is kFailedPrecondition).
absl::StatusOr<SecureBytes> UnwrapModelKey(const EcPrivateKey& device_key,
                                           const v1::WrappedKey& wrapped,
                                           const v1::BundleBinding& expected_scope);

// UnwrapModelKeyFromSecret is UnwrapModelKey after the ECDH step, for a key
// store that computes ECDH inside a secure element and never exports the
// private key: `shared_secret` is ECDH(device key, wrapped's ephemeral key),
// `device_spki` the device's DER public key. Same codes.
absl::StatusOr<SecureBytes> UnwrapModelKeyFromSecret(
    const SecureBytes& shared_secret, absl::string_view device_spki,
    const v1::WrappedKey& wrapped, const v1::BundleBinding& expected_scope);

// CheckWrappedKey runs UnwrapModelKey's checks that need no key (format,
// sizes, device key id, scope). Key stores call it before their ECDH.
absl::Status CheckWrappedKey(const v1::WrappedKey& wrapped,
                             absl::string_view device_key_id,
                             const v1::BundleBinding& expected_scope);

}  // namespace fedtiny::crypto

#endif  // FEDTINY_TOOLS_BASE_CRYPTO_ENVELOPE_H_
