// One task, end to end: its validated config, its round engine, the bundle
// cache devices download from, the round committer (closed round -> version
// rows -> store -> engine -> bundles -> events) and the fleet tracker. The
// server's Coordinator keeps one per task; the simulator drives the same class
// through the same Coordinator, over an in-memory Store and a virtual clock.
//
// Locking: `mu_` guards the engine and the caches and is held only for memory
// work. Store writes that sync to disk (a round's opening record, a round's
// commit, a task state change) happen outside it, under `commit_mu_`, which
// check-ins never take: while a round commits, check-ins are told to come back
// and uploads for it are late, exactly as for any closing round.
#ifndef FEDTINY_COORDINATOR_TASK_RUNNER_H_
#define FEDTINY_COORDINATOR_TASK_RUNNER_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "aggregation/random_source.h"
#include "coordinator/bundle_cache.h"
#include "coordinator/clock.h"
#include "coordinator/event_log.h"
#include "coordinator/round_engine.h"
#include "coordinator/store.h"
#include "coordinator/target_publisher.h"
#include "coordinator/trust/model_keys.h"
#include "proto/admin.pb.h"
#include "proto/federation.pb.h"
#include "tools/base/update_codec.h"

namespace fedtiny::coordinator {

// What a runner borrows; everything must outlive it. `random` and `store` must
// be thread-safe (runners of different tasks call them concurrently).
struct RunnerEnv {
  Store* store = nullptr;
  const Clock* clock = nullptr;
  aggregation::RandomSource* random = nullptr;
  EventLog* events = nullptr;
  // Null: bundles are served unsigned (no trust directory configured).
  TargetPublisher* publisher = nullptr;
  // Non-null: every served bundle is encrypted under its model key
  // (docs/security.md, "Encrypted bundles and device keys").
  ModelKeys* model_keys = nullptr;
};

// Devices last seen by one task, for the fleet and device views. Thread-safe;
// bounded (cleared past `capacity` ids).
class FleetTracker {
 public:
  explicit FleetTracker(size_t capacity = 1'000'000) : capacity_(capacity) {}
  void Seen(const std::string& device_id, const std::string& device_class, const std::string& state,
            int64_t now_ms);
  void Reported(const std::string& device_id, int cluster);
  void Rejected(const std::string& device_id, const std::string& reason);
  // `override_state` non-empty: every device counts with that state.
  v1::FleetResponse Counts(const std::string& override_state = "") const;
  // Devices whose (possibly overridden) state is `state` ("" = any), ordered by
  // id, after `after_id`, at most `limit`; `*total` counts every match.
  std::vector<v1::DeviceInfo> List(const std::string& state, const std::string& override_state,
                                   const std::string& after_id, int limit, int64_t* total) const;

 private:
  struct Device {
    std::string device_class;
    std::string state;
    int cluster = 0;  // The cluster of its last accepted upload.
    int64_t last_seen_ms = 0;
    int32_t contributed = 0;
    int32_t rejections = 0;
    std::string last_rejection;
  };
  const size_t capacity_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, Device> devices_ ABSL_GUARDED_BY(mu_);
};

// The upload's delta into u.delta, or why not into u.malformed (refused after
// the token checks): float32 bytes, or a compressed_delta under the task's
// `spec` for a head of `dim` parameters. Pure; the replicas use it too.
void DecodeUploadDelta(const std::string& task, const CompressionSpec& spec, int64_t dim,
                       const v1::UploadRequest& r, coordinator::Upload& u);

// Thread-safe (see the locking note above). Owns its engine and caches.
class TaskRunner {
 public:
  // Records a new task (validated config) and its version 0 models in the store.
  static absl::StatusOr<std::unique_ptr<TaskRunner>> Create(const v1::TaskConfig& config,
                                                            const RunnerEnv& env);
  // Restores a stored task: verifies every blob (old versions that fail are
  // listed with their integrity), rolls a non-finite newest head back, and
  // restores the engine at its last committed versions. kDataLoss if the stored
  // config fails validation or a newest blob is missing or corrupt.
  static absl::StatusOr<std::unique_ptr<TaskRunner>> Load(const TaskRow& row, const RunnerEnv& env);

