// client::Crypto (client/core/platform.h) over Mbed TLS 2.28, for Cortex-M
// ports: the SHA-256 of the checksummed formats and a constant-time compare.
// Built from Debian's mbedtls source package with this folder's
// mbedtls_config.h (CMakeLists.txt here; docs/security.md, "On
// microcontrollers").
#ifndef FEDTINY_CLIENT_PLATFORM_CORTEX_M_MBEDTLS_CRYPTO_H_
#define FEDTINY_CLIENT_PLATFORM_CORTEX_M_MBEDTLS_CRYPTO_H_

#include <cstdint>
#include <string_view>

#include "client/core/platform.h"

namespace fedtiny::client {

// Stateless: safe to share between threads; a port keeps one (static storage
// is fine, it holds nothing) for as long as the core uses its Platform.
class MbedTlsCrypto final : public Crypto {
 public:
  // Sha256 hashes with mbedtls_sha256_ret; false only if Mbed TLS fails.
  bool Sha256(std::string_view data,
              uint8_t (&digest)[kSha256Bytes]) const override;
  // ConstantTimeEquals is mbedtls_ct_memcmp (Mbed TLS 2.28's public
  // branch-free compare, mbedtls/constant_time.h); false for different sizes.
  bool ConstantTimeEquals(std::string_view a,
                          std::string_view b) const override;
};

}  // namespace fedtiny::client

#endif  // FEDTINY_CLIENT_PLATFORM_CORTEX_M_MBEDTLS_CRYPTO_H_
