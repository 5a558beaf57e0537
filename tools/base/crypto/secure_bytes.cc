#include "tools/base/crypto/secure_bytes.h"

#include <openssl/crypto.h>

#include <cstring>
#include <utility>

namespace fedtiny::crypto {

SecureBytes::SecureBytes(size_t size)
    : data_(size > 0 ? new uint8_t[size]() : nullptr),
      size_(size),
      capacity_(size) {}

SecureBytes::SecureBytes(size_t size, Uninitialized)
    : data_(size > 0 ? new uint8_t[size] : nullptr),
      size_(size),
      capacity_(size) {}

SecureBytes SecureBytes::ForOverwrite(size_t size) {
  return SecureBytes(size, Uninitialized{});
}

SecureBytes SecureBytes::CopyOf(absl::string_view bytes) {
  SecureBytes out = ForOverwrite(bytes.size());
  if (!bytes.empty()) std::memcpy(out.data(), bytes.data(), bytes.size());
  return out;
}

SecureBytes::SecureBytes(SecureBytes&& other) noexcept
    : data_(std::move(other.data_)),
      size_(std::exchange(other.size_, 0)),
      capacity_(std::exchange(other.capacity_, 0)) {}

SecureBytes& SecureBytes::operator=(SecureBytes&& other) noexcept {
  if (this != &other) {
    Wipe();
    data_ = std::move(other.data_);
    size_ = std::exchange(other.size_, 0);
    capacity_ = std::exchange(other.capacity_, 0);
  }
  return *this;
}

SecureBytes::~SecureBytes() { Wipe(); }

void SecureBytes::Shrink(size_t size) {
  if (size >= size_) return;
  OPENSSL_cleanse(data_.get() + size, size_ - size);
  size_ = size;
}

void SecureBytes::Wipe() {
  if (data_ != nullptr) OPENSSL_cleanse(data_.get(), capacity_);
  data_.reset();
  size_ = 0;
  capacity_ = 0;
}

}  // namespace fedtiny::crypto
