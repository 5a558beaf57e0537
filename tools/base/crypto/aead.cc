#include "tools/base/crypto/aead.h"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <climits>
#include <memory>

#include "tools/base/crypto/openssl_util.h"

namespace fedtiny::crypto {
namespace {

struct EvpCipherCtxFree {
  void operator()(EVP_CIPHER_CTX* p) const { EVP_CIPHER_CTX_free(p); }
};
using EvpCipherCtxPtr = std::unique_ptr<EVP_CIPHER_CTX, EvpCipherCtxFree>;

const unsigned char* Bytes(absl::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

absl::Status CheckSizes(absl::string_view key, absl::string_view nonce) {
  if (key.size() != kAes256KeyBytes) {
    return absl::InvalidArgumentError("aead: the key is not 32 bytes");
  }
  if (nonce.size() != kGcmNonceBytes) {
    return absl::InvalidArgumentError("aead: the nonce is not 12 bytes");
  }
  return absl::OkStatus();
}

// A context set up for AES-256-GCM with `key` and `nonce` (12 bytes is GCM's
// default IV length), and `aad` already fed in.
absl::StatusOr<EvpCipherCtxPtr> Start(bool encrypt, absl::string_view key,
                                      absl::string_view nonce,
                                      absl::string_view aad) {
  EvpCipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  int len = 0;
  if (ctx == nullptr ||
      EVP_CipherInit_ex2(ctx.get(), EVP_aes_256_gcm(), Bytes(key), Bytes(nonce),
                         encrypt ? 1 : 0, nullptr) != 1) {
    return OpenSslError(absl::StatusCode::kInternal, "aead: EVP_CipherInit_ex2");
  }
  if (aad.size() > INT_MAX ||
      (!aad.empty() && EVP_CipherUpdate(ctx.get(), nullptr, &len, Bytes(aad),
                                        static_cast<int>(aad.size())) != 1)) {
    return OpenSslError(absl::StatusCode::kInternal, "aead: associated data");
  }
  return ctx;
}

// Runs `in` through the context into `out` (in.size() bytes for GCM), in
// chunks below INT_MAX.
bool Update(EVP_CIPHER_CTX* ctx, absl::string_view in, unsigned char* out) {
  constexpr size_t kChunk = size_t{1} << 30;
  while (!in.empty()) {
    const size_t n = in.size() < kChunk ? in.size() : kChunk;
    int len = 0;
    if (EVP_CipherUpdate(ctx, out, &len, Bytes(in), static_cast<int>(n)) != 1 ||
        static_cast<size_t>(len) != n) {
      return false;
    }
    in.remove_prefix(n);
    out += n;
  }
  return true;
}

}  // namespace

absl::StatusOr<std::string> RandomBytes(size_t n) {
  std::string out(n, '\0');
  if (n > 0 && RAND_bytes(reinterpret_cast<unsigned char*>(out.data()),
                          static_cast<int>(n)) != 1) {
    return OpenSslError(absl::StatusCode::kInternal, "aead: RAND_bytes");
  }
  return out;
}

absl::StatusOr<SecureBytes> RandomSecret(size_t n) {
  SecureBytes out(n);
  if (n > 0 && RAND_priv_bytes(out.data(), static_cast<int>(n)) != 1) {
    return OpenSslError(absl::StatusCode::kInternal, "aead: RAND_priv_bytes");
  }
  return out;
}

absl::StatusOr<std::string> Aes256GcmSeal(absl::string_view key,
                                          absl::string_view nonce,
                                          absl::string_view aad,
                                          absl::string_view plaintext) {
  if (absl::Status s = CheckSizes(key, nonce); !s.ok()) return s;
  absl::StatusOr<EvpCipherCtxPtr> ctx = Start(true, key, nonce, aad);
  if (!ctx.ok()) return ctx.status();
  std::string out(plaintext.size() + kGcmTagBytes, '\0');
  unsigned char* p = reinterpret_cast<unsigned char*>(out.data());
  int len = 0;
  if (!Update(ctx->get(), plaintext, p) ||
      EVP_CipherFinal_ex(ctx->get(), p + plaintext.size(), &len) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx->get(), EVP_CTRL_GCM_GET_TAG, kGcmTagBytes,
                          p + plaintext.size()) != 1) {
    return OpenSslError(absl::StatusCode::kInternal, "aead: seal");
  }
  return out;
}

absl::StatusOr<SecureBytes> Aes256GcmOpen(absl::string_view key,
                                          absl::string_view nonce,
                                          absl::string_view aad,
                                          absl::string_view sealed) {
  if (absl::Status s = CheckSizes(key, nonce); !s.ok()) return s;
  if (sealed.size() < kGcmTagBytes) {
    return absl::InvalidArgumentError("aead: shorter than the tag");
  }
  const absl::string_view ciphertext =
      sealed.substr(0, sealed.size() - kGcmTagBytes);
  std::string tag(sealed.substr(ciphertext.size()));
  absl::StatusOr<EvpCipherCtxPtr> ctx = Start(false, key, nonce, aad);
  if (!ctx.ok()) return ctx.status();
  SecureBytes out = SecureBytes::ForOverwrite(ciphertext.size());
  if (!Update(ctx->get(), ciphertext, out.data()) ||
      EVP_CIPHER_CTX_ctrl(ctx->get(), EVP_CTRL_GCM_SET_TAG, kGcmTagBytes,
                          tag.data()) != 1) {
    return OpenSslError(absl::StatusCode::kInternal, "aead: open");
  }
  // OpenSSL compares the tag in constant time (CRYPTO_memcmp).
  int len = 0;
  if (EVP_CipherFinal_ex(ctx->get(), out.data() + out.size(), &len) != 1) {
    out.Wipe();
    ClearOpenSslErrors();
    return absl::UnauthenticatedError("aead: the tag does not verify");
  }
  return out;
}

struct Aes256GcmStreamOpener::Ctx {
  EvpCipherCtxPtr evp;
};

absl::StatusOr<Aes256GcmStreamOpener> Aes256GcmStreamOpener::Start(absl::string_view key,
                                                                   absl::string_view nonce,
                                                                   absl::string_view aad) {
  if (absl::Status s = CheckSizes(key, nonce); !s.ok()) return s;
  absl::StatusOr<EvpCipherCtxPtr> evp = crypto::Start(false, key, nonce, aad);
  if (!evp.ok()) return evp.status();
  return Aes256GcmStreamOpener(new Ctx{*std::move(evp)});
}

Aes256GcmStreamOpener::Aes256GcmStreamOpener(Aes256GcmStreamOpener&& o) noexcept
    : ctx_(o.ctx_) {
  o.ctx_ = nullptr;
}

Aes256GcmStreamOpener& Aes256GcmStreamOpener::operator=(Aes256GcmStreamOpener&& o) noexcept {
  if (this != &o) {
    delete ctx_;
    ctx_ = o.ctx_;
    o.ctx_ = nullptr;
  }
  return *this;
}

Aes256GcmStreamOpener::~Aes256GcmStreamOpener() { delete ctx_; }

absl::Status Aes256GcmStreamOpener::Update(absl::string_view in, uint8_t* out) {
  if (ctx_ == nullptr) return absl::FailedPreconditionError("aead: the stream is finished");
  if (!crypto::Update(ctx_->evp.get(), in, out)) {
    return OpenSslError(absl::StatusCode::kInternal, "aead: open");
  }
  return absl::OkStatus();
}

absl::Status Aes256GcmStreamOpener::Finish(absl::string_view tag) {
  if (ctx_ == nullptr) return absl::FailedPreconditionError("aead: the stream is finished");
  std::unique_ptr<Ctx> ctx(ctx_);
  ctx_ = nullptr;
  if (tag.size() != kGcmTagBytes) return absl::InvalidArgumentError("aead: the tag is not 16 bytes");
  std::string t(tag);
  if (EVP_CIPHER_CTX_ctrl(ctx->evp.get(), EVP_CTRL_GCM_SET_TAG, kGcmTagBytes, t.data()) != 1) {
    return OpenSslError(absl::StatusCode::kInternal, "aead: open");
  }
  unsigned char none[16];
  int len = 0;
  if (EVP_CipherFinal_ex(ctx->evp.get(), none, &len) != 1) {
    ClearOpenSslErrors();
    return absl::UnauthenticatedError("aead: the tag does not verify");
  }
  return absl::OkStatus();
}

}  // namespace fedtiny::crypto