  // The config as loaded: its name, population, model, plan and aggregation
  // never change; Info() has the current one, with the operators' edits.
  const v1::TaskConfig& config() const { return config_; }
  const std::string& name() const { return config_.name(); }
  // RUNNING, PAUSED, DONE or STOPPED.
  v1::TaskState state() const;

  // Federation API; the caller validated the request and bound the device id
  // to `secret_key`. Codes as in docs/protocol.md.
  absl::StatusOr<v1::CheckInResponse> CheckIn(const v1::CheckInRequest& request,
                                              const std::string& secret_key);
  absl::StatusOr<v1::DownloadResponse> Download(const v1::DownloadRequest& request);
  absl::Status Upload(const v1::UploadRequest& request);
  absl::Status ReportFailure(const v1::FailureReport& report);
  // Closes (commits or abandons) the open round if its deadline passed, or
  // retries a close the store refused earlier.
  void Tick();

  // Admin API.
  v1::TaskInfo Info() const;
  absl::StatusOr<v1::TaskInfo> SetPaused(bool paused);
  // Ends the task for good: the open round is abandoned, state STOPPED.
  absl::StatusOr<v1::TaskInfo> Stop();
  // Applies an operator's edit (task_config.h ApplyEdit), stored before it applies.
  absl::StatusOr<v1::TaskInfo> Edit(const v1::UpdateTaskRequest& edit);
  // Makes `to_version` of `cluster` current again as a new version (see
  // RollbackRequest); an open round is abandoned first. kNotFound,
  // kFailedPrecondition (already current, or pruned), kDataLoss.
  absl::StatusOr<v1::ModelVersion> Rollback(int cluster, int64_t to_version);
  absl::StatusOr<v1::ModelVersion> Pin(int cluster, int64_t version, bool pinned);
  // One page of the devices this task has seen (see ListDevicesRequest).
  absl::StatusOr<v1::ListDevicesResponse> ListDevices(const v1::ListDevicesRequest& request) const;
  absl::StatusOr<std::vector<v1::RoundInfo>> ListRounds(int limit);
  absl::StatusOr<std::vector<v1::ModelVersion>> ListModels();
  absl::StatusOr<v1::VerifyResponse> Verify();
  // One stored version with its blob (hash-verified; kNotFound, kDataLoss).
  absl::StatusOr<v1::GetModelResponse> GetModel(int cluster, int64_t version);
  // Devices by class, cluster and state; once the task is paused or done, every
  // device it knows counts as "paused" or "done".
  v1::FleetResponse Fleet() const;

  // The newest model of each cluster, serialized v1::Model (float32 variant).
  std::map<int, std::string> CurrentModels() const;

  // How many leading bytes every float32 model of the task shares (its
  // serialized input width and frozen body), which the store keeps once.
  static int64_t BodyPrefixBytes(const v1::TaskConfig& config);

 private:
  using BlobChecks = std::vector<std::pair<VersionRow, std::string>>;

  TaskRunner(v1::TaskConfig config, int64_t created_ms, const RunnerEnv& env)
      : config_(std::move(config)),
        templates_(TemplatesOf(config_)),
        body_prefix_bytes_(BodyPrefixBytes(config_)),
        compression_(CompressionOf(config_)),
        created_ms_(created_ms),
        env_(env),
        current_(config_) {}

  absl::Status Restore(int state) ABSL_LOCKS_EXCLUDED(mu_);
  // The upload's delta into u.delta, or why not into u.malformed (refused
  // after the token checks); compressed ones with the task's spec.
  void DecodeUpdate(const v1::UploadRequest& r, coordinator::Upload& u) ABSL_LOCKS_EXCLUDED(mu_);

 public:
  // The task's compression spec, parsed (none when unreadable: validated at creation).
  static CompressionSpec CompressionOf(const v1::TaskConfig& config) {
    CompressionSpec s;  // Validated at creation; none if unreadable.
    std::string error;
    return ParseCompressionSpec(config.compression(), &s, &error) ? s : CompressionSpec{};
  }

