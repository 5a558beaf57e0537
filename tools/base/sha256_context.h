// A reusable SHA-256 for many small messages (metering's per-call chain link,
// client/meter): OpenSSL's SHA-256 fetched once and one EVP_MD_CTX kept, so a
// digest costs the compression rounds and not OpenSSL 3's per-call algorithm
// fetch and context allocation (tools/base/sha256.h's Sha256 pays both).
#ifndef FEDTINY_TOOLS_BASE_SHA256_CONTEXT_H_
#define FEDTINY_TOOLS_BASE_SHA256_CONTEXT_H_

#include <cstddef>
#include <cstdint>

#include "absl/status/statusor.h"

namespace fedtiny {

// Not thread-safe (one digest at a time); owns its OpenSSL objects; move-only.
class Sha256Context {
 public:
  // Create fetches SHA-256 and makes the context. kInternal if OpenSSL fails.
  static absl::StatusOr<Sha256Context> Create();
  Sha256Context(Sha256Context&& other) noexcept;
  Sha256Context& operator=(Sha256Context&& other) noexcept;
  Sha256Context(const Sha256Context&) = delete;
  Sha256Context& operator=(const Sha256Context&) = delete;
  ~Sha256Context();

  // Digest writes SHA-256(data[0..size)) into out; false if OpenSSL fails.
  [[nodiscard]] bool Digest(const void* data, size_t size, uint8_t (&out)[32]);

 private:
  Sha256Context(void* md, void* ctx) : md_(md), ctx_(ctx) {}
  void* md_;   // EVP_MD*, owned.
  void* ctx_;  // EVP_MD_CTX*, owned.
};

}  // namespace fedtiny

#endif  // FEDTINY_TOOLS_BASE_SHA256_CONTEXT_H_
