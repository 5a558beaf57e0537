#include "tools/base/byte_io.h"

#include "absl/strings/str_cat.h"
#include "tools/base/constant_time.h"
#include "tools/base/sha256.h"

namespace fedtiny {

void PutFloats(std::string& out, const std::vector<float>& v) {
  PutValue(out, static_cast<uint64_t>(v.size()));
  out.append(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(float));
}

bool ByteReader::GetBytes(size_t n, std::string& out) {
  if (in_.size() < n) return false;
  out.assign(in_.data(), n);
  in_.remove_prefix(n);
  return true;
}

bool ByteReader::GetFloats(std::vector<float>& v) {
  uint64_t n = 0;
  if (!Get(n) || n > in_.size() / sizeof(float)) return false;
  v.resize(n);
  return GetRawFloats(n, v.data());
}

bool ByteReader::GetRawFloats(size_t n, float* out) {
  if (in_.size() / sizeof(float) < n) return false;
  if (n == 0) return true;  // `out` may be null (an empty vector's data()).
  std::memcpy(out, in_.data(), n * sizeof(float));
  in_.remove_prefix(n * sizeof(float));
  return true;
}

std::string WithSha256Trailer(std::string body) {
  const Sha256Digest d = *Sha256(body);
  body.append(reinterpret_cast<const char*>(d.data()), d.size());
  return body;
}

absl::StatusOr<absl::string_view> VerifySha256Trailer(absl::string_view bytes,
                                                      absl::string_view what) {
  constexpr size_t kDigest = 32;
  if (bytes.size() < kDigest) {
    return absl::DataLossError(absl::StrCat(what, ": truncated"));
  }
  const absl::string_view body = bytes.substr(0, bytes.size() - kDigest);
  absl::StatusOr<Sha256Digest> d = Sha256(body);
  if (!d.ok() ||
      !ConstantTimeEquals(absl::string_view(reinterpret_cast<const char*>(d->data()), kDigest),
                          bytes.substr(body.size()))) {
    return absl::DataLossError(absl::StrCat(what, ": checksum mismatch (truncated or corrupt)"));
  }
  return body;
}

}  // namespace fedtiny
