// The device's side of encrypted bundles on a microcontroller (issue #13;
// tools/base/crypto/envelope.h is the server's side and the definition, byte for
// byte): the model key unwrapped from Assignment.wrapped_keys[i] with the
// device key (ECDH P-256, HKDF-SHA256, AES-256-GCM), then the bundle, an
// EncryptedBundle lying in flash, decrypted into RAM (AES-256-GCM, its binding
// as associated data). Mbed TLS through client/platform/cortex_m only.
//
// Every refusal is a fixed "trust:decrypt: <why>" string, which the firmware
// reports through the gateway (FailureReport) as it does "trust:signature":
//   kPlainBundle     no wrapped key: a plain (downgraded) bundle, refused once
//                    the device has enrolled
//   kMalformed       a WrappedKey or EncryptedBundle that does not decode, or
//                    of an unknown format or wrong sizes
//   kOtherDevice     a key wrapped to another device key
//   kBinding         a binding (task, cluster, model version, variant) that is
//                    not the assignment's: a swapped associated datum
//   kWrongKey        the wrapped key does not authenticate under this device key
//   kBundleAuth      the bundle does not authenticate under its model key (a
//                    flipped bit, a wrong model key, a changed nonce or tag)
//   kTooLarge        the plaintext would not fit the caller's buffer
// Stateless functions; not thread-safe only through the DRBG passed in.
#ifndef FEDTINY_TOOLS_CROSS_MCU_SEALED_BUNDLE_H_
#define FEDTINY_TOOLS_CROSS_MCU_SEALED_BUNDLE_H_

#include <cstddef>
#include <cstdint>

#include "client/core/span.h"
#include "proto/trust.nanopb.h"
#include "tools/cross/mcu/device_key.h"

namespace fedtiny::mcu {

inline constexpr char kPlainBundle[] =
    "trust:decrypt: no wrapped model key: refusing a plain (downgraded) bundle";
inline constexpr char kMalformed[] = "trust:decrypt: malformed wrapped key or encrypted bundle";
inline constexpr char kOtherDevice[] = "trust:decrypt: the model key is wrapped to another device key";
inline constexpr char kBinding[] =
    "trust:decrypt: binding mismatch (task, cluster, model version or variant)";
inline constexpr char kWrongKey[] =
    "trust:decrypt: the wrapped model key does not authenticate under this device key";
inline constexpr char kBundleAuth[] =
    "trust:decrypt: the bundle does not authenticate under its model key";
inline constexpr char kTooLarge[] = "trust:decrypt: the bundle does not fit the device's RAM";

inline constexpr size_t kModelKeyBytes = 32;

// What the bundle must be: the assignment's (and the signed target's) task,
// cluster (in decimal), model version and variant.
struct Binding {
  const char* task;
  const char* cluster;
  int64_t model_version;
  const char* variant;
};

// UnwrapModelKey opens a serialized WrappedKey for `device` and `expected`
// into `model_key`; nullptr or a refusal above (kPlainBundle when `size` is 0:
// the assignment carries no wrapped key). Wipes the shared secret and
// the key-encryption key; on failure `model_key` is zeroed.
const char* UnwrapModelKey(const uint8_t* wrapped, size_t size, const DeviceKey& device,
                           const Binding& expected, client::RandomBytes rng,
                           uint8_t (&model_key)[kModelKeyBytes]);

// An EncryptedBundle as it lies in flash: the ciphertext (tag last) is not
// copied.
struct SealedBundle {
  fedtiny_v1_EncryptedBundle header = fedtiny_v1_EncryptedBundle_init_zero;
  const uint8_t* ciphertext = nullptr;
  size_t ciphertext_size = 0;  // Including the 16-byte tag.
};

// ParseSealedBundle decodes `data` (the downloaded bytes); nullptr or
// kMalformed.
const char* ParseSealedBundle(const uint8_t* data, size_t size, SealedBundle* out);

// OpenSealedBundle checks the binding and decrypts into `plain`, setting
// `plain_size`; nullptr or a refusal above (kBinding, kBundleAuth, kMalformed,
// kTooLarge). `plain` is zeroed on failure.
const char* OpenSealedBundle(const SealedBundle& bundle, const uint8_t (&model_key)[kModelKeyBytes],
                             const Binding& expected, client::Span<uint8_t> plain, size_t* plain_size);

}  // namespace fedtiny::mcu

#endif  // FEDTINY_TOOLS_CROSS_MCU_SEALED_BUNDLE_H_
