#include "tools/base/crypto/ecdh.h"

#include <openssl/evp.h>

#include "tools/base/crypto/openssl_util.h"

namespace fedtiny::crypto {

absl::StatusOr<SecureBytes> EcdhP256(const EcPrivateKey& mine,
                                     const EcPublicKey& theirs) {
  EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, mine.evp_pkey(), nullptr));
  size_t len = 0;
  if (ctx == nullptr || EVP_PKEY_derive_init(ctx.get()) != 1 ||
      EVP_PKEY_derive_set_peer_ex(ctx.get(), theirs.evp_pkey(),
                                  /*validate_peer=*/1) != 1 ||
      EVP_PKEY_derive(ctx.get(), nullptr, &len) != 1 ||
      len != kEcdhP256SecretBytes) {
    return OpenSslError(absl::StatusCode::kInternal, "ecdh: EVP_PKEY_derive");
  }
  SecureBytes secret(len);
  if (EVP_PKEY_derive(ctx.get(), secret.data(), &len) != 1 ||
      len != kEcdhP256SecretBytes) {
    return OpenSslError(absl::StatusCode::kInternal, "ecdh: EVP_PKEY_derive");
  }
  return secret;
}

}  // namespace fedtiny::crypto
