// The embedded Store: SQLite in WAL mode (synchronous=FULL) for metadata, and
// content-addressed files for blobs: a version's model is stored as its parts
// (the shared frozen body, then the rest), each in blobs/<sha256>.blob, written
// temp -> fsync -> rename -> fsync dir before the transaction that references
// them, and shared by every version with the same bytes. A crash at any point
// leaves the last committed state intact; at worst an unreferenced blob file,
// which CollectGarbage removes. Stores made before this layout keep reading
// their one-file-per-version blobs (<task>-c<k>-v<v>-<hash16>.model).
//
// The directory is held with an exclusive lock (`dir`/LOCK, flock) while the store
// is open, so two coordinators never share it. A missing or empty state.db beside
// existing blob files is refused (kDataLoss), never treated as a fresh start.
#ifndef FEDTINY_COORDINATOR_SQLITE_STORE_H_
#define FEDTINY_COORDINATOR_SQLITE_STORE_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "coordinator/store.h"

struct sqlite3;

namespace fedtiny::coordinator {

// Thread-safe: one connection behind a mutex. Owns the connection.
class SqliteStore final : public Store {
 public:
  // Opens or creates `dir`/state.db and `dir`/blobs. kFailedPrecondition when
  // another process holds the directory; kDataLoss when state.db is missing or
  // empty while blobs/ holds models; kInternal on other failures.
  static absl::StatusOr<std::unique_ptr<SqliteStore>> Open(const std::string& dir);
  ~SqliteStore() override;

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

 private:
  SqliteStore(std::string dir, sqlite3* db, int lock_fd)
      : dir_(std::move(dir)), lock_fd_(lock_fd), db_(db) {}
  static absl::StatusOr<std::unique_ptr<SqliteStore>> OpenLocked(const std::string& dir,
                                                                  int lock_fd);
  std::string LegacyBlobPath(const VersionRow& v) const;
  std::string PartPath(const std::string& sha256_hex) const;
  // Writes the parts of each version not stored yet; returns each version's
  // part list ("<hex>,<hex>").
  absl::StatusOr<std::vector<std::string>> WriteBlobs(const std::vector<VersionRow>& versions)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(blob_mu_);
  absl::Status InsertVersions(const std::vector<VersionRow>& versions,
                              const std::vector<std::string>& parts)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status CheckTaskExists(const std::string& task) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // BEGIN IMMEDIATE; body; COMMIT, or ROLLBACK when body fails.
  absl::Status InTransaction(const std::function<absl::Status()>& body)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Deletes every part file no unpruned version references.
  absl::StatusOr<int> RemoveUnreferencedParts() ABSL_EXCLUSIVE_LOCKS_REQUIRED(blob_mu_)
      ABSL_LOCKS_EXCLUDED(mu_);
  absl::Status Exec(const char* sql) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::string dir_;
  const int lock_fd_;  // Holds the directory's flock until destruction.
  // Held from writing a commit's blob files to its transaction's end, and while
  // unreferenced blob files are removed, so a removal never races a commit that
  // is about to reference a file (taken before mu_).
  absl::Mutex blob_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  absl::Mutex mu_;
  sqlite3* db_ ABSL_GUARDED_BY(mu_);
};

}  // namespace fedtiny::coordinator

#endif  // FEDTINY_COORDINATOR_SQLITE_STORE_H_
