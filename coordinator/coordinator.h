// The coordinator's logic behind the gRPC services: a registry of tasks, each
// run by its own TaskRunner (engine, bundles, committer, fleet view) under its
// own lock; the device-id registry; round events for watchers.
//
// Every client message is validated here before it reaches a task. A round's
// result is written to the Store before the engine applies it or anyone hears of
// it; at start-up, rounds left open by a crash are recorded as abandoned.
#ifndef FEDTINY_COORDINATOR_COORDINATOR_H_
#define FEDTINY_COORDINATOR_COORDINATOR_H_

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "aggregation/random_source.h"
#include "coordinator/clock.h"
#include "coordinator/device_registry.h"
#include "coordinator/event_log.h"
#include "coordinator/store.h"
#include "coordinator/task_config.h"
#include "coordinator/task_runner.h"
#include "coordinator/trust/enrollments.h"
#include "coordinator/trust/model_keys.h"
#include "coordinator/trust/trust_repository.h"
#include "proto/admin.pb.h"
#include "proto/federation.pb.h"

namespace fedtiny::coordinator {

// Model trust: the signing repository (null: no metadata is served and
// bundles are not signed) and the enrolled devices' keys.
struct TrustOptions {
  std::shared_ptr<TrustRepository> repository;
  std::string enrollment_path;  // "": enrollments live in memory only.
  // Serve every bundle encrypted, its model key wrapped at check-in to the
  // device's enrolled key (docs/security.md). Devices must enroll first.
  bool encrypt_bundles = false;
  std::string model_keys_path;  // "": model keys live in memory only.
};

// The check-in's own fields: device_id of 1..128 bytes, battery in [0, 100],
// class and population of at most 64 bytes, a device_secret of 16..64 bytes.
// kInvalidArgument naming the field. The replicas (coordinator/replica) apply
// it too.
absl::Status ValidateCheckIn(const v1::CheckInRequest& request);

// Thread-safe. The registry lock is held only to find or add a task; each task
// has its own lock (TaskRunner), so tasks never wait on each other and no disk
// sync happens under a lock that check-ins wait on. Owns the store; borrows the
// clock; wraps the borrowed random source in a lock (runners share it).
class Coordinator {
 public:
  // Loads every task from `store`, abandons rounds left open, verifies every
  // stored blob (old versions that fail are listed with their integrity), and
  // restores each engine at its last committed versions. A newest version whose
  // head is not finite is rolled back to the newest finite one (committed anew
  // as the next version, aggregator "rollback"). kDataLoss if the metadata fails
  // its integrity check or a newest blob is missing or corrupt.
  static absl::StatusOr<std::unique_ptr<Coordinator>> Create(
      std::unique_ptr<Store> store, const Clock* clock, aggregation::RandomSource* random,
      TrustOptions trust = {});

  // Federation API. Codes as in docs/protocol.md.
  absl::StatusOr<v1::CheckInResponse> CheckIn(const v1::CheckInRequest& request);
  absl::StatusOr<v1::DownloadResponse> Download(const v1::DownloadRequest& request);
  absl::Status Upload(const v1::UploadRequest& request);
  absl::Status ReportFailure(const v1::FailureReport& report);
  // One model-trust metadata file: kNotFound for an unknown path, or when the
  // coordinator has no trust directory; kInvalidArgument for a bad bound.
  absl::StatusOr<v1::MetadataResponse> GetMetadata(const v1::MetadataRequest& request);
  // Binds the device id to its secret (as a check-in does), records its
  // public key (Enrollments::Enroll codes) and returns the newest root.
  absl::StatusOr<v1::EnrollResponse> Enroll(const v1::EnrollRequest& request);
  // Binds the device id to its secret as a check-in does, for services beside
  // the Federation API (metering): kInvalidArgument for a malformed id or
  // secret, kPermissionDenied for another secret than the bound one.
  absl::Status AuthenticateDevice(const std::string& device_id, const std::string& secret);
  // The signing repository, or null.
  TrustRepository* trust() const { return trust_.get(); }
  Enrollments& enrollments() { return *enrollments_; }
  // Revokes `device_id` (Enrollments::Revoke codes): it gets no more
  // wrapped model keys, so no version published from now on.
  absl::Status RevokeDevice(const std::string& device_id);
  // The model keys, or null when bundles are served plain.
  ModelKeys* model_keys() const { return model_keys_.get(); }

