// The firmware's decrypt refusals, tried on the real round's data (test only:
// mcu_round_test.sh's tampering build, FEDTINY_MCU_TAMPER_CIPHERTEXT). With
// the assignment's genuine wrapped key and the verified bundle in flash, each
// probe changes one thing and requires sealed_bundle.h's refusal for it:
//   plain bundle        no wrapped key                       kPlainBundle
//   other device        another device key                   kOtherDevice
//   wrong key           the wrapped key's ciphertext changed kWrongKey
//   scope swapped       another model version expected       kBinding
//   binding swapped     the bundle's binding not expected    kBinding
//   relabelled          binding and expectation both changed kBundleAuth
//                       (the associated data no longer the sealed one)
//   wrong model key     one bit of the model key flipped     kBundleAuth
// Prints one "mcu_device: refusal probe <name>: ..." line each. Device code;
// not thread-safe (uses the caller's plaintext buffer).
#ifndef FEDTINY_TOOLS_CROSS_MCU_REFUSAL_PROBES_H_
#define FEDTINY_TOOLS_CROSS_MCU_REFUSAL_PROBES_H_

#include <cstddef>
#include <cstdint>

#include "client/core/span.h"
#include "tools/cross/mcu/sealed_bundle.h"

namespace fedtiny::mcu {

struct ProbeInputs {
  const uint8_t* wrapped;  // The assignment's serialized WrappedKey.
  size_t wrapped_size;
  const DeviceKey* key;
  Binding binding;
  client::RandomBytes rng;
  const uint8_t* sealed;  // The verified EncryptedBundle (flash).
  size_t sealed_size;
  const uint8_t* model_key;  // kModelKeyBytes, unwrapped.
  client::Span<uint8_t> plain;  // Scratch; zeroed by each refusal.
};

// RunRefusalProbes returns how many probes were not refused as required.
int RunRefusalProbes(const ProbeInputs& in);

}  // namespace fedtiny::mcu

#endif  // FEDTINY_TOOLS_CROSS_MCU_REFUSAL_PROBES_H_
