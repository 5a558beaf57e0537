// SecureBytes: a fixed-size buffer for secrets (model keys, key-encryption
// keys, ECDH secrets) and for decrypted models, zeroed with OPENSSL_cleanse
// when it is destroyed or overwritten by a move. A decrypted model lives only
// in a SecureBytes: it is never written to disk by this code, and its bytes
// are wiped once the caller has built its model from them and drops it.
#ifndef FEDTINY_TOOLS_BASE_CRYPTO_SECURE_BYTES_H_
#define FEDTINY_TOOLS_BASE_CRYPTO_SECURE_BYTES_H_

#include <cstddef>
#include <cstdint>
#include <memory>

#include "absl/strings/string_view.h"

namespace fedtiny::crypto {

// SecureBytes owns one heap allocation of a size fixed at construction (it
// never reallocates, so no stale copy of the contents is left behind in freed
// memory). Move-only; not thread-safe for writes, concurrent reads are fine.
// What it does not do: lock the pages in RAM (they may be swapped) or hide
// them from a debugger (docs/security.md, "Encrypted bundles").
class SecureBytes {
 public:
  SecureBytes() = default;
  // Allocates `size` zero bytes.
  explicit SecureBytes(size_t size);
  // Copy of `bytes` (the caller wipes its own copy if it is a secret).
  static SecureBytes CopyOf(absl::string_view bytes);
  // ForOverwrite allocates `size` bytes left uninitialized, for a caller that
  // writes every byte at once (a decryption); saves zeroing a large model.
  static SecureBytes ForOverwrite(size_t size);

  SecureBytes(SecureBytes&& other) noexcept;
  SecureBytes& operator=(SecureBytes&& other) noexcept;
  SecureBytes(const SecureBytes&) = delete;
  SecureBytes& operator=(const SecureBytes&) = delete;
  ~SecureBytes();

  [[nodiscard]] size_t size() const { return size_; }
  [[nodiscard]] bool empty() const { return size_ == 0; }
  [[nodiscard]] const uint8_t* data() const { return data_.get(); }
  [[nodiscard]] uint8_t* data() { return data_.get(); }
  // view borrows the contents; valid while this object lives unmoved.
  [[nodiscard]] absl::string_view view() const {
    return absl::string_view(reinterpret_cast<const char*>(data_.get()), size_);
  }

  // Shrink lowers the size to `size` (<= size()) without reallocating; the
  // bytes past it are wiped at once.
  void Shrink(size_t size);
  // Wipe zeroes the contents and releases them; the object is then empty.
  void Wipe();

 private:
  struct Uninitialized {};
  SecureBytes(size_t size, Uninitialized);

  std::unique_ptr<uint8_t[]> data_;
  size_t size_ = 0;
  size_t capacity_ = 0;
};

}  // namespace fedtiny::crypto

#endif  // FEDTINY_TOOLS_BASE_CRYPTO_SECURE_BYTES_H_
