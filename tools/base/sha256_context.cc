#include "tools/base/sha256_context.h"

#include <openssl/evp.h>

#include <utility>

#include "absl/status/status.h"

namespace fedtiny {

absl::StatusOr<Sha256Context> Sha256Context::Create() {
  EVP_MD* md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  if (md == nullptr || ctx == nullptr) {
    EVP_MD_free(md);
    EVP_MD_CTX_free(ctx);
    return absl::InternalError(
        "sha256: cannot fetch SHA-256 or make a context");
  }
  return Sha256Context(md, ctx);
}

Sha256Context::Sha256Context(Sha256Context&& other) noexcept
    : md_(std::exchange(other.md_, nullptr)),
      ctx_(std::exchange(other.ctx_, nullptr)) {}

Sha256Context& Sha256Context::operator=(Sha256Context&& other) noexcept {
  if (this != &other) {
    Sha256Context dying(std::move(*this));
    md_ = std::exchange(other.md_, nullptr);
    ctx_ = std::exchange(other.ctx_, nullptr);
  }
  return *this;
}

Sha256Context::~Sha256Context() {
  EVP_MD_CTX_free(static_cast<EVP_MD_CTX*>(ctx_));
  EVP_MD_free(static_cast<EVP_MD*>(md_));
}

bool Sha256Context::Digest(const void* data, size_t size, uint8_t (&out)[32]) {
  auto* ctx = static_cast<EVP_MD_CTX*>(ctx_);
  unsigned int len = 0;
  return ctx != nullptr &&
         EVP_DigestInit_ex2(ctx, static_cast<const EVP_MD*>(md_), nullptr) ==
             1 &&
         EVP_DigestUpdate(ctx, data, size) == 1 &&
         EVP_DigestFinal_ex(ctx, out, &len) == 1 && len == 32;
}

}  // namespace fedtiny
