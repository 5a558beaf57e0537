#include "client/platform/cortex_m/mbedtls_crypto.h"

#include "mbedtls/sha256.h"

// Mbed TLS 2.28's constant_time.h, unlike its other headers, has no
// extern "C" of its own.
extern "C" {
#include "mbedtls/constant_time.h"
}

namespace fedtiny::client {

bool MbedTlsCrypto::Sha256(std::string_view data,
                           uint8_t (&digest)[kSha256Bytes]) const {
  return mbedtls_sha256_ret(reinterpret_cast<const unsigned char*>(data.data()),
                            data.size(), digest, /*is224=*/0) == 0;
}

bool MbedTlsCrypto::ConstantTimeEquals(std::string_view a,
                                       std::string_view b) const {
  return a.size() == b.size() &&
         mbedtls_ct_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace fedtiny::client
