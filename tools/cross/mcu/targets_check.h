// Uptane's partial verification on the Cortex-M4 firmware (issue #13): the
// signed targets metadata ("targets.pb", a proto/trust.proto Signed envelope)
// checked against the one targets (release) key the firmware was provisioned
// with at build time, and the entry of the bundle it was assigned taken from
// it. The bundle is then checked against that signed entry (length, SHA-256),
// not against the hash the check-in carried.
//
// What it does not check (docs/security.md, "On microcontrollers"): the root,
// snapshot and timestamp roles (so no key rotation and no freeze protection:
// a new targets key means new firmware), and expiry, for the firmware has no
// trusted clock. Rollback is refused only against the newest version seen
// since power-on: without persistent storage a power-cycled device accepts any
// validly signed targets metadata.
//
// Device code: no OS, no allocation; the ECDSA verification is Mbed TLS's
// (client/platform/cortex_m/device_crypto.h).
#ifndef FEDTINY_TOOLS_CROSS_MCU_TARGETS_CHECK_H_
#define FEDTINY_TOOLS_CROSS_MCU_TARGETS_CHECK_H_

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "client/core/platform.h"
#include "proto/trust.nanopb.h"

namespace fedtiny::mcu {

// The provisioned targets key: its id (lower-case hex SHA-256 of the SPKI) and
// DER SubjectPublicKeyInfo. Borrowed views.
struct TrustedKey {
  std::string_view key_id;
  std::string_view spki_der;
};

// The signed facts about the assigned bundle.
struct SignedTarget {
  uint64_t targets_version = 0;
  uint64_t length = 0;
  uint8_t sha256[32] = {};
};

// VerifyTargets checks `signed_targets` (decoded from targets.pb) and finds
// `target_name` in it. Returns nullptr on success, else a reason:
//   "trust:key_id"     no signature by the provisioned key (threshold 1)
//   "trust:signature"  that signature does not verify (or the key is bad)
//   "trust:decode"     the signed bytes are not a Targets message
//   "trust:role"       they are another role's
//   "trust:rollback"   version below `min_version` (the newest seen)
//   "trust:no_target"  no entry named `target_name`, or one without a
//                      32-byte SHA-256
// The signature is checked through `verifier` (the port's crypto library:
// client/core/platform.h), so this file links none. Not thread-safe only in
// that `out` is written.
const char* VerifyTargets(const client::SignatureVerifier& verifier, const fedtiny_v1_Signed& signed_targets,
                          const TrustedKey& key, const char* target_name, uint64_t min_version,
                          SignedTarget* out);

// ParseHex decodes `hex` (even length, [0-9a-fA-F]) into `out`, at most
// `capacity` bytes; returns the byte count, or 0 for bad or oversized input.
size_t ParseHex(std::string_view hex, uint8_t* out, size_t capacity);

}  // namespace fedtiny::mcu

#endif  // FEDTINY_TOOLS_CROSS_MCU_TARGETS_CHECK_H_
