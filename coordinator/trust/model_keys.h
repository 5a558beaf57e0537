// The model keys of encrypted bundles (docs/security.md, "Encrypted bundles
// and device keys"): one random 32-byte key per served bundle, that is per
// (task, cluster, variant, version), so every new version has a new key and
// a revoked device, which is sent no more wrapped keys, cannot read any
// version published after its revocation.
//
// Keys are kept in one file (v1::ModelKeys, mode 0600, rewritten atomically)
// so that a restarted coordinator serves the same keys; in memory they live
// in crypto::SecureBytes, wiped when a key is dropped. Nothing here logs a key.
#ifndef FEDTINY_COORDINATOR_TRUST_MODEL_KEYS_H_
#define FEDTINY_COORDINATOR_TRUST_MODEL_KEYS_H_

#include <map>
#include <memory>
#include <set>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "coordinator/bundle_cache.h"
#include "proto/trust.pb.h"
#include "tools/base/crypto/secure_bytes.h"

namespace fedtiny::coordinator {

// Thread-safe (one mutex, held across the file write). Owns the keys; hands
// out shared references so a key stays valid while a check-in wraps it.
class ModelKeys {
 public:
  using Key = std::shared_ptr<const crypto::SecureBytes>;

  // Open reads `path` ("": keys live in memory only). kDataLoss if it does
  // not parse. The file is written mode 0600. Blocks.
  static absl::StatusOr<std::unique_ptr<ModelKeys>> Open(const std::string& path);

  // Seal returns `plain` with every bundle not yet encrypted encrypted under
  // its target's key (created and stored the first time), its meta's length
  // and sha256 those of the encrypted bytes. kInternal if a key cannot be
  // made or stored. Blocks on disk.
  absl::StatusOr<BundleMap> Seal(const BundleMap& plain) ABSL_LOCKS_EXCLUDED(mu_);

  // Find returns the key of target `name`, or null.
  Key Find(const std::string& name) const ABSL_LOCKS_EXCLUDED(mu_);

  // Retain drops the keys of `task`'s targets not in `keep` (versions no
  // longer served). Blocks on disk; a failed write is retried at the next call.
  absl::Status Retain(const std::string& task, const std::set<std::string>& keep)
      ABSL_LOCKS_EXCLUDED(mu_);

  size_t size() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  explicit ModelKeys(std::string path) : path_(std::move(path)) {}
  absl::StatusOr<Key> KeyForLocked(const std::string& name) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status StoreLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::string path_;
  mutable absl::Mutex mu_;
  std::map<std::string, Key> keys_ ABSL_GUARDED_BY(mu_);
};

// BindingOf is the binding a served bundle is encrypted for (and its wrapped
// keys scoped to): the fields of its signed target.
v1::BundleBinding BindingOf(const v1::ModelBundle& meta);

}  // namespace fedtiny::coordinator

#endif  // FEDTINY_COORDINATOR_TRUST_MODEL_KEYS_H_
