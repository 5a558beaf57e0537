#include "tools/base/crypto/openssl_util.h"

#include <openssl/err.h>

#include "absl/strings/str_cat.h"

namespace fedtiny::crypto {

absl::Status OpenSslError(absl::StatusCode code, absl::string_view what) {
  const unsigned long err = ERR_get_error();  // NOLINT(runtime/int)
  char buf[256] = "no OpenSSL error queued";
  if (err != 0) ERR_error_string_n(err, buf, sizeof(buf));
  ERR_clear_error();
  return absl::Status(code, absl::StrCat(what, ": ", buf));
}

void ClearOpenSslErrors() { ERR_clear_error(); }

BioPtr ReadOnlyBio(absl::string_view data) {
  return BioPtr(BIO_new_mem_buf(data.data(), static_cast<int>(data.size())));
}

std::string BioContents(BIO* bio) {
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);  // NOLINT(runtime/int)
  if (n <= 0 || data == nullptr) return std::string();
  return std::string(data, static_cast<size_t>(n));
}

}  // namespace fedtiny::crypto
