// client::SignatureVerifier (client/core/platform.h) over Mbed TLS 2.28, for
// Cortex-M ports: ECDSA P-256 with SHA-256 through device_crypto.h's
// EcdsaP256Verify (docs/security.md, "On microcontrollers").
#ifndef FEDTINY_CLIENT_PLATFORM_CORTEX_M_MBEDTLS_SIGNATURE_VERIFIER_H_
#define FEDTINY_CLIENT_PLATFORM_CORTEX_M_MBEDTLS_SIGNATURE_VERIFIER_H_

#include <string_view>

#include "client/core/platform.h"

namespace fedtiny::client {

// Stateless: safe to share between threads. Mbed TLS's bignums come from the
// C heap (a few KiB, freed before each call returns).
class MbedTlsSignatureVerifier final : public SignatureVerifier {
 public:
  // VerifyEcdsaP256Sha256 is EcdsaP256Verify; the codes of platform.h.
  Status VerifyEcdsaP256Sha256(std::string_view spki_der, std::string_view message,
                               std::string_view der_signature) const override;
};

}  // namespace fedtiny::client

#endif  // FEDTINY_CLIENT_PLATFORM_CORTEX_M_MBEDTLS_SIGNATURE_VERIFIER_H_
