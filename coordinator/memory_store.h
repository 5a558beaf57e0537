// A Store in memory, with SqliteStore's semantics (constraints, ordering, hash
// checks on read) and no durability: the simulator's store, and a reference
// for the Store contract in tests.
#ifndef FEDTINY_COORDINATOR_MEMORY_STORE_H_
#define FEDTINY_COORDINATOR_MEMORY_STORE_H_

#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "coordinator/store.h"

namespace fedtiny::coordinator {

// Thread-safe (one mutex). Owns its rows and blobs.
class MemoryStore final : public Store {
 public:
  absl::Status CreateTask(const TaskRow& task, const std::vector<VersionRow>& initial) override;
  absl::Status SetTaskState(const std::string& task, int state) override;
  absl::Status UpdateTaskConfig(const std::string& task, const std::string& config) override;
  absl::Status DeleteTask(const std::string& task) override;
  absl::StatusOr<std::vector<TaskRow>> Tasks() override;
  absl::Status OpenRound(const RoundRow& round) override;
  absl::Status CloseRound(const RoundRow& round, const std::vector<VersionRow>& versions) override;
  absl::StatusOr<int> CollectGarbage() override { return 0; }
  absl::Status CommitVersions(const std::vector<VersionRow>& versions) override;
  absl::StatusOr<std::string> ReadBlob(const VersionRow& version) override;
  absl::Status CheckIntegrity() override { return absl::OkStatus(); }
  absl::StatusOr<int> AbandonOpenRounds(int64_t now_ms) override;
  absl::StatusOr<std::vector<RoundRow>> Rounds(const std::string& task, int limit) override;
  absl::StatusOr<int64_t> LastRound(const std::string& task) override;
  absl::StatusOr<std::vector<VersionRow>> Versions(const std::string& task) override;
  absl::StatusOr<std::vector<VersionRow>> LatestVersions(const std::string& task) override;
  absl::Status SetPinned(const std::string& task, int32_t cluster, int64_t version,
                         bool pinned) override;
  // Drops the pruned versions' models (each version holds its whole model: the
  // simulator's store does not share bodies).
  absl::StatusOr<int> Prune(const std::string& task, int keep) override;
  absl::StatusOr<StorageUse> Usage() override;
  absl::Status AppendAudit(AuditRow& row) override;
  absl::StatusOr<std::vector<AuditRow>> Audit(const std::string& task, int limit) override;

 private:
  absl::Status CheckTaskExists(const std::string& task) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status InsertVersions(const std::vector<VersionRow>& versions)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  absl::Mutex mu_;
  std::map<std::string, TaskRow> tasks_ ABSL_GUARDED_BY(mu_);
  std::map<std::pair<std::string, int64_t>, RoundRow> rounds_ ABSL_GUARDED_BY(mu_);
  // (task, version, cluster) -> row with its blob.
  std::map<std::tuple<std::string, int64_t, int>, VersionRow> versions_ ABSL_GUARDED_BY(mu_);
  std::vector<AuditRow> audit_ ABSL_GUARDED_BY(mu_);
};

}  // namespace fedtiny::coordinator

#endif  // FEDTINY_COORDINATOR_MEMORY_STORE_H_
