// What the app (the port) provides to the portable core, TFLite Micro's way:
// the core reaches no OS, file system or crypto library itself. Linux's
// implementation is client/platform/linux/linux_platform.h; a Cortex-M port
// implements these over its flash store, timer, TRNG and a SHA-256 (Mbed TLS,
// the MCU's hash engine).
//
// Implementations say their own thread-safety; the core calls them from the
// thread that called it. Every call may block (flash, disk).
#ifndef FEDTINY_CLIENT_CORE_PLATFORM_H_
#define FEDTINY_CLIENT_CORE_PLATFORM_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "client/core/status.h"

namespace fedtiny::client {

// Whole-file storage addressed by a path (or key).
class Storage {
 public:
  virtual ~Storage() = default;
  // ReadFile returns the whole contents. kNotFound if absent, kInternal on
  // other errors.
  virtual StatusOr<std::string> ReadFile(const std::string& path) = 0;
  // WriteFileAtomically replaces `path` with `contents`: a reader sees the old
  // or the new contents, never a mix. kInternal naming the path on failure.
  virtual Status WriteFileAtomically(const std::string& path, std::string_view contents) = 0;
  // Remove deletes `path`; OK if it does not exist. kInternal otherwise.
  virtual Status Remove(const std::string& path) = 0;
  // Exists says whether `path` exists.
  virtual bool Exists(const std::string& path) = 0;
};

// A monotonic clock.
class Clock {
 public:
  virtual ~Clock() = default;
  // NowMicros never goes back; its origin is arbitrary.
  virtual int64_t NowMicros() = 0;
};

// Randomness for seeds (not for keys).
class Random {
 public:
  virtual ~Random() = default;
  // Next returns 64 random bits.
  virtual uint64_t Next() = 0;
};

// The hash behind the checksummed file formats (checkpoints, example store).
class Crypto {
 public:
  static constexpr size_t kSha256Bytes = 32;
  virtual ~Crypto() = default;
  // Sha256 writes the SHA-256 of `data` into `digest`; false if the hash
  // failed (the caller treats it as a mismatch).
  virtual bool Sha256(std::string_view data, uint8_t (&digest)[kSha256Bytes]) const = 0;
  // ConstantTimeEquals compares in time independent of where they differ
  // (false for different sizes).
  virtual bool ConstantTimeEquals(std::string_view a, std::string_view b) const = 0;
};

// Signature checks for model trust (docs/security.md): the port verifies with
// its crypto library (Mbed TLS on Cortex-M: client/platform/cortex_m/
// mbedtls_signature_verifier.h), so portable code verifies without linking
// one. Not part of Platform: only a port that checks signed metadata provides
// it. Implementations say their thread-safety.
class SignatureVerifier {
 public:
  virtual ~SignatureVerifier() = default;
  // VerifyEcdsaP256Sha256 checks `der_signature` (DER, ECDSA) over
  // SHA-256(message) with the P-256 key `spki_der` (DER SubjectPublicKeyInfo):
  // proto/trust.proto's "ecdsa-p256-sha256". OK if it verifies;
  // kInvalidArgument if the key does not parse or is not P-256;
  // kUnauthenticated if the signature is wrong or malformed.
  virtual Status VerifyEcdsaP256Sha256(std::string_view spki_der, std::string_view message,
                                       std::string_view der_signature) const = 0;
};

// The four together, as an app hands them to the core. Borrows them: they
// must outlive every object given the Platform.
struct Platform {
  Storage& storage;
  const Crypto& crypto;
  Clock& clock;
  Random& random;
};

}  // namespace fedtiny::client

#endif  // FEDTINY_CLIENT_CORE_PLATFORM_H_
