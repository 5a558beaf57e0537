#include "client/core/byte_io.h"

#include "client/core/str_cat.h"

namespace fedtiny::client {

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

std::string WithSha256Trailer(std::string body, const Crypto& crypto) {
  uint8_t d[Crypto::kSha256Bytes] = {};
  if (!crypto.Sha256(body, d)) std::memset(d, 0, sizeof(d));
  body.append(reinterpret_cast<const char*>(d), sizeof(d));
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