  // Admin API.
  absl::StatusOr<v1::TaskInfo> CreateTask(const v1::TaskConfig& config);
  std::vector<v1::TaskInfo> ListTasks();
  absl::StatusOr<v1::TaskInfo> GetTask(const std::string& task);
  // The task's telemetry spec (fixed at creation; edits never change it),
  // without copying the rest of its config: kNotFound for an unknown task,
  // kFailedPrecondition for one without a spec.
  absl::StatusOr<fedtiny::telemetry::TelemetrySpec> TelemetrySpecOf(const std::string& task);
  absl::StatusOr<v1::TaskInfo> SetPaused(const std::string& task, bool paused);
  absl::StatusOr<v1::TaskInfo> StopTask(const std::string& task);
  // Stops the task if needed, then removes it, its rounds, versions and blobs
  // (those no other task shares). `confirm` must equal `task`.
  absl::Status DeleteTask(const std::string& task, const std::string& confirm);
  absl::StatusOr<v1::TaskInfo> UpdateTask(const v1::UpdateTaskRequest& edit);
  absl::StatusOr<v1::ModelVersion> RollbackModel(const std::string& task, int cluster,
                                                 int64_t to_version);
  absl::StatusOr<v1::ModelVersion> PinModel(const std::string& task, int cluster, int64_t version,
                                            bool pinned);
  absl::StatusOr<v1::ListDevicesResponse> ListDevices(const v1::ListDevicesRequest& request);
  // What the stored blobs take (every task).
  absl::StatusOr<StorageUse> StorageUsage();
  // The audit log: RecordAudit stamps the time and appends durably.
  absl::Status RecordAudit(AuditRow row);
  absl::StatusOr<std::vector<AuditRow>> ListAudit(const std::string& task, int limit);
  absl::StatusOr<std::vector<v1::RoundInfo>> ListRounds(const std::string& task, int limit);
  absl::StatusOr<v1::RoundInfo> GetRound(const std::string& task, int64_t round);
  absl::StatusOr<std::vector<v1::ModelVersion>> ListModels(const std::string& task);
  absl::StatusOr<v1::FleetResponse> Fleet(const std::string& task);
  // Re-reads every stored blob of `task` and checks its hash (kNotFound for an
  // unknown task). Blocks on disk reads.
  absl::StatusOr<v1::VerifyResponse> Verify(const std::string& task);
  // One stored version (its blob hash-verified): kNotFound for an unknown task,
  // cluster or version, kDataLoss for a blob that fails its check.
  absl::StatusOr<v1::GetModelResponse> GetModel(const std::string& task, int cluster,
                                                int64_t version);
  // The newest model of each cluster of `task` (serialized v1::Model, float32).
  absl::StatusOr<std::map<int, std::string>> CurrentModels(const std::string& task);

  // Round events (opened, progress, closed) after sequence number `*seq`, for
  // `task` ("" = all). Blocks up to `timeout` for the first; updates `*seq`.
  std::vector<v1::RoundInfo> WaitForRoundEvents(const std::string& task, int64_t* seq,
                                                absl::Duration timeout) {
    return events_.Wait(task, seq, timeout);
  }

  // What each task's round events added up to (opened, closed, reports, ...).
  std::map<std::string, RoundTotals> RoundEventTotals() const { return events_.Totals(); }

  // Closes rounds whose deadline has passed. The server calls it every tick.
  void Tick();

 private:
  // Serializes a shared RandomSource. Thread-safe.
  class LockedRandom final : public aggregation::RandomSource {
   public:
    explicit LockedRandom(aggregation::RandomSource* inner) : inner_(inner) {}
    void Fill(absl::Span<uint64_t> out) override {
      absl::MutexLock lock(&mu_);
      inner_->Fill(out);
    }

   private:
    absl::Mutex mu_;
    aggregation::RandomSource* const inner_ ABSL_PT_GUARDED_BY(mu_);
  };

  Coordinator(std::unique_ptr<Store> store, const Clock* clock, aggregation::RandomSource* random,
              std::shared_ptr<TrustRepository> trust)
      : store_(std::move(store)), clock_(clock), random_(random), trust_(std::move(trust)) {}
  RunnerEnv Env() {
    return RunnerEnv{store_.get(), clock_, &random_, &events_, trust_.get(), model_keys_.get()};
  }
  absl::StatusOr<std::shared_ptr<TaskRunner>> Find(const std::string& name)
      ABSL_LOCKS_EXCLUDED(mu_);

  const std::unique_ptr<Store> store_;
  const Clock* const clock_;
  LockedRandom random_;
  const std::shared_ptr<TrustRepository> trust_;
  std::unique_ptr<Enrollments> enrollments_;  // Set by Create.
  std::unique_ptr<ModelKeys> model_keys_;     // Set by Create when encrypting.
  // Wraps the model key of each of `a`'s bundles to `device_id`'s key.
  absl::Status WrapKeys(const std::string& device_id, v1::Assignment& a) const;
  EventLog events_;
  DeviceRegistry devices_;
  absl::Mutex mu_;
  // Shared with the calls in flight: a deleted task's runner lives until the
  // last of them returns.
  std::map<std::string, std::shared_ptr<TaskRunner>> tasks_ ABSL_GUARDED_BY(mu_);
};

}  // namespace fedtiny::coordinator

#endif  // FEDTINY_COORDINATOR_COORDINATOR_H_