 private:
  absl::StatusOr<BlobChecks> CheckBlobs();
  absl::StatusOr<VersionRow> RollBack(const VersionRow& bad, const absl::Status& why);
  // Takes the closed round (if any) and commits or abandons it.
  void MaybeCommit(absl::Time now) ABSL_LOCKS_EXCLUDED(mu_, commit_mu_);
  // Records the round the store refused earlier, else the closed one, else
  // (with `abandon_reason`) abandons the open one. An error: nothing recorded,
  // the round stays closing.
  absl::Status CloseRound(absl::Time now, const std::string* abandon_reason)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(commit_mu_) ABSL_LOCKS_EXCLUDED(mu_);
  // Pauses admissions, abandons the open round for `reason` (CloseRound), runs
  // `then`, and restores the pause state: an operator's stop or rollback.
  absl::Status AbandonOpenRoundThen(const std::string& reason,
                                    const std::function<absl::Status()>& then)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(commit_mu_) ABSL_LOCKS_EXCLUDED(mu_);
  // Signs `all` (the complete set about to be served) as the task's targets
  // before any device hears of it. A failure is logged: the bundles are
  // served anyway (devices that require trust refuse them, and say so).
  void PublishTargets(const BundleMap& all) ABSL_LOCKS_EXCLUDED(mu_);
  // Served returns `plain` as devices download it: encrypted when the
  // coordinator encrypts bundles (kInternal if a key cannot be made).
  absl::StatusOr<BundleMap> Served(const BundleMap& plain);
  // Applies the retention policy (keep_versions) after a new version.
  void Prune() ABSL_EXCLUSIVE_LOCKS_REQUIRED(commit_mu_) ABSL_LOCKS_EXCLUDED(mu_);
  // Writes a closed round: committed (true) or abandoned (false). An error
  // means nothing was recorded. `bundles` receives the new clusters' bundles.
  absl::StatusOr<bool> Persist(ClosedRound& closed, BundleMap& bundles, absl::Time now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(commit_mu_) ABSL_LOCKS_EXCLUDED(mu_);
  v1::RoundInfo RoundInfoOf(const RoundStats& s, v1::RoundState state,
                            const std::map<int, int64_t>& versions) const;
  v1::ModelVersion ModelVersionOf(const VersionRow& v) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  v1::TaskState StateLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The state every device shows while the task is paused, done or stopped.
  static std::string OverrideState(v1::TaskState s);

  const v1::TaskConfig config_;
  const VariantTemplates templates_;
  const int64_t body_prefix_bytes_;
  const CompressionSpec compression_;  // config_.compression, parsed.
  const int64_t created_ms_;
  const RunnerEnv env_;
  FleetTracker fleet_;

  // Serializes commits and task-state writes; taken before mu_, never after it.
  absl::Mutex commit_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  mutable absl::Mutex mu_;
  v1::TaskConfig current_ ABSL_GUARDED_BY(mu_);  // config_ with the operators' edits.
  std::unique_ptr<RoundEngine> engine_ ABSL_GUARDED_BY(mu_);
  BundleMap bundles_ ABSL_GUARDED_BY(mu_);
  // A closed round the store could not record yet; retried at every Tick.
  std::optional<ClosedRound> pending_ ABSL_GUARDED_BY(mu_);
  // The round whose opening the store has recorded (admissions need it).
  int64_t recorded_round_ ABSL_GUARDED_BY(mu_) = 0;
  bool opening_ ABSL_GUARDED_BY(mu_) = false;  // A check-in is recording an opening.
  bool done_recorded_ ABSL_GUARDED_BY(mu_) = false;
  // (cluster, version) -> "ok" or what is wrong with its blob.
  std::map<std::pair<int, int64_t>, std::string> integrity_ ABSL_GUARDED_BY(mu_);
};

}  // namespace fedtiny::coordinator

#endif  // FEDTINY_COORDINATOR_TASK_RUNNER_H_
