// The device side of model trust: the TUF client workflow (docs/security.md)
// over a repository the device does not trust. Refresh() updates the root
// through every version in turn, then the timestamp, the snapshot and the
// targets, refusing each attack class with a stable reason
// (client/trust/refusal.h); VerifyTarget() then checks a downloaded bundle and
// DirectedTarget() says which bundle this device class must run.
//
// The trusted set is one file written atomically through client::Storage, and
// only after every check of an update passed: a refusal, or a crash mid-update,
// leaves the previous set on disk and in memory.
#ifndef FEDTINY_CLIENT_TRUST_UPDATER_H_
#define FEDTINY_CLIENT_TRUST_UPDATER_H_

#include <cstddef>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "client/core/platform.h"
#include "client/trust/fetcher.h"
#include "client/trust/trusted_metadata.h"
#include "client/trust/wall_clock.h"
#include "proto/trust.pb.h"
#include "tools/base/sha256.h"

namespace fedtiny::client::trust {

// Bounds on what a refresh fetches (endless data, slow retrieval).
struct UpdaterOptions {
  size_t max_root_bytes = 64 * 1024;
  size_t max_timestamp_bytes = 4 * 1024;
  size_t max_snapshot_bytes = 64 * 1024;  // also caps the timestamp's length
  size_t max_targets_bytes = 1024 * 1024;
  // Root versions accepted in one refresh; the rest wait for the next.
  int max_root_rotations = 32;
  // Each fetch must end within this (on the injected clock).
  absl::Duration fetch_timeout = absl::Seconds(30);
};

// A target and its trusted description.
struct NamedTarget {
  std::string name;
  v1::TargetInfo info;
};

// Updater: thread-safe (one mutex; Refresh holds it while it fetches, so other
// calls wait for it). Borrows the storage, fetcher and clock, which must
// outlive it.
class Updater {
 public:
  // Create reads the trusted set from `path` in `storage`, or, if there is
  // none, starts from `initial_root` (the Signed root shipped with the device)
  // and stores it. Refusals: kStorage for an unreadable or corrupt file (the
  // device then needs re-provisioning: a corrupt file is never replaced by the
  // initial root, which could be older), or the initial root's own. Blocks on
  // storage.
  static absl::StatusOr<std::unique_ptr<Updater>> Create(
      Storage& storage, std::string path, absl::string_view initial_root,
      Fetcher& fetcher, const WallClock& clock, UpdaterOptions options = {});

  // Refresh runs one update cycle and commits the new trusted set. OK, or a
  // Refusal naming why (RefusalReasonOf) with the trusted set unchanged.
  // Blocks on fetches and storage.
  absl::Status Refresh() ABSL_LOCKS_EXCLUDED(mu_);

  // VerifyTarget checks downloaded bytes against the trusted, unexpired
  // targets: kNoTrustedTargets, kExpired, kUnknownTarget, kTargetLength or
  // kTargetHash refusals.
  absl::Status VerifyTarget(absl::string_view name, absl::string_view bytes) const
      ABSL_LOCKS_EXCLUDED(mu_);
  // TrustedTarget is the trusted, unexpired entry of target `name`, before
  // anything is downloaded (its length bounds the download):
  // kNoTrustedTargets, kExpired or kUnknownTarget refusals.
  absl::StatusOr<v1::TargetInfo> TrustedTarget(absl::string_view name) const
      ABSL_LOCKS_EXCLUDED(mu_);
  // MatchTarget checks a download's length and SHA-256 (hashed as it arrived)
  // against `info`: kTargetLength or kTargetHash refusals.
  static absl::Status MatchTarget(absl::string_view name, const v1::TargetInfo& info,
                                  uint64_t length, const Sha256Digest& digest);

  // DirectedTarget returns the target the trusted targets direct
  // `device_class` to run: kNoTrustedTargets, kExpired or kNoDirective.
  absl::StatusOr<NamedTarget> DirectedTarget(absl::string_view device_class) const
      ABSL_LOCKS_EXCLUDED(mu_);

  // TrustedTime returns the later of the clock and the last verified
  // timestamp's issue time: expiries are checked against it.
  absl::Time TrustedTime() const ABSL_LOCKS_EXCLUDED(mu_);

  // trusted returns a copy of the trusted set.
  TrustedMetadata trusted() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  Updater(Storage& storage, std::string path, Fetcher& fetcher,
          const WallClock& clock, UpdaterOptions options, TrustedMetadata trusted);

  absl::StatusOr<const Verified<v1::Targets>*> CurrentTargets() const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // Fixed after construction.
  Storage& storage_;
  const std::string path_;
  Fetcher& fetcher_;
  const WallClock& clock_;
  const UpdaterOptions options_;

  mutable absl::Mutex mu_;
  TrustedMetadata trusted_ ABSL_GUARDED_BY(mu_);
};

}  // namespace fedtiny::client::trust

#endif  // FEDTINY_CLIENT_TRUST_UPDATER_H_
