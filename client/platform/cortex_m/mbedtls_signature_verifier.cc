#include "client/platform/cortex_m/mbedtls_signature_verifier.h"

#include "client/platform/cortex_m/device_crypto.h"

namespace fedtiny::client {

Status MbedTlsSignatureVerifier::VerifyEcdsaP256Sha256(std::string_view spki_der,
                                                       std::string_view message,
                                                       std::string_view der_signature) const {
  return EcdsaP256Verify(spki_der, message, der_signature);
}

}  // namespace fedtiny::client
