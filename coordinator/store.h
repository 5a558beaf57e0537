// Durable state behind an interface: tasks, rounds, model versions (lineage +
// blob + server optimizer state), the operators' audit log. SqliteStore is the
// embedded default; a networked database can implement the same interface.
//
// Model blobs are content-addressed: a version's leading bytes that other
// versions share (the frozen body, VersionRow::shared_prefix_bytes) are stored
// once. History is append-only: retention (Prune) removes old blobs, never the
// rows that record what was committed.
#ifndef FEDTINY_COORDINATOR_STORE_H_
#define FEDTINY_COORDINATOR_STORE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace fedtiny::coordinator {

enum class RoundState { kOpen = 1, kCommitted = 2, kAbandoned = 3 };

struct TaskRow {
  std::string name;
  std::string config;  // Serialized v1::TaskConfig.
  int state = 1;       // v1::TaskState.
  int64_t created_ms = 0;
};

struct RoundRow {
  std::string task;
  int64_t round = 0;
  RoundState state = RoundState::kOpen;
  int64_t opened_ms = 0;
  int64_t closed_ms = 0;
  std::string info;  // Serialized v1::RoundInfo.
};

struct VersionRow {
  std::string task;
  int32_t cluster = 0;
  int64_t version = 0;
  int64_t parent_version = 0;
  int64_t round = 0;
  std::string aggregator;
  int32_t participants = 0;
  std::string sha256_hex;  // Of `model`.
  int64_t size_bytes = 0;
  int64_t committed_ms = 0;
  std::string optimizer_state;
  std::string model;  // Serialized v1::Model; empty when listed without blobs.
  // In: how many leading bytes of `model` other versions share (the serialized
  // frozen body; 0 = none). Stored once, whichever version wrote them first.
  int64_t shared_prefix_bytes = 0;
  bool pinned = false;  // Out: retention never prunes it.
  bool pruned = false;  // Out: retention removed its blob; the row stays.
};

// One state-changing Admin call (docs/cli.md, "Audit log").
struct AuditRow {
  int64_t seq = 0;      // Assigned by AppendAudit, increasing.
  int64_t time_ms = 0;
  std::string who;      // Token name or client certificate subject.
  std::string action;   // e.g. "PauseTask".
  std::string task;
  std::string detail;   // What was asked, e.g. "cluster=0 to_version=3".
  std::string outcome;  // "ok" or the error.
};

// What the stored blobs take on disk (or in memory).
struct StorageUse {
  int64_t blobs = 0;
  int64_t bytes = 0;
};

// Implementations are thread-safe.
class Store {
 public:
  virtual ~Store() = default;

  // Creates the task and its version 0 models in one transaction.
  // kAlreadyExists when the name is taken.
  virtual absl::Status CreateTask(const TaskRow& task, const std::vector<VersionRow>& initial) = 0;
  // kNotFound when the task does not exist (for every call naming a task that
  // writes).
  virtual absl::Status SetTaskState(const std::string& task, int state) = 0;
  // Replaces the stored config (the caller validated what may change).
  virtual absl::Status UpdateTaskConfig(const std::string& task, const std::string& config) = 0;
  // Removes the task, its rounds and versions in one transaction, then every
  // blob no other version references.
  virtual absl::Status DeleteTask(const std::string& task) = 0;
  virtual absl::StatusOr<std::vector<TaskRow>> Tasks() = 0;

  // Records that a round opened (so a crash leaves a trace to abandon).
  virtual absl::Status OpenRound(const RoundRow& round) = 0;
  // Closes a round: commits its versions (blobs first, then one transaction) or
  // marks it abandoned (no versions). kAlreadyExists if a version exists already:
  // nothing is committed twice.
  virtual absl::Status CloseRound(const RoundRow& round, const std::vector<VersionRow>& versions) = 0;
  // Deletes stored blobs provably left by a crash between writing a blob and the
  // transaction that would have referenced it: unreferenced, and newer than the
  // newest committed version of their task and cluster. Never anything else.
  // Call at start-up, before anything commits. Returns how many were removed.
  virtual absl::StatusOr<int> CollectGarbage() = 0;
  // Appends versions outside a round (a start-up rollback): blobs first, then
  // one transaction. kAlreadyExists if a version exists already.
  virtual absl::Status CommitVersions(const std::vector<VersionRow>& versions) = 0;
  // The stored model of a listed version, hash-verified: kDataLoss when the file
  // is missing, truncated or altered; kNotFound when retention pruned it.
  virtual absl::StatusOr<std::string> ReadBlob(const VersionRow& version) = 0;
  // The metadata store's own consistency check (kDataLoss when it fails).
  virtual absl::Status CheckIntegrity() = 0;
  // Marks every round still open as abandoned (at start-up); returns how many.
  virtual absl::StatusOr<int> AbandonOpenRounds(int64_t now_ms) = 0;
  virtual absl::StatusOr<std::vector<RoundRow>> Rounds(const std::string& task, int limit) = 0;
  // The largest round number recorded for the task (0 if none).
  virtual absl::StatusOr<int64_t> LastRound(const std::string& task) = 0;

  // Every version's lineage (no blobs), oldest first.
  virtual absl::StatusOr<std::vector<VersionRow>> Versions(const std::string& task) = 0;
  // The newest version of each cluster, with its blob (hash-verified: kDataLoss
  // when the file is missing, truncated or altered) and optimizer state.
  virtual absl::StatusOr<std::vector<VersionRow>> LatestVersions(const std::string& task) = 0;

  // Pins or unpins one version (kNotFound if absent; kFailedPrecondition to pin
  // a pruned one).
  virtual absl::Status SetPinned(const std::string& task, int32_t cluster, int64_t version,
                                 bool pinned) = 0;
  // Retention: marks pruned every version of `task` that is neither among the
  // newest `keep` of its cluster nor pinned, then removes every blob no
  // unpruned version references. Returns how many versions it newly pruned.
  virtual absl::StatusOr<int> Prune(const std::string& task, int keep) = 0;
  virtual absl::StatusOr<StorageUse> Usage() = 0;

  // Appends to the audit log (durably) and sets row.seq.
  virtual absl::Status AppendAudit(AuditRow& row) = 0;
  // Newest first; `task` "" = every task; `limit` 0 = all.
  virtual absl::StatusOr<std::vector<AuditRow>> Audit(const std::string& task, int limit) = 0;
};

}  // namespace fedtiny::coordinator

#endif  // FEDTINY_COORDINATOR_STORE_H_
