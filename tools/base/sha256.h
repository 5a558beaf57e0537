// SHA-256 over byte strings, through OpenSSL's EVP interface. Used to identify and
// verify model bundles and blobs.
#ifndef FEDTINY_TOOLS_BASE_SHA256_H_
#define FEDTINY_TOOLS_BASE_SHA256_H_

#include <array>
#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace fedtiny {

using Sha256Digest = std::array<uint8_t, 32>;

// Returns the SHA-256 digest of `data`. Fails only if OpenSSL does (kInternal).
absl::StatusOr<Sha256Digest> Sha256(absl::string_view data);

// Lower-case hex of a digest (64 characters).
std::string DigestToHex(const Sha256Digest& digest);

// Sha256Hasher hashes a stream of chunks (e.g. a model downloaded in pieces).
// Not thread-safe; owns its OpenSSL context. Move-only.
class Sha256Hasher {
 public:
  Sha256Hasher();
  ~Sha256Hasher();
  Sha256Hasher(Sha256Hasher&& other) noexcept;
  Sha256Hasher& operator=(Sha256Hasher&& other) noexcept;
  Sha256Hasher(const Sha256Hasher&) = delete;
  Sha256Hasher& operator=(const Sha256Hasher&) = delete;

  // Update adds `data`. Returns kInternal if OpenSSL fails or after Finish().
  absl::Status Update(absl::string_view data);
  // Finish returns the digest; the hasher cannot be updated afterwards.
  absl::StatusOr<Sha256Digest> Finish();

 private:
  struct Ctx;
  Ctx* ctx_;  // Owned; null after Finish() or move.
};

}  // namespace fedtiny

#endif  // FEDTINY_TOOLS_BASE_SHA256_H_
