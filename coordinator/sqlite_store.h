// The embedded Store: SQLite in WAL mode (synchronous=FULL) for metadata, one
// file per model version for blobs, named by task, cluster, version and hash (written temp -> fsync -> rename -> fsync dir
// before the transaction that references them). A crash at any point leaves the
// last committed state intact; at worst an unreferenced blob file.
//
// The directory is held with an exclusive lock (`dir`/LOCK, flock) while the store
// is open, so two coordinators never share it. A missing or empty state.db beside
// existing blob files is refused (kDataLoss), never treated as a fresh start.
#ifndef FEDTINY_COORDINATOR_SQLITE_STORE_H_
#define FEDTINY_COORDINATOR_SQLITE_STORE_H_

#include <memory>
#include <string>

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

 private:
  SqliteStore(std::string dir, sqlite3* db, int lock_fd)
      : dir_(std::move(dir)), lock_fd_(lock_fd), db_(db) {}
  static absl::StatusOr<std::unique_ptr<SqliteStore>> OpenLocked(const std::string& dir,
                                                                  int lock_fd);
  std::string BlobPath(const VersionRow& v) const;
  absl::Status WriteBlobs(const std::vector<VersionRow>& versions);
  absl::Status InsertVersions(const std::vector<VersionRow>& versions)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status Exec(const char* sql) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::string dir_;
  const int lock_fd_;  // Holds the directory's flock until destruction.
  absl::Mutex mu_;
  sqlite3* db_ ABSL_GUARDED_BY(mu_);
};

}  // namespace fedtiny::coordinator

#endif  // FEDTINY_COORDINATOR_SQLITE_STORE_H_
