// The coordinator's model-trust repository (Uptane's director, see
// docs/security.md "Keys and who holds them"): it holds the online keys the
// operator's trust directory gives it (targets/release, snapshot, timestamp;
// never the root key), signs every committed version's bundles as targets
// before devices hear of them, and serves the metadata over the Federation API
// (GetMetadata).
//
// Durability: the published set (targets, snapshot, timestamp) is one file
// written atomically after signing and before it is served, so a crash leaves
// the previous set. Every start re-signs all three with versions above the
// stored ones (and at least the Unix time, so that even a lost state file
// cannot make versions go back).
#ifndef FEDTINY_COORDINATOR_TRUST_TRUST_REPOSITORY_H_
#define FEDTINY_COORDINATOR_TRUST_TRUST_REPOSITORY_H_

#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "coordinator/clock.h"
#include "coordinator/target_publisher.h"
#include "coordinator/trust/key_dir.h"
#include "proto/trust.pb.h"

namespace fedtiny::coordinator {

// Thread-safe (one mutex, held while signing and writing). Borrows the clock,
// which must outlive it; owns its keys.
class TrustRepository final : public TargetPublisher {
 public:
  struct Options {
    std::string trust_dir;   // As made by `flctl keys init`; its online keys are used.
    std::string state_path;  // The published set; "" keeps it in memory only.
    absl::Duration targets_lifetime = absl::Hours(24 * 30);
    absl::Duration snapshot_lifetime = absl::Hours(24 * 7);
    absl::Duration timestamp_lifetime = absl::Hours(24);
  };

  // Open loads the trust directory and the stored set, then re-signs and
  // stores it. kNotFound without a root, kFailedPrecondition when an online
  // role's keys are not held, kDataLoss for unreadable files. Blocks.
  static absl::StatusOr<std::unique_ptr<TrustRepository>> Open(const Options& options,
                                                               const Clock* clock);

  // Directives: "<task>/<class>" names the task's cluster-0 target of the
  // class's variant (the device checks the variant it is given; its cluster is
  // its own choice), and "*" the newest published task's cluster-0 float32.
  absl::Status Publish(const std::string& task, const BundleMap& bundles,
                       const std::map<std::string, std::string>& variant_by_class) override
      ABSL_LOCKS_EXCLUDED(mu_);

  // Get returns the served file at `path` ("<N>.root.pb", "timestamp.pb",
  // "snapshot.pb", "targets.pb"): kNotFound for any other path or version.
  absl::StatusOr<std::string> Get(const std::string& path) const ABSL_LOCKS_EXCLUDED(mu_);
  // The newest signed root (what an enrolling device bootstraps from).
  std::string LatestRoot() const ABSL_LOCKS_EXCLUDED(mu_);
  uint64_t root_version() const ABSL_LOCKS_EXCLUDED(mu_);

  // Tick picks up a new root version in the trust directory (`flctl keys
  // rotate|revoke` on the coordinator's copy: ReloadKeys), then re-signs the
  // timestamp once half its lifetime has passed (and the snapshot and targets
  // likewise), so that devices never see them expire while the coordinator
  // runs. Blocks while it signs.
  absl::Status Tick() ABSL_LOCKS_EXCLUDED(mu_);

  // ReloadKeys reads the trust directory again and, when it holds a newer
  // root, serves it and re-signs targets, snapshot and timestamp with the keys
  // it names. An error (a root whose online keys are not in online/ yet, an
  // unreadable file) keeps the keys and metadata as they were. Blocks.
  absl::Status ReloadKeys() ABSL_LOCKS_EXCLUDED(mu_);

  // The roles as published now (tests, flctl).
  v1::Targets targets() const ABSL_LOCKS_EXCLUDED(mu_);
  v1::Timestamp timestamp() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  TrustRepository(Options options, const Clock* clock, KeyDir keys)
      : options_(std::move(options)), clock_(clock), keys_(std::move(keys)) {}
  absl::Status Load() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status ReloadKeysLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Re-signs the timestamp, and the snapshot and targets when asked (targets
  // implies snapshot), stores the set, then serves it. On error nothing changes.
  absl::Status Republish(bool targets, bool snapshot) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // Fixed after construction.
  const Options options_;
  const Clock* const clock_;

  mutable absl::Mutex mu_;
  KeyDir keys_ ABSL_GUARDED_BY(mu_);
  // The newest root version Tick could not use yet (logged once).
  uint64_t failed_root_ ABSL_GUARDED_BY(mu_) = 0;
  v1::Targets targets_ ABSL_GUARDED_BY(mu_);
  v1::Snapshot snapshot_ ABSL_GUARDED_BY(mu_);
  v1::Timestamp timestamp_ ABSL_GUARDED_BY(mu_);
  // The exact bytes served (the snapshot and timestamp hash these).
  std::string signed_targets_ ABSL_GUARDED_BY(mu_);
  std::string signed_snapshot_ ABSL_GUARDED_BY(mu_);
  std::string signed_timestamp_ ABSL_GUARDED_BY(mu_);
};

}  // namespace fedtiny::coordinator

#endif  // FEDTINY_COORDINATOR_TRUST_TRUST_REPOSITORY_H_
