// Small helpers shared by the OpenSSL wrappers of tools/base/crypto: owning
// pointers for OpenSSL objects and the conversion of OpenSSL's error queue to
// an absl::Status.
#ifndef FEDTINY_TOOLS_BASE_CRYPTO_OPENSSL_UTIL_H_
#define FEDTINY_TOOLS_BASE_CRYPTO_OPENSSL_UTIL_H_

#include <openssl/bio.h>
#include <openssl/evp.h>

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace fedtiny::crypto {

struct EvpPkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct EvpPkeyCtxFree {
  void operator()(EVP_PKEY_CTX* p) const { EVP_PKEY_CTX_free(p); }
};
struct EvpMdCtxFree {
  void operator()(EVP_MD_CTX* p) const { EVP_MD_CTX_free(p); }
};
struct BioFree {
  void operator()(BIO* p) const { BIO_free(p); }
};

using EvpPkeyPtr = std::unique_ptr<EVP_PKEY, EvpPkeyFree>;
using EvpPkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, EvpPkeyCtxFree>;
using EvpMdCtxPtr = std::unique_ptr<EVP_MD_CTX, EvpMdCtxFree>;
using BioPtr = std::unique_ptr<BIO, BioFree>;

// OpenSslError returns `code` with "`what`: <OpenSSL's first queued error>"
// and clears the thread's error queue. OpenSSL's error strings name functions
// and reasons, never key material.
absl::Status OpenSslError(absl::StatusCode code, absl::string_view what);

// ClearOpenSslErrors empties the thread's error queue (after an expected
// failure, e.g. a signature that does not verify).
void ClearOpenSslErrors();

// ReadOnlyBio wraps `data` (borrowed; must outlive the BIO).
BioPtr ReadOnlyBio(absl::string_view data);

// BioContents copies what was written to a memory BIO.
std::string BioContents(BIO* bio);

}  // namespace fedtiny::crypto

#endif  // FEDTINY_TOOLS_BASE_CRYPTO_OPENSSL_UTIL_H_
