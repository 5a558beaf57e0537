// AES-256-GCM through OpenSSL 3's EVP_CIPHER interface (no low-level AES or
// GCM calls), and nonces from OpenSSL's CSPRNG. The wire form of a sealed
// message is the ciphertext followed by the 16-byte tag; the 12-byte nonce
// travels beside it. Mbed TLS 2.28 offers the same (mbedtls_gcm_auth_decrypt),
// so microcontroller ports can open what this seals.
//
// Stateless free functions; thread-safe. Nothing here logs, and no error
// message contains key material or plaintext.
#ifndef FEDTINY_TOOLS_BASE_CRYPTO_AEAD_H_
#define FEDTINY_TOOLS_BASE_CRYPTO_AEAD_H_

#include <cstddef>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "tools/base/crypto/secure_bytes.h"

namespace fedtiny::crypto {

inline constexpr size_t kAes256KeyBytes = 32;
inline constexpr size_t kGcmNonceBytes = 12;
inline constexpr size_t kGcmTagBytes = 16;

// RandomBytes returns `n` bytes from OpenSSL's CSPRNG (RAND_bytes). kInternal
// if it fails (never returns predictable bytes).
absl::StatusOr<std::string> RandomBytes(size_t n);
// RandomSecret is RandomBytes into a SecureBytes: for keys.
absl::StatusOr<SecureBytes> RandomSecret(size_t n);

// Aes256GcmSeal encrypts `plaintext` under `key` (32 bytes) and `nonce` (12
// bytes), authenticating `aad` too; returns ciphertext || tag (16 bytes). A
// nonce must never be used twice with one key: callers take it from
// RandomBytes(kGcmNonceBytes). kInvalidArgument for a key or nonce of the
// wrong size; kInternal if OpenSSL fails.
absl::StatusOr<std::string> Aes256GcmSeal(absl::string_view key,
                                          absl::string_view nonce,
                                          absl::string_view aad,
                                          absl::string_view plaintext);

// Aes256GcmOpen checks and decrypts ciphertext || tag; the plaintext goes
// into a SecureBytes and only once the tag has verified does the caller see
// it (on failure the buffer is wiped). kUnauthenticated if the tag does not
// verify (wrong key, nonce or aad, or any changed byte); kInvalidArgument for
// a key or nonce of the wrong size or input shorter than the tag; kInternal
// if OpenSSL fails otherwise.
absl::StatusOr<SecureBytes> Aes256GcmOpen(absl::string_view key,
                                          absl::string_view nonce,
                                          absl::string_view aad,
                                          absl::string_view sealed);

// Aes256GcmStreamOpener is Aes256GcmOpen for ciphertext that arrives in
// pieces (a bundle decrypted while it downloads): Update decrypts each piece
// into the caller's buffer, Finish checks the tag. Until Finish returns OK the
// plaintext written is unauthenticated: the caller must not use it, and wipes
// it when Finish fails. Not thread-safe (one stream); owns its OpenSSL
// context; movable.
class Aes256GcmStreamOpener {
 public:
  // kInvalidArgument for a key or nonce of the wrong size; kInternal if
  // OpenSSL fails.
  static absl::StatusOr<Aes256GcmStreamOpener> Start(absl::string_view key,
                                                     absl::string_view nonce,
                                                     absl::string_view aad);
  Aes256GcmStreamOpener(Aes256GcmStreamOpener&&) noexcept;
  Aes256GcmStreamOpener& operator=(Aes256GcmStreamOpener&&) noexcept;
  ~Aes256GcmStreamOpener();

  // Decrypts `in` into `out` (in.size() bytes). kInternal if OpenSSL fails.
  absl::Status Update(absl::string_view in, uint8_t* out);
  // Checks the 16-byte tag over everything Updated (constant time, in
  // OpenSSL). kUnauthenticated if it does not verify; kInvalidArgument for a
  // tag of another size. The stream is finished either way.
  absl::Status Finish(absl::string_view tag);

 private:
  struct Ctx;
  explicit Aes256GcmStreamOpener(Ctx* ctx) : ctx_(ctx) {}
  Ctx* ctx_ = nullptr;
};

}  // namespace fedtiny::crypto

#endif  // FEDTINY_TOOLS_BASE_CRYPTO_AEAD_H_
