#include "coordinator/sqlite_store.h"

#include <sqlite3.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <map>
#include <set>

#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "tools/base/atomic_file.h"
#include "tools/base/logging.h"
#include "tools/base/sha256.h"
#include "tools/base/status_macros.h"

namespace fedtiny::coordinator {

namespace {

constexpr char kSchema[] = R"sql(
CREATE TABLE IF NOT EXISTS tasks(
  name TEXT PRIMARY KEY, config BLOB NOT NULL, state INTEGER NOT NULL,
  created_ms INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS rounds(
  task TEXT NOT NULL, round INTEGER NOT NULL, state INTEGER NOT NULL,
  opened_ms INTEGER NOT NULL, closed_ms INTEGER NOT NULL, info BLOB,
  PRIMARY KEY(task, round));
CREATE TABLE IF NOT EXISTS versions(
  task TEXT NOT NULL, cluster INTEGER NOT NULL, version INTEGER NOT NULL,
  parent INTEGER NOT NULL, round INTEGER NOT NULL, aggregator TEXT NOT NULL,
  participants INTEGER NOT NULL, sha256 TEXT NOT NULL, size INTEGER NOT NULL,
  committed_ms INTEGER NOT NULL, optimizer BLOB,
  PRIMARY KEY(task, cluster, version));
)sql";

// The status for a failed SQLite call: a violated constraint is kAlreadyExists
// (nothing is written twice), a damaged file kDataLoss, anything else kInternal.
absl::Status SqliteError(int rc, absl::string_view message) {
  const std::string what = absl::StrCat("sqlite: ", message);
  switch (rc & 0xff) {  // The primary result code.
    case SQLITE_CONSTRAINT:
      return absl::AlreadyExistsError(what);
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return absl::DataLossError(what);
    default:
      return absl::InternalError(what);
  }
}

// A prepared statement, finalized on destruction. Not thread-safe.
class Stmt {
 public:
  Stmt(sqlite3* db, const char* sql) : db_(db) {
    rc_ = sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr);
  }
  ~Stmt() { sqlite3_finalize(stmt_); }
  Stmt& Bind(int i, int64_t v) {
    if (ok()) rc_ = sqlite3_bind_int64(stmt_, i, v);
    return *this;
  }
  Stmt& Bind(int i, const std::string& v) {
    if (ok()) rc_ = sqlite3_bind_blob(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Stmt& BindText(int i, const std::string& v) {
    if (ok()) rc_ = sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  // Steps once: true while a row is available.
  bool Step() {
    if (!ok()) return false;
    rc_ = sqlite3_step(stmt_);
    return rc_ == SQLITE_ROW;
  }
  absl::Status Run() {
    Step();
    return Done();
  }
  absl::Status Done() const {
    if (rc_ == SQLITE_DONE || rc_ == SQLITE_ROW || rc_ == SQLITE_OK) return absl::OkStatus();
    return SqliteError(rc_, sqlite3_errmsg(db_));
  }
  int64_t Int(int c) const { return sqlite3_column_int64(stmt_, c); }
  std::string Blob(int c) const {
    const void* p = sqlite3_column_blob(stmt_, c);
    return p == nullptr ? std::string()
                        : std::string(static_cast<const char*>(p), sqlite3_column_bytes(stmt_, c));
  }

 private:
  bool ok() const { return rc_ == SQLITE_OK || rc_ == SQLITE_ROW; }
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
  int rc_;
};

absl::Status MakeDir(const std::string& path) {
  if (mkdir(path.c_str(), 0755) != 0 && errno != EEXIST) {
    return absl::InternalError(absl::StrCat("cannot create ", path, ": ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

VersionRow ReadVersion(const Stmt& s) {
  VersionRow v;
  v.task = s.Blob(0);
  v.cluster = static_cast<int32_t>(s.Int(1));
  v.version = s.Int(2);
  v.parent_version = s.Int(3);
  v.round = s.Int(4);
  v.aggregator = s.Blob(5);
  v.participants = static_cast<int32_t>(s.Int(6));
  v.sha256_hex = s.Blob(7);
  v.size_bytes = s.Int(8);
  v.committed_ms = s.Int(9);
  v.optimizer_state = s.Blob(10);
  return v;
}

constexpr char kVersionColumns[] =
    "task, cluster, version, parent, round, aggregator, participants, sha256, size, "
    "committed_ms, optimizer";

// Takes an exclusive, non-blocking lock on `dir`/LOCK; the fd keeps it.
absl::StatusOr<int> LockDirectory(const std::string& dir) {
  const std::string path = dir + "/LOCK";
  const int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return absl::InternalError(absl::StrCat("cannot open ", path, ": ", std::strerror(errno)));
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    close(fd);
    if (err == EWOULDBLOCK) {
      return absl::FailedPreconditionError(absl::StrCat(
          "data directory ", dir, " is in use by another coordinator (", path, " is locked)"));
    }
    return absl::InternalError(absl::StrCat("cannot lock ", path, ": ", std::strerror(err)));
  }
  return fd;
}

// Model files under `blobs`, by name; or, with `temporaries`, the temporary
// files of writes that never reached their rename (always safe to delete).
absl::StatusOr<std::vector<std::string>> ListBlobs(const std::string& blobs,
                                                   bool temporaries = false) {
  DIR* d = opendir(blobs.c_str());
  if (d == nullptr) return absl::InternalError(absl::StrCat("cannot list ", blobs));
  std::vector<std::string> out;
  while (dirent* e = readdir(d)) {
    const std::string name = e->d_name;
    const bool model = name.size() > 6 && name.compare(name.size() - 6, 6, ".model") == 0;
    const bool temporary = name.find(".model.tmp.") != std::string::npos;
    if (temporaries ? temporary : model) out.push_back(name);
  }
  closedir(d);
  return out;
}

// Parses "<task>-c<cluster>-v<version>-<hash16>.model" (see BlobPath).
bool ParseBlobName(const std::string& name, std::string* task, int64_t* cluster, int64_t* version) {
  std::vector<std::string> parts = absl::StrSplit(name.substr(0, name.size() - 6), '-');
  if (parts.size() < 4) return false;
  const std::string& c = parts[parts.size() - 3];
  const std::string& v = parts[parts.size() - 2];
  if (c.size() < 2 || c[0] != 'c' || v.size() < 2 || v[0] != 'v') return false;
  if (!absl::SimpleAtoi(c.substr(1), cluster) || !absl::SimpleAtoi(v.substr(1), version)) return false;
  task->clear();
  for (size_t i = 0; i + 3 < parts.size(); ++i) absl::StrAppend(task, i ? "-" : "", parts[i]);
  return true;
}

}  // namespace

absl::StatusOr<std::unique_ptr<SqliteStore>> SqliteStore::Open(const std::string& dir) {
  RETURN_IF_ERROR(MakeDir(dir));
  RETURN_IF_ERROR(MakeDir(dir + "/blobs"));
  ASSIGN_OR_RETURN(int lock_fd, LockDirectory(dir));
  absl::StatusOr<std::unique_ptr<SqliteStore>> store = OpenLocked(dir, lock_fd);
  if (!store.ok()) close(lock_fd);
  return store;
}

absl::StatusOr<std::unique_ptr<SqliteStore>> SqliteStore::OpenLocked(const std::string& dir,
                                                                     int lock_fd) {
  const std::string path = dir + "/state.db";
  ASSIGN_OR_RETURN(std::vector<std::string> blobs, ListBlobs(dir + "/blobs"));
  struct stat st;
  const bool db_present = stat(path.c_str(), &st) == 0 && st.st_size > 0;
  if (!db_present && !blobs.empty()) {
    return absl::DataLossError(absl::StrCat(
        path, " is missing or empty but ", dir, "/blobs holds ", blobs.size(),
        " model file(s): refusing to start on an empty state (restore state.db, or move "
        "blobs/ away to start afresh)"));
  }
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                      nullptr) != SQLITE_OK) {
    const std::string why = db ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    return absl::InternalError(absl::StrCat("cannot open ", path, ": ", why));
  }
  std::unique_ptr<SqliteStore> store(new SqliteStore(dir, db, lock_fd));
  absl::MutexLock lock(&store->mu_);
  sqlite3_busy_timeout(db, 5000);
  {
    Stmt s(db, "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'versions'");
    const bool has_schema = s.Step() && s.Int(0) > 0;
    RETURN_IF_ERROR(s.Done());
    if (!has_schema && !blobs.empty()) {
      return absl::DataLossError(absl::StrCat(
          path, " holds no fedtiny state but ", dir, "/blobs holds ", blobs.size(),
          " model file(s): refusing to start on an empty state"));
    }
  }
  RETURN_IF_ERROR(store->Exec("PRAGMA journal_mode=WAL;"));
  RETURN_IF_ERROR(store->Exec("PRAGMA synchronous=FULL;"));
  RETURN_IF_ERROR(store->Exec(kSchema));
  return store;
}

SqliteStore::~SqliteStore() {
  {
    absl::MutexLock lock(&mu_);
    sqlite3_close(db_);
  }
  close(lock_fd_);  // Releases the directory lock.
}

absl::Status SqliteStore::Exec(const char* sql) {
  char* err = nullptr;
  if (const int rc = sqlite3_exec(db_, sql, nullptr, nullptr, &err); rc != SQLITE_OK) {
    absl::Status s = SqliteError(rc, err ? err : "error");
    sqlite3_free(err);
    return s;
  }
  return absl::OkStatus();
}

std::string SqliteStore::BlobPath(const VersionRow& v) const {
  // Task names are validated ([a-z0-9-]) before they reach the store. The hash in
  // the name means a write that is later refused (e.g. a duplicate version) can
  // never replace the blob of a committed version.
  return absl::StrCat(dir_, "/blobs/", v.task, "-c", v.cluster, "-v", v.version, "-",
                      v.sha256_hex.substr(0, 16), ".model");
}

absl::Status SqliteStore::WriteBlobs(const std::vector<VersionRow>& versions) {
  for (const VersionRow& v : versions) {
    RETURN_IF_ERROR(WriteFileAtomically(BlobPath(v), v.model));
  }
  return absl::OkStatus();
}

absl::Status SqliteStore::InsertVersions(const std::vector<VersionRow>& versions) {
  for (const VersionRow& v : versions) {
    Stmt s(db_, "INSERT INTO versions VALUES(?,?,?,?,?,?,?,?,?,?,?)");
    s.BindText(1, v.task).Bind(2, v.cluster).Bind(3, v.version).Bind(4, v.parent_version)
        .Bind(5, v.round).BindText(6, v.aggregator).Bind(7, v.participants)
        .BindText(8, v.sha256_hex).Bind(9, v.size_bytes).Bind(10, v.committed_ms)
        .Bind(11, v.optimizer_state);
    RETURN_IF_ERROR(s.Run());
  }
  return absl::OkStatus();
}

absl::Status SqliteStore::CreateTask(const TaskRow& task, const std::vector<VersionRow>& initial) {
  RETURN_IF_ERROR(WriteBlobs(initial));
  absl::MutexLock lock(&mu_);
  RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE;"));
  Stmt s(db_, "INSERT INTO tasks VALUES(?,?,?,?)");
  s.BindText(1, task.name).Bind(2, task.config).Bind(3, task.state).Bind(4, task.created_ms);
  absl::Status st = s.Run();
  if (st.ok()) st = InsertVersions(initial);
  if (!st.ok()) {
    (void)Exec("ROLLBACK;");
    return st;
  }
  return Exec("COMMIT;");
}

absl::Status SqliteStore::SetTaskState(const std::string& task, int state) {
  absl::MutexLock lock(&mu_);
  Stmt s(db_, "UPDATE tasks SET state = ? WHERE name = ?");
  s.Bind(1, state).BindText(2, task);
  RETURN_IF_ERROR(s.Run());
  if (sqlite3_changes(db_) == 0) return absl::NotFoundError(absl::StrCat("no task ", task));
  return absl::OkStatus();
}

absl::StatusOr<std::vector<TaskRow>> SqliteStore::Tasks() {
  absl::MutexLock lock(&mu_);
  Stmt s(db_, "SELECT name, config, state, created_ms FROM tasks ORDER BY created_ms, name");
  std::vector<TaskRow> out;
  while (s.Step()) out.push_back(TaskRow{s.Blob(0), s.Blob(1), static_cast<int>(s.Int(2)), s.Int(3)});
  RETURN_IF_ERROR(s.Done());
  return out;
}

absl::Status SqliteStore::OpenRound(const RoundRow& r) {
  absl::MutexLock lock(&mu_);
  Stmt s(db_, "INSERT INTO rounds VALUES(?,?,?,?,?,?)");
  s.BindText(1, r.task).Bind(2, r.round).Bind(3, static_cast<int>(RoundState::kOpen))
      .Bind(4, r.opened_ms).Bind(5, 0).Bind(6, r.info);
  return s.Run();
}

absl::Status SqliteStore::CloseRound(const RoundRow& r, const std::vector<VersionRow>& versions) {
  RETURN_IF_ERROR(WriteBlobs(versions));
  absl::MutexLock lock(&mu_);
  RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE;"));
  absl::Status st = InsertVersions(versions);
  if (st.ok()) {
    Stmt s(db_,
           "INSERT INTO rounds VALUES(?,?,?,?,?,?) ON CONFLICT(task, round) DO UPDATE SET "
           "state = excluded.state, closed_ms = excluded.closed_ms, info = excluded.info "
           "WHERE rounds.state = 1");
    s.BindText(1, r.task).Bind(2, r.round).Bind(3, static_cast<int>(r.state))
        .Bind(4, r.opened_ms).Bind(5, r.closed_ms).Bind(6, r.info);
    st = s.Run();
    if (st.ok() && sqlite3_changes(db_) == 0) {
      st = absl::AlreadyExistsError(absl::StrCat("round ", r.round, " of ", r.task, " is already closed"));
    }
  }
  if (!st.ok()) {
    (void)Exec("ROLLBACK;");
    return st;
  }
  return Exec("COMMIT;");
}

absl::StatusOr<int> SqliteStore::CollectGarbage() {
  std::set<std::string> referenced;
  std::map<std::pair<std::string, int64_t>, int64_t> newest;  // (task, cluster) -> version
  {
    absl::MutexLock lock(&mu_);
    Stmt s(db_, absl::StrCat("SELECT ", kVersionColumns, " FROM versions").c_str());
    while (s.Step()) {
      const VersionRow v = ReadVersion(s);
      referenced.insert(BlobPath(v));
      int64_t& n = newest.try_emplace({v.task, v.cluster}, -1).first->second;
      n = std::max(n, v.version);
    }
    RETURN_IF_ERROR(s.Done());
  }
  const std::string blobs = dir_ + "/blobs";
  ASSIGN_OR_RETURN(std::vector<std::string> names, ListBlobs(blobs));
  ASSIGN_OR_RETURN(std::vector<std::string> temporaries, ListBlobs(blobs, /*temporaries=*/true));
  int removed = 0;
  for (const std::string& name : temporaries) removed += unlink((blobs + "/" + name).c_str()) == 0;
  for (const std::string& name : names) {
    const std::string path = blobs + "/" + name;
    std::string task;
    int64_t cluster = 0, version = 0;
    if (referenced.count(path) || !ParseBlobName(name, &task, &cluster, &version)) continue;
    auto it = newest.find({task, cluster});
    const int64_t committed = it == newest.end() ? -1 : it->second;
    // Only a blob newer than everything committed for its line can be the
    // leftover of an interrupted commit; anything else is kept for a human.
    if (version > committed) {
      removed += unlink(path.c_str()) == 0;
    } else {
      FT_LOG(WARNING) << "keeping unreferenced blob " << path << " (not newer than version "
                      << committed << " of its line)";
    }
  }
  return removed;
}

absl::Status SqliteStore::CommitVersions(const std::vector<VersionRow>& versions) {
  RETURN_IF_ERROR(WriteBlobs(versions));
  absl::MutexLock lock(&mu_);
  RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE;"));
  absl::Status st = InsertVersions(versions);
  if (!st.ok()) {
    (void)Exec("ROLLBACK;");
    return st;
  }
  return Exec("COMMIT;");
}

absl::StatusOr<std::string> SqliteStore::ReadBlob(const VersionRow& v) {
  absl::StatusOr<std::string> blob = ReadFile(BlobPath(v));
  if (!blob.ok()) {
    return absl::DataLossError(absl::StrCat("model blob of ", v.task, " cluster ", v.cluster,
                                            " version ", v.version, ": ", blob.status().message()));
  }
  ASSIGN_OR_RETURN(Sha256Digest d, Sha256(*blob));
  if (DigestToHex(d) != v.sha256_hex) {
    return absl::DataLossError(absl::StrCat("model blob of ", v.task, " cluster ", v.cluster,
                                            " version ", v.version, " fails its SHA-256"));
  }
  return blob;
}

absl::Status SqliteStore::CheckIntegrity() {
  absl::MutexLock lock(&mu_);
  Stmt s(db_, "PRAGMA integrity_check");
  std::string result;
  while (s.Step()) absl::StrAppend(&result, result.empty() ? "" : "; ", s.Blob(0));
  RETURN_IF_ERROR(s.Done());
  if (result != "ok") {
    return absl::DataLossError(absl::StrCat(dir_, "/state.db fails SQLite's integrity check: ",
                                            result.substr(0, 500)));
  }
  return absl::OkStatus();
}

absl::StatusOr<int> SqliteStore::AbandonOpenRounds(int64_t now_ms) {
  absl::MutexLock lock(&mu_);
  Stmt s(db_, "UPDATE rounds SET state = ?, closed_ms = ? WHERE state = ?");
  s.Bind(1, static_cast<int>(RoundState::kAbandoned)).Bind(2, now_ms)
      .Bind(3, static_cast<int>(RoundState::kOpen));
  RETURN_IF_ERROR(s.Run());
  return sqlite3_changes(db_);
}

absl::StatusOr<std::vector<RoundRow>> SqliteStore::Rounds(const std::string& task, int limit) {
  absl::MutexLock lock(&mu_);
  Stmt s(db_, "SELECT task, round, state, opened_ms, closed_ms, info FROM rounds "
              "WHERE task = ? ORDER BY round DESC LIMIT ?");
  s.BindText(1, task).Bind(2, limit > 0 ? limit : -1);
  std::vector<RoundRow> out;
  while (s.Step()) {
    out.push_back(RoundRow{s.Blob(0), s.Int(1), static_cast<RoundState>(s.Int(2)), s.Int(3),
                           s.Int(4), s.Blob(5)});
  }
  RETURN_IF_ERROR(s.Done());
  return out;
}

absl::StatusOr<int64_t> SqliteStore::LastRound(const std::string& task) {
  absl::MutexLock lock(&mu_);
  Stmt s(db_, "SELECT COALESCE(MAX(round), 0) FROM rounds WHERE task = ?");
  s.BindText(1, task);
  const int64_t last = s.Step() ? s.Int(0) : 0;
  RETURN_IF_ERROR(s.Done());
  return last;
}

absl::StatusOr<std::vector<VersionRow>> SqliteStore::Versions(const std::string& task) {
  absl::MutexLock lock(&mu_);
  Stmt s(db_, absl::StrCat("SELECT ", kVersionColumns,
                           " FROM versions WHERE task = ? ORDER BY version, cluster").c_str());
  s.BindText(1, task);
  std::vector<VersionRow> out;
  while (s.Step()) out.push_back(ReadVersion(s));
  RETURN_IF_ERROR(s.Done());
  return out;
}

absl::StatusOr<std::vector<VersionRow>> SqliteStore::LatestVersions(const std::string& task) {
  std::vector<VersionRow> out;
  {
    absl::MutexLock lock(&mu_);
    Stmt s(db_, absl::StrCat("SELECT ", kVersionColumns,
                             " FROM versions v WHERE task = ? AND version = (SELECT MAX(version) "
                             "FROM versions w WHERE w.task = v.task AND w.cluster = v.cluster) "
                             "ORDER BY cluster").c_str());
    s.BindText(1, task);
    while (s.Step()) out.push_back(ReadVersion(s));
    RETURN_IF_ERROR(s.Done());
  }
  for (VersionRow& v : out) {
    ASSIGN_OR_RETURN(v.model, ReadBlob(v));
  }
  return out;
}

}  // namespace fedtiny::coordinator
