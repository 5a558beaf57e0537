// Durable state behind an interface: tasks, rounds, model versions (lineage +
// blob + server optimizer state). SqliteStore is the embedded default; a
// networked database can implement the same interface.
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
};

// Implementations are thread-safe.
class Store {
 public:
  virtual ~Store() = default;

  // Creates the task and its version 0 models in one transaction.
  // kAlreadyExists when the name is taken.
  virtual absl::Status CreateTask(const TaskRow& task, const std::vector<VersionRow>& initial) = 0;
  virtual absl::Status SetTaskState(const std::string& task, int state) = 0;
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
  // is missing, truncated or altered.
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
};

}  // namespace fedtiny::coordinator

#endif  // FEDTINY_COORDINATOR_STORE_H_
