// The networked Store: everything in one PostgreSQL database, so several
// coordinator processes (coordinator/replica) can share it. Same semantics and
// codes as SqliteStore: content-addressed blobs (a version's shared prefix and
// the rest, each a row of `blobs` keyed by its SHA-256, stored once), history
// append-only, nothing committed twice (kAlreadyExists from the unique keys).
//
// Blobs are written in the same transaction as the rows that reference them,
// so no crash leaves an orphan behind (CollectGarbage has nothing to find but
// blobs orphaned by hand). Removing unreferenced blobs and committing take a
// transaction-scoped advisory lock (exclusive and shared) so a removal never
// deletes a blob a concurrent commit is about to reference.
//
// Schema set-up runs under an advisory lock: any number of processes may open
// the same database at once.
#ifndef FEDTINY_COORDINATOR_POSTGRES_STORE_H_
#define FEDTINY_COORDINATOR_POSTGRES_STORE_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "coordinator/pg_connection.h"
#include "coordinator/store.h"

namespace fedtiny::coordinator {

// Thread-safe: one connection behind a mutex (calls are serialized; a replica
// that needs more concurrency opens more connections of its own). Owns the
// connection. A connection lost to a server restart is re-established at the
// next call.
class PostgresStore final : public Store {
 public:
  // Connects (blocking) and creates the schema if absent. kUnavailable when the
  // server cannot be reached, kInvalidArgument for a malformed conninfo.
  static absl::StatusOr<std::unique_ptr<PostgresStore>> Open(const std::string& conninfo);

  absl::Status CreateTask(const TaskRow& task, const std::vector<VersionRow>& initial) override;
  absl::Status SetTaskState(const std::string& task, int state) override;
  absl::Status UpdateTaskConfig(const std::string& task, const std::string& config) override;
  absl::Status DeleteTask(const std::string& task) override;
  absl::StatusOr<std::vector<TaskRow>> Tasks() override;
  absl::Status OpenRound(const RoundRow& round) override;
  absl::Status CloseRound(const RoundRow& round, const std::vector<VersionRow>& versions) override;
  absl::StatusOr<int> CollectGarbage() override;
  absl::StatusOr<int> AbandonOpenRounds(int64_t now_ms) override;
  absl::StatusOr<std::vector<RoundRow>> Rounds(const std::string& task, int limit) override;
  absl::StatusOr<int64_t> LastRound(const std::string& task) override;
  absl::StatusOr<std::vector<VersionRow>> Versions(const std::string& task) override;
  absl::StatusOr<std::vector<VersionRow>> LatestVersions(const std::string& task) override;
  absl::Status CommitVersions(const std::vector<VersionRow>& versions) override;
  absl::StatusOr<std::string> ReadBlob(const VersionRow& version) override;
  absl::Status CheckIntegrity() override;
  absl::Status SetPinned(const std::string& task, int32_t cluster, int64_t version,
                         bool pinned) override;
  absl::StatusOr<int> Prune(const std::string& task, int keep) override;
  absl::StatusOr<StorageUse> Usage() override;
  absl::Status AppendAudit(AuditRow& row) override;
  absl::StatusOr<std::vector<AuditRow>> Audit(const std::string& task, int limit) override;

  // Within an open transaction of `conn`: writes the versions' blobs and rows
  // (kAlreadyExists if a version exists), and closes `round` (kAlreadyExists
  // if it is closed already) unless it is null. The replicas' leader calls it
  // inside its fenced transaction.
  static absl::Status CloseRoundIn(PgConnection& conn, const RoundRow* round,
                                   const std::vector<VersionRow>& versions);

 private:
  explicit PostgresStore(std::unique_ptr<PgConnection> conn) : conn_(std::move(conn)) {}
  // Runs `body` in one transaction on the connection (mu_ held).
  absl::Status Tx(const std::function<absl::Status(PgConnection&)>& body,
                  const char* begin = "BEGIN");
  // Reads a version's blob within a transaction.
  static absl::StatusOr<std::string> ReadBlobIn(PgConnection& conn, const VersionRow& v);

  absl::Mutex mu_;
  const std::unique_ptr<PgConnection> conn_ ABSL_PT_GUARDED_BY(mu_);
};

}  // namespace fedtiny::coordinator

#endif  // FEDTINY_COORDINATOR_POSTGRES_STORE_H_
