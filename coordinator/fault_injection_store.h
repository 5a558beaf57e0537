// A Store that forwards to a real one and fails chosen calls on demand, the way
// LevelDB's FaultInjectionTestEnv fails writes: tests use it to show that a
// failed write (a full disk, a lost volume) leaves the coordinator's memory
// exactly at what the store holds.
#ifndef FEDTINY_COORDINATOR_FAULT_INJECTION_STORE_H_
#define FEDTINY_COORDINATOR_FAULT_INJECTION_STORE_H_

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "coordinator/store.h"

namespace fedtiny::coordinator {

// Thread-safe as the wrapped store is. Owns the wrapped store; the switches are
// atomics a test may flip from any thread while the store is in use.
class FaultInjectionStore final : public Store {
 public:
  explicit FaultInjectionStore(std::unique_ptr<Store> base) : base_(std::move(base)) {}

  // While set, every write (CreateTask, SetTaskState, UpdateTaskConfig,
  // DeleteTask, OpenRound, CloseRound, CommitVersions, SetPinned, Prune,
  // AppendAudit) fails with kResourceExhausted and changes nothing.
  std::atomic<bool> fail_writes{false};
  // How many writes failed because of fail_writes.
  std::atomic<int> failed_writes{0};
  // When set, called at the start of every CloseRound (tests block a commit here).
  std::function<void()> on_close_round;

  absl::Status CreateTask(const TaskRow& task, const std::vector<VersionRow>& initial) override {
    if (Fail()) return Full();
    return base_->CreateTask(task, initial);
  }
  absl::Status SetTaskState(const std::string& task, int state) override {
    if (Fail()) return Full();
    return base_->SetTaskState(task, state);
  }
  absl::Status UpdateTaskConfig(const std::string& task, const std::string& config) override {
    if (Fail()) return Full();
    return base_->UpdateTaskConfig(task, config);
  }
  absl::Status DeleteTask(const std::string& task) override {
    if (Fail()) return Full();
    return base_->DeleteTask(task);
  }
  absl::StatusOr<std::vector<TaskRow>> Tasks() override { return base_->Tasks(); }
  absl::Status OpenRound(const RoundRow& round) override {
    if (Fail()) return Full();
    return base_->OpenRound(round);
  }
  absl::Status CloseRound(const RoundRow& round, const std::vector<VersionRow>& versions) override {
    if (on_close_round) on_close_round();
    if (Fail()) return Full();
    return base_->CloseRound(round, versions);
  }
  absl::StatusOr<int> CollectGarbage() override { return base_->CollectGarbage(); }
  absl::Status CommitVersions(const std::vector<VersionRow>& versions) override {
    if (Fail()) return Full();
    return base_->CommitVersions(versions);
  }
  absl::StatusOr<std::string> ReadBlob(const VersionRow& version) override {
    return base_->ReadBlob(version);
  }
  absl::Status CheckIntegrity() override { return base_->CheckIntegrity(); }
  absl::StatusOr<int> AbandonOpenRounds(int64_t now_ms) override {
    return base_->AbandonOpenRounds(now_ms);
  }
  absl::StatusOr<std::vector<RoundRow>> Rounds(const std::string& task, int limit) override {
    return base_->Rounds(task, limit);
  }
  absl::StatusOr<int64_t> LastRound(const std::string& task) override {
    return base_->LastRound(task);
  }
  absl::StatusOr<std::vector<VersionRow>> Versions(const std::string& task) override {
    return base_->Versions(task);
  }
  absl::StatusOr<std::vector<VersionRow>> LatestVersions(const std::string& task) override {
    return base_->LatestVersions(task);
  }
  absl::Status SetPinned(const std::string& task, int32_t cluster, int64_t version,
                         bool pinned) override {
    if (Fail()) return Full();
    return base_->SetPinned(task, cluster, version, pinned);
  }
  absl::StatusOr<int> Prune(const std::string& task, int keep) override {
    if (Fail()) return Full();
    return base_->Prune(task, keep);
  }
  absl::StatusOr<StorageUse> Usage() override { return base_->Usage(); }
  absl::Status AppendAudit(AuditRow& row) override {
    if (Fail()) return Full();
    return base_->AppendAudit(row);
  }
  absl::StatusOr<std::vector<AuditRow>> Audit(const std::string& task, int limit) override {
    return base_->Audit(task, limit);
  }

 private:
  bool Fail() {
    if (!fail_writes.load()) return false;
    ++failed_writes;
    return true;
  }
  static absl::Status Full() {
    return absl::ResourceExhaustedError("injected fault: no space left on device");
  }

  const std::unique_ptr<Store> base_;
};

}  // namespace fedtiny::coordinator

#endif  // FEDTINY_COORDINATOR_FAULT_INJECTION_STORE_H_
