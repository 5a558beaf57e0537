#include "client/core/byte_io.h"

#include "client/core/str_cat.h"

namespace fedtiny::client {

void AppendSha256Trailer(std::string& body, const Crypto& crypto) {
  uint8_t d[Crypto::kSha256Bytes] = {};
  if (!crypto.Sha256(body, d)) std::memset(d, 0, sizeof(d));
  body.append(reinterpret_cast<const char*>(d), sizeof(d));
}

std::string WithSha256Trailer(std::string body, const Crypto& crypto) {
  AppendSha256Trailer(body, crypto);
  return body;
}

StatusOr<std::string_view> VerifySha256Trailer(std::string_view bytes, std::string_view what,
                                               const Crypto& crypto) {
  constexpr size_t kDigest = Crypto::kSha256Bytes;
  if (bytes.size() < kDigest) return DataLossError(StrCat(what, ": truncated"));
  const std::string_view body = bytes.substr(0, bytes.size() - kDigest);
  uint8_t d[kDigest];
  if (!crypto.Sha256(body, d) ||
      !crypto.ConstantTimeEquals(std::string_view(reinterpret_cast<const char*>(d), kDigest),
                                 bytes.substr(body.size()))) {
    return DataLossError(StrCat(what, ": checksum mismatch (truncated or corrupt)"));
  }
  return body;
}

}  // namespace fedtiny::client
