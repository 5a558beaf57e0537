#include "tools/base/byte_io.h"

#include "absl/strings/str_cat.h"
#include "tools/base/constant_time.h"
#include "tools/base/sha256.h"

namespace fedtiny {

std::string WithSha256Trailer(std::string body) {
  const Sha256Digest d = *Sha256(body);
  body.append(reinterpret_cast<const char*>(d.data()), d.size());
  return body;
}

absl::StatusOr<std::string_view> VerifySha256Trailer(std::string_view bytes,
                                                     std::string_view what) {
  constexpr size_t kDigest = 32;
  if (bytes.size() < kDigest) {
    return absl::DataLossError(absl::StrCat(absl::string_view(what.data(), what.size()), ": truncated"));
  }
  const std::string_view body = bytes.substr(0, bytes.size() - kDigest);
  absl::StatusOr<Sha256Digest> d = Sha256(absl::string_view(body.data(), body.size()));
  if (!d.ok() ||
      !ConstantTimeEquals(absl::string_view(reinterpret_cast<const char*>(d->data()), kDigest),
                          absl::string_view(bytes.data() + body.size(), kDigest))) {
    return absl::DataLossError(absl::StrCat(absl::string_view(what.data(), what.size()),
                                            ": checksum mismatch (truncated or corrupt)"));
  }
  return body;
}

}  // namespace fedtiny
