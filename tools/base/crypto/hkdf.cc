#include "tools/base/crypto/hkdf.h"

#include <openssl/core_names.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

#include <memory>

#include "tools/base/crypto/openssl_util.h"

namespace fedtiny::crypto {
namespace {

struct EvpKdfFree {
  void operator()(EVP_KDF* p) const { EVP_KDF_free(p); }
};
struct EvpKdfCtxFree {
  void operator()(EVP_KDF_CTX* p) const { EVP_KDF_CTX_free(p); }
};

// OSSL_PARAM wants non-const pointers for octet strings it only reads.
void* Mutable(absl::string_view s) { return const_cast<char*>(s.data()); }

}  // namespace

absl::StatusOr<SecureBytes> HkdfSha256(absl::string_view ikm,
                                       absl::string_view salt,
                                       absl::string_view info, size_t length) {
  if (length == 0 || length > 255 * 32) {
    return absl::InvalidArgumentError("hkdf: output length out of range");
  }
  std::unique_ptr<EVP_KDF, EvpKdfFree> kdf(EVP_KDF_fetch(nullptr, "HKDF", nullptr));
  std::unique_ptr<EVP_KDF_CTX, EvpKdfCtxFree> ctx(
      kdf != nullptr ? EVP_KDF_CTX_new(kdf.get()) : nullptr);
  if (ctx == nullptr) {
    return OpenSslError(absl::StatusCode::kInternal, "hkdf: EVP_KDF_CTX_new");
  }
  char digest[] = "SHA256";
  OSSL_PARAM params[5];
  size_t n = 0;
  params[n++] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0);
  params[n++] =
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, Mutable(ikm), ikm.size());
  if (!salt.empty()) {
    params[n++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT,
                                                    Mutable(salt), salt.size());
  }
  params[n++] =
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, Mutable(info), info.size());
  params[n] = OSSL_PARAM_construct_end();
  SecureBytes out(length);
  if (EVP_KDF_derive(ctx.get(), out.data(), out.size(), params) != 1) {
    return OpenSslError(absl::StatusCode::kInternal, "hkdf: EVP_KDF_derive");
  }
  return out;
}

}  // namespace fedtiny::crypto
