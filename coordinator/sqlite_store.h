// The embedded Store: SQLite in WAL mode (synchronous=FULL) for metadata, one
// file per model version for blobs, named by task, cluster, version and hash (written temp -> fsync -> rename -> fsync dir
// before the transaction that references them). A crash at any point leaves the
// last committed state intact; at worst an unreferenced blob file.
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
  // Opens or creates `dir`/state.db and `dir`/blobs. kInternal on failure.
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

 private:
  SqliteStore(std::string dir, sqlite3* db) : dir_(std::move(dir)), db_(db) {}
  std::string BlobPath(const VersionRow& v) const;
  absl::Status WriteBlobs(const std::vector<VersionRow>& versions);
  absl::Status InsertVersions(const std::vector<VersionRow>& versions)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status Exec(const char* sql) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::string dir_;
  absl::Mutex mu_;
  sqlite3* db_ ABSL_GUARDED_BY(mu_);
};

}  // namespace fedtiny::coordinator

#endif  // FEDTINY_COORDINATOR_SQLITE_STORE_H_
