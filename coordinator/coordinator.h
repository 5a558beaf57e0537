// The coordinator's logic behind the gRPC services: tasks and their round
// engines, the model registry (a version line per cluster, float32 and int8
// variants), durable state, fleet counts and round events for watchers.
//
// Every client message is validated here before it reaches an engine. A round's
// result is written to the Store before the engine applies it or anyone hears of
// it; at start-up, rounds left open by a crash are recorded as abandoned.
#ifndef FEDTINY_COORDINATOR_COORDINATOR_H_
#define FEDTINY_COORDINATOR_COORDINATOR_H_

#include <map>
#include <optional>
#include <tuple>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "aggregation/random_source.h"
#include "coordinator/clock.h"
#include "coordinator/round_engine.h"
#include "coordinator/store.h"
#include "proto/admin.pb.h"
#include "proto/federation.pb.h"

namespace fedtiny::coordinator {

// Thread-safe: one mutex guards all task state (calls are short; a round close
// includes the store's fsyncs). Owns the store; borrows clock and random source.
class Coordinator {
 public:
  // Loads every task from `store`, abandons rounds left open, verifies every
  // stored blob (old versions that fail are listed with their integrity), and
  // restores each engine at its last committed versions. A newest version whose
  // head is not finite is rolled back to the newest finite one (committed anew
  // as the next version, aggregator "rollback"). kDataLoss if the metadata fails
  // its integrity check or a newest blob is missing or corrupt.
  static absl::StatusOr<std::unique_ptr<Coordinator>> Create(
      std::unique_ptr<Store> store, const Clock* clock, aggregation::RandomSource* random);

  // Federation API. Codes as in docs/protocol.md.
  absl::StatusOr<v1::CheckInResponse> CheckIn(const v1::CheckInRequest& request);
  absl::StatusOr<v1::DownloadResponse> Download(const v1::DownloadRequest& request);
  absl::Status Upload(const v1::UploadRequest& request);
  absl::Status ReportFailure(const v1::FailureReport& report);

  // Admin API.
  absl::StatusOr<v1::TaskInfo> CreateTask(const v1::TaskConfig& config);
  std::vector<v1::TaskInfo> ListTasks();
  absl::StatusOr<v1::TaskInfo> GetTask(const std::string& task);
  absl::StatusOr<v1::TaskInfo> SetPaused(const std::string& task, bool paused);
  absl::StatusOr<std::vector<v1::RoundInfo>> ListRounds(const std::string& task, int limit);
  absl::StatusOr<v1::RoundInfo> GetRound(const std::string& task, int64_t round);
  absl::StatusOr<std::vector<v1::ModelVersion>> ListModels(const std::string& task);
  absl::StatusOr<v1::FleetResponse> Fleet(const std::string& task);
  // Re-reads every stored blob of `task` and checks its hash (kNotFound for an
  // unknown task). Blocks on disk reads.
  absl::StatusOr<v1::VerifyResponse> Verify(const std::string& task);

  // Round events (opened, progress, closed) after sequence number `*seq`, for
  // `task` ("" = all). Blocks up to `timeout` for the first; updates `*seq`.
  std::vector<v1::RoundInfo> WaitForRoundEvents(const std::string& task, int64_t* seq,
                                                absl::Duration timeout);

  // Closes rounds whose deadline has passed. The server calls it every second.
  void Tick();

 private:
  struct Bundle {
    v1::ModelBundle meta;
    std::string bytes;  // Serialized v1::Model.
  };
  struct DeviceSeen {
    std::string device_class;
    std::string state;
    int cluster = 0;  // The cluster of its last accepted upload.
  };
  struct Task {
    v1::TaskConfig config;
    int state = v1::RUNNING;
    int64_t created_ms = 0;
    std::unique_ptr<RoundEngine> engine;
    std::map<std::pair<int, std::string>, Bundle> bundles;  // (cluster, variant)
    absl::flat_hash_map<std::string, DeviceSeen> devices;
    // A closed round the store could not record yet; retried at every Tick.
    std::optional<ClosedRound> pending;
  };
  // Every stored version of a task with "ok", or what is wrong with its blob.
  using BlobChecks = std::vector<std::pair<VersionRow, std::string>>;

  Coordinator(std::unique_ptr<Store> store, const Clock* clock, aggregation::RandomSource* random)
      : store_(std::move(store)), clock_(clock), random_(random) {}
  absl::Status LoadTask(const TaskRow& row) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<BlobChecks> CheckBlobs(const std::string& task);
  absl::StatusOr<VersionRow> RollBack(const VersionRow& bad, const absl::Status& why)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status BindDevice(const std::string& device_id, const std::string& key)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Seen(Task& t, const v1::CheckInRequest& r, const std::string& state)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<bool> Persist(Task& t, ClosedRound& closed, absl::Time now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  v1::ModelVersion ModelVersionOf(const VersionRow& v) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status BuildBundles(Task& t, int cluster, int64_t version, const std::vector<float>& head)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<Task*> Find(const std::string& name) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void MaybeClose(Task& t, absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  v1::TaskInfo Info(const Task& t) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  v1::RoundInfo RoundInfoOf(const Task& t, const RoundStats& s, v1::RoundState state,
                            const std::map<int, int64_t>& versions) const;
  void Emit(v1::RoundInfo info) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::unique_ptr<Store> store_;
  const Clock* const clock_;
  aggregation::RandomSource* const random_;
  absl::Mutex mu_;
  absl::CondVar events_cv_;
  std::map<std::string, Task> tasks_ ABSL_GUARDED_BY(mu_);
  std::vector<std::pair<int64_t, v1::RoundInfo>> events_ ABSL_GUARDED_BY(mu_);
  int64_t next_event_ ABSL_GUARDED_BY(mu_) = 1;
  // Device id -> SHA-256 of its secret, bound at first check-in (bounded; see BindDevice).
  absl::flat_hash_map<std::string, std::string> device_keys_ ABSL_GUARDED_BY(mu_);
  // (task, cluster, version) -> "ok" or what is wrong with its blob.
  std::map<std::tuple<std::string, int, int64_t>, std::string> integrity_ ABSL_GUARDED_BY(mu_);
};

// Validates an operator's TaskConfig and fills defaults (kInvalidArgument naming
// the field otherwise).
absl::StatusOr<v1::TaskConfig> ValidateTaskConfig(v1::TaskConfig config);

}  // namespace fedtiny::coordinator

#endif  // FEDTINY_COORDINATOR_COORDINATOR_H_
