// The device's key for encrypted bundles (docs/security.md, "Encrypted
// bundles and device keys"): a P-256 key pair created at enrollment, whose
// public half the coordinator wraps model keys to. The private key is reached
// only through a DeviceKeyStore, the platform hook: on Linux a file readable
// by its owner only (FileDeviceKeyStore); on a device with a secure element
// or an OS keystore, an implementation whose Unwrap runs ECDH inside it
// (tools/base/crypto/envelope.h: CheckWrappedKey, UnwrapModelKeyFromSecret)
// so that the private key is never exported.
//
// The model key Unwrap returns, and the model DecryptBundle then returns, live
// only in memory (crypto::SecureBytes, wiped when dropped): no store writes
// either to disk, and a caller must not either.
#ifndef FEDTINY_CLIENT_TRUST_DEVICE_KEY_H_
#define FEDTINY_CLIENT_TRUST_DEVICE_KEY_H_

#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "proto/trust.pb.h"
#include "tools/base/crypto/ec_key.h"
#include "tools/base/crypto/secure_bytes.h"

namespace fedtiny::client::trust {

// DeviceKeyStore holds the device key. Implementations are thread-safe and
// may block (disk, a secure element).
class DeviceKeyStore {
 public:
  virtual ~DeviceKeyStore() = default;

  // GetOrCreate returns the device's public key, creating the key pair the
  // first time (enrollment sends its spki_der to the coordinator). kInternal
  // if the key cannot be made or stored; kFailedPrecondition if a stored key
  // is unsafe to use (FileDeviceKeyStore: its permissions).
  virtual absl::StatusOr<crypto::EcPublicKey> GetOrCreate() = 0;

  // Unwrap returns the model key of `wrapped` if it was wrapped to this
  // device's key for exactly `expected_scope` (envelope.h's codes:
  // kInvalidArgument, kFailedPrecondition for another scope or device key,
  // kUnauthenticated). kFailedPrecondition also if the device has no key yet.
  virtual absl::StatusOr<crypto::SecureBytes> Unwrap(
      const v1::WrappedKey& wrapped, const v1::BundleBinding& expected_scope) = 0;
};

// FileDeviceKeyStore keeps the private key as a PEM (PKCS#8) file at `path`,
// mode 0600. The file is created with O_EXCL and mode 0600 from its first
// byte under a temporary name, synced, then linked into place, so it is never
// readable by others, never seen half-written, and two processes enrolling at
// once end up with the same key. A key file that group or others can access,
// that another user owns, or that is not a regular file (a symlink) is
// refused with kFailedPrecondition naming the path and the fix; nothing is
// logged, and no message contains key material.
//
// Thread-safe; the key is loaded once and kept in memory (OpenSSL frees and
// zeroes it with the store). Blocks on disk I/O.
class FileDeviceKeyStore final : public DeviceKeyStore {
 public:
  explicit FileDeviceKeyStore(std::string path) : path_(std::move(path)) {}

  absl::StatusOr<crypto::EcPublicKey> GetOrCreate() override;
  absl::StatusOr<crypto::SecureBytes> Unwrap(
      const v1::WrappedKey& wrapped,
      const v1::BundleBinding& expected_scope) override;

 private:
  // Loads the key file if the key is not in memory yet: kNotFound if absent.
  absl::Status LoadLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status CreateLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::string path_;
  absl::Mutex mu_;
  std::optional<crypto::EcPrivateKey> key_ ABSL_GUARDED_BY(mu_);
};

// ReadPrivateKeyFile reads and parses a PEM private key file, after the checks
// FileDeviceKeyStore makes (regular file, owned by this user, mode without
// group or other bits). kNotFound if absent; kFailedPrecondition for the
// checks; kInvalidArgument if it is not a P-256 key; kInternal otherwise.
absl::StatusOr<crypto::EcPrivateKey> ReadPrivateKeyFile(const std::string& path);

}  // namespace fedtiny::client::trust

#endif  // FEDTINY_CLIENT_TRUST_DEVICE_KEY_H_
