// HKDF-SHA256 (RFC 5869) through OpenSSL 3's EVP_KDF interface. Mbed TLS 2.28
// offers the same (mbedtls_hkdf).
//
// A stateless free function; thread-safe. No error message contains key
// material.
#ifndef FEDTINY_TOOLS_BASE_CRYPTO_HKDF_H_
#define FEDTINY_TOOLS_BASE_CRYPTO_HKDF_H_

#include <cstddef>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "tools/base/crypto/secure_bytes.h"

namespace fedtiny::crypto {

// HkdfSha256 derives `length` bytes (1 to 255 * 32) from the input keying
// material `ikm`, `salt` (empty: RFC 5869's 32 zero bytes) and `info`
// (extract then expand). kInvalidArgument for a length out of range;
// kInternal if OpenSSL fails.
absl::StatusOr<SecureBytes> HkdfSha256(absl::string_view ikm,
                                       absl::string_view salt,
                                       absl::string_view info, size_t length);

}  // namespace fedtiny::crypto

#endif  // FEDTINY_TOOLS_BASE_CRYPTO_HKDF_H_
