#include "tools/base/sha256.h"

#include <openssl/evp.h>

#include <utility>

#include "absl/strings/escaping.h"

namespace fedtiny {

struct Sha256Hasher::Ctx {
  EVP_MD_CTX* md = nullptr;
  bool ok = false;
};

Sha256Hasher::Sha256Hasher() : ctx_(new Ctx) {
  ctx_->md = EVP_MD_CTX_new();
  ctx_->ok = ctx_->md != nullptr &&
             EVP_DigestInit_ex(ctx_->md, EVP_sha256(), nullptr) == 1;
}

Sha256Hasher::~Sha256Hasher() {
  if (ctx_ != nullptr) {
    EVP_MD_CTX_free(ctx_->md);
    delete ctx_;
  }
}

Sha256Hasher::Sha256Hasher(Sha256Hasher&& other) noexcept
    : ctx_(std::exchange(other.ctx_, nullptr)) {}

Sha256Hasher& Sha256Hasher::operator=(Sha256Hasher&& other) noexcept {
  if (this != &other) {
    Sha256Hasher dying(std::move(*this));
    ctx_ = std::exchange(other.ctx_, nullptr);
  }
  return *this;
}

absl::Status Sha256Hasher::Update(absl::string_view data) {
  if (ctx_ == nullptr || !ctx_->ok) {
    return absl::InternalError("sha256: hasher is finished or failed");
  }
  if (EVP_DigestUpdate(ctx_->md, data.data(), data.size()) != 1) {
    ctx_->ok = false;
    return absl::InternalError("sha256: EVP_DigestUpdate failed");
  }
  return absl::OkStatus();
}

absl::StatusOr<Sha256Digest> Sha256Hasher::Finish() {
  if (ctx_ == nullptr || !ctx_->ok) {
    return absl::InternalError("sha256: hasher is finished or failed");
  }
  Sha256Digest out;
  unsigned int len = 0;
  const bool ok = EVP_DigestFinal_ex(ctx_->md, out.data(), &len) == 1 &&
                  len == out.size();
  EVP_MD_CTX_free(ctx_->md);
  delete ctx_;
  ctx_ = nullptr;
  if (!ok) return absl::InternalError("sha256: EVP_DigestFinal_ex failed");
  return out;
}

absl::StatusOr<Sha256Digest> Sha256(absl::string_view data) {
  Sha256Hasher hasher;
  absl::Status s = hasher.Update(data);
  if (!s.ok()) return s;
  return hasher.Finish();
}

std::string DigestToHex(const Sha256Digest& digest) {
  return absl::BytesToHexString(absl::string_view(
      reinterpret_cast<const char*>(digest.data()), digest.size()));
}

}  // namespace fedtiny
