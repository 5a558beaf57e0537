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

#include "absl/strings/match.h"
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
  parts TEXT NOT NULL DEFAULT '', pinned INTEGER NOT NULL DEFAULT 0,
  pruned INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY(task, cluster, version));
CREATE TABLE IF NOT EXISTS audit(
  seq INTEGER PRIMARY KEY AUTOINCREMENT, time_ms INTEGER NOT NULL, who TEXT NOT NULL,
  action TEXT NOT NULL, task TEXT NOT NULL, detail TEXT NOT NULL, outcome TEXT NOT NULL);
)sql";

// Stores made before content-addressed blobs lack the versions table's last
// three columns; their rows keep reading their one-file-per-version blobs.
constexpr char kAddPartsColumns[] = R"sql(
ALTER TABLE versions ADD COLUMN parts TEXT NOT NULL DEFAULT '';
ALTER TABLE versions ADD COLUMN pinned INTEGER NOT NULL DEFAULT 0;
ALTER TABLE versions ADD COLUMN pruned INTEGER NOT NULL DEFAULT 0;
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
  v.pinned = s.Int(11) != 0;
  v.pruned = s.Int(12) != 0;
  return v;
}

constexpr char kVersionColumns[] =
    "task, cluster, version, parent, round, aggregator, participants, sha256, size, "
    "committed_ms, optimizer, pinned, pruned";

constexpr char kBlobSuffix[] = ".blob";

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
    const bool model = absl::EndsWith(name, ".model") || absl::EndsWith(name, kBlobSuffix);
    const bool temporary = name.find(".model.tmp.") != std::string::npos ||
                           name.find(".blob.tmp.") != std::string::npos;
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
  {
    Stmt s(db, "SELECT COUNT(*) FROM pragma_table_info('versions') WHERE name = 'parts'");
    const bool has_parts = s.Step() && s.Int(0) > 0;
    RETURN_IF_ERROR(s.Done());
    if (!has_parts) RETURN_IF_ERROR(store->Exec(kAddPartsColumns));
  }
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

std::string SqliteStore::LegacyBlobPath(const VersionRow& v) const {
  // Task names are validated ([a-z0-9-]) before they reach the store.
  return absl::StrCat(dir_, "/blobs/", v.task, "-c", v.cluster, "-v", v.version, "-",
                      v.sha256_hex.substr(0, 16), ".model");
}

std::string SqliteStore::PartPath(const std::string& sha256_hex) const {
  return absl::StrCat(dir_, "/blobs/", sha256_hex, kBlobSuffix);
}

absl::StatusOr<std::vector<std::string>> SqliteStore::WriteBlobs(
    const std::vector<VersionRow>& versions) {
  std::vector<std::string> out;
  for (const VersionRow& v : versions) {
    std::vector<absl::string_view> parts;
    const size_t prefix = static_cast<size_t>(std::max<int64_t>(v.shared_prefix_bytes, 0));
    if (prefix > 0 && prefix < v.model.size()) {
      parts = {absl::string_view(v.model).substr(0, prefix),
               absl::string_view(v.model).substr(prefix)};
    } else {
      parts = {v.model};
    }
    std::string names;
    for (absl::string_view part : parts) {
      ASSIGN_OR_RETURN(Sha256Digest d, Sha256(part));
      const std::string hex = DigestToHex(d);
      const std::string path = PartPath(hex);
      struct stat st;
      // Content-addressed: a file of this name and size holds these bytes
      // already (ReadBlob checks every part's hash anyway).
      if (stat(path.c_str(), &st) != 0 || st.st_size != static_cast<off_t>(part.size())) {
        RETURN_IF_ERROR(WriteFileAtomically(path, part));
      }
      absl::StrAppend(&names, names.empty() ? "" : ",", hex);
    }
    out.push_back(std::move(names));
  }
  return out;
}

absl::Status SqliteStore::InsertVersions(const std::vector<VersionRow>& versions,
                                         const std::vector<std::string>& parts) {
  for (size_t i = 0; i < versions.size(); ++i) {
    const VersionRow& v = versions[i];
    Stmt s(db_, "INSERT INTO versions VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
    s.BindText(1, v.task).Bind(2, v.cluster).Bind(3, v.version).Bind(4, v.parent_version)
        .Bind(5, v.round).BindText(6, v.aggregator).Bind(7, v.participants)
        .BindText(8, v.sha256_hex).Bind(9, v.size_bytes).Bind(10, v.committed_ms)
        .Bind(11, v.optimizer_state).BindText(12, parts[i]).Bind(13, v.pinned ? 1 : 0)
        .Bind(14, 0);
    RETURN_IF_ERROR(s.Run());
  }
  return absl::OkStatus();
}

absl::Status SqliteStore::CheckTaskExists(const std::string& task) {
  Stmt s(db_, "SELECT COUNT(*) FROM tasks WHERE name = ?");
  s.BindText(1, task);
  const bool exists = s.Step() && s.Int(0) > 0;
  RETURN_IF_ERROR(s.Done());
  if (!exists) return absl::NotFoundError(absl::StrCat("no task ", task));
  return absl::OkStatus();
}

absl::Status SqliteStore::InTransaction(const std::function<absl::Status()>& body) {
  RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE;"));
  absl::Status st = body();
  if (!st.ok()) {
    (void)Exec("ROLLBACK;");
    return st;
  }
  return Exec("COMMIT;");
}

absl::Status SqliteStore::CreateTask(const TaskRow& task, const std::vector<VersionRow>& initial) {
  absl::MutexLock blobs(&blob_mu_);
  ASSIGN_OR_RETURN(std::vector<std::string> parts, WriteBlobs(initial));
  absl::MutexLock lock(&mu_);
  return InTransaction([&]() -> absl::Status {
    Stmt s(db_, "INSERT INTO tasks VALUES(?,?,?,?)");
    s.BindText(1, task.name).Bind(2, task.config).Bind(3, task.state).Bind(4, task.created_ms);
    RETURN_IF_ERROR(s.Run());
    return InsertVersions(initial, parts);
  });
}

absl::Status SqliteStore::SetTaskState(const std::string& task, int state) {
  absl::MutexLock lock(&mu_);
  Stmt s(db_, "UPDATE tasks SET state = ? WHERE name = ?");
  s.Bind(1, state).BindText(2, task);
  RETURN_IF_ERROR(s.Run());
  if (sqlite3_changes(db_) == 0) return absl::NotFoundError(absl::StrCat("no task ", task));
  return absl::OkStatus();
}

absl::Status SqliteStore::UpdateTaskConfig(const std::string& task, const std::string& config) {
  absl::MutexLock lock(&mu_);
  Stmt s(db_, "UPDATE tasks SET config = ? WHERE name = ?");
  s.Bind(1, config).BindText(2, task);
  RETURN_IF_ERROR(s.Run());
  if (sqlite3_changes(db_) == 0) return absl::NotFoundError(absl::StrCat("no task ", task));
  return absl::OkStatus();
}

absl::Status SqliteStore::DeleteTask(const std::string& task) {
  absl::MutexLock blobs(&blob_mu_);
  std::vector<std::string> legacy;
  {
    absl::MutexLock lock(&mu_);
    RETURN_IF_ERROR(InTransaction([&]() -> absl::Status {
      RETURN_IF_ERROR(CheckTaskExists(task));
      Stmt rows(db_, absl::StrCat("SELECT ", kVersionColumns,
                                  ", parts FROM versions WHERE task = ?").c_str());
      rows.BindText(1, task);
      while (rows.Step()) {
        if (rows.Blob(13).empty()) legacy.push_back(LegacyBlobPath(ReadVersion(rows)));
      }
      RETURN_IF_ERROR(rows.Done());
      for (const char* sql : {"DELETE FROM versions WHERE task = ?",
                              "DELETE FROM rounds WHERE task = ?", "DELETE FROM tasks WHERE name = ?"}) {
        Stmt s(db_, sql);
        s.BindText(1, task);
        RETURN_IF_ERROR(s.Run());
      }
      return absl::OkStatus();
    }));
  }
  for (const std::string& path : legacy) unlink(path.c_str());
  return RemoveUnreferencedParts().status();
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
  return InTransaction([&]() -> absl::Status {
    RETURN_IF_ERROR(CheckTaskExists(r.task));
    Stmt s(db_, "INSERT INTO rounds VALUES(?,?,?,?,?,?)");
    s.BindText(1, r.task).Bind(2, r.round).Bind(3, static_cast<int>(RoundState::kOpen))
        .Bind(4, r.opened_ms).Bind(5, 0).Bind(6, r.info);
    return s.Run();
  });
}

absl::Status SqliteStore::CloseRound(const RoundRow& r, const std::vector<VersionRow>& versions) {
  absl::MutexLock blobs(&blob_mu_);
  ASSIGN_OR_RETURN(std::vector<std::string> parts, WriteBlobs(versions));
  absl::MutexLock lock(&mu_);
  return InTransaction([&]() -> absl::Status {
    RETURN_IF_ERROR(CheckTaskExists(r.task));
    RETURN_IF_ERROR(InsertVersions(versions, parts));
    Stmt s(db_,
           "INSERT INTO rounds VALUES(?,?,?,?,?,?) ON CONFLICT(task, round) DO UPDATE SET "
           "state = excluded.state, closed_ms = excluded.closed_ms, info = excluded.info "
           "WHERE rounds.state = 1");
    s.BindText(1, r.task).Bind(2, r.round).Bind(3, static_cast<int>(r.state))
        .Bind(4, r.opened_ms).Bind(5, r.closed_ms).Bind(6, r.info);
    RETURN_IF_ERROR(s.Run());
    if (sqlite3_changes(db_) == 0) {
      return absl::AlreadyExistsError(absl::StrCat("round ", r.round, " of ", r.task, " is already closed"));
    }
    return absl::OkStatus();
  });
}

absl::StatusOr<int> SqliteStore::RemoveUnreferencedParts() {
  std::set<std::string> referenced;
  {
    absl::MutexLock lock(&mu_);
    Stmt s(db_, "SELECT parts FROM versions WHERE pruned = 0 AND parts != ''");
    while (s.Step()) {
      for (absl::string_view hex : absl::StrSplit(s.Blob(0), ',')) {
        referenced.insert(absl::StrCat(hex, kBlobSuffix));
      }
    }
    RETURN_IF_ERROR(s.Done());
  }
  const std::string blobs = dir_ + "/blobs";
  ASSIGN_OR_RETURN(std::vector<std::string> names, ListBlobs(blobs));
  int removed = 0;
  for (const std::string& name : names) {
    if (!absl::EndsWith(name, kBlobSuffix) || referenced.count(name)) continue;
    removed += unlink((blobs + "/" + name).c_str()) == 0;
  }
  return removed;
}

absl::StatusOr<int> SqliteStore::CollectGarbage() {
  absl::MutexLock blob_lock(&blob_mu_);
  // Content-addressed parts no unpruned version references are leftovers of an
  // interrupted commit, prune or delete: always safe to remove (blob_mu_ keeps
  // commits out meanwhile).
  ASSIGN_OR_RETURN(int removed, RemoveUnreferencedParts());
  std::set<std::string> referenced;
  std::map<std::pair<std::string, int64_t>, int64_t> newest;  // (task, cluster) -> version
  {
    absl::MutexLock lock(&mu_);
    Stmt s(db_, absl::StrCat("SELECT ", kVersionColumns, ", parts FROM versions").c_str());
    while (s.Step()) {
      const VersionRow v = ReadVersion(s);
      if (s.Blob(13).empty() && !v.pruned) referenced.insert(LegacyBlobPath(v));
      int64_t& n = newest.try_emplace({v.task, v.cluster}, -1).first->second;
      n = std::max(n, v.version);
    }
    RETURN_IF_ERROR(s.Done());
  }
  const std::string blobs = dir_ + "/blobs";
  ASSIGN_OR_RETURN(std::vector<std::string> names, ListBlobs(blobs));
  ASSIGN_OR_RETURN(std::vector<std::string> temporaries, ListBlobs(blobs, /*temporaries=*/true));
  for (const std::string& name : temporaries) removed += unlink((blobs + "/" + name).c_str()) == 0;
  // Blobs of the one-file-per-version layout (stores made before parts).
  for (const std::string& name : names) {
    if (!absl::EndsWith(name, ".model")) continue;
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
  absl::MutexLock blobs(&blob_mu_);
  ASSIGN_OR_RETURN(std::vector<std::string> parts, WriteBlobs(versions));
  absl::MutexLock lock(&mu_);
  return InTransaction([&]() -> absl::Status {
    for (const VersionRow& v : versions) RETURN_IF_ERROR(CheckTaskExists(v.task));
    return InsertVersions(versions, parts);
  });
}

absl::StatusOr<std::string> SqliteStore::ReadBlob(const VersionRow& v) {
  const std::string what =
      absl::StrCat("model blob of ", v.task, " cluster ", v.cluster, " version ", v.version);
  std::string parts;
  bool pruned = false, found = false;
  {
    absl::MutexLock lock(&mu_);
    Stmt s(db_, "SELECT parts, pruned FROM versions WHERE task = ? AND cluster = ? AND version = ?");
    s.BindText(1, v.task).Bind(2, v.cluster).Bind(3, v.version);
    if (s.Step()) {
      found = true;
      parts = s.Blob(0);
      pruned = s.Int(1) != 0;
    }
    RETURN_IF_ERROR(s.Done());
  }
  if (!found) return absl::NotFoundError(absl::StrCat(what, ": no such version"));
  if (pruned) return absl::NotFoundError(absl::StrCat(what, ": pruned by the retention policy"));
  std::string blob;
  if (parts.empty()) {
    absl::StatusOr<std::string> legacy = ReadFile(LegacyBlobPath(v));
    if (!legacy.ok()) return absl::DataLossError(absl::StrCat(what, ": ", legacy.status().message()));
    blob = *std::move(legacy);
  } else {
    for (absl::string_view hex : absl::StrSplit(parts, ',')) {
      absl::StatusOr<std::string> part = ReadFile(PartPath(std::string(hex)));
      if (!part.ok()) return absl::DataLossError(absl::StrCat(what, ": ", part.status().message()));
      absl::StrAppend(&blob, *part);
    }
  }
  ASSIGN_OR_RETURN(Sha256Digest d, Sha256(blob));
  if (DigestToHex(d) != v.sha256_hex) {
    return absl::DataLossError(absl::StrCat(what, " fails its SHA-256"));
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

absl::Status SqliteStore::SetPinned(const std::string& task, int32_t cluster, int64_t version,
                                    bool pinned) {
  absl::MutexLock lock(&mu_);
  Stmt q(db_, "SELECT pruned FROM versions WHERE task = ? AND cluster = ? AND version = ?");
  q.BindText(1, task).Bind(2, cluster).Bind(3, version);
  const bool found = q.Step();
  const bool pruned = found && q.Int(0) != 0;
  RETURN_IF_ERROR(q.Done());
  if (!found) {
    return absl::NotFoundError(
        absl::StrCat("task ", task, " has no version ", version, " of cluster ", cluster));
  }
  if (pinned && pruned) {
    return absl::FailedPreconditionError(absl::StrCat(
        "version ", version, " of cluster ", cluster, " was pruned: its blob is gone"));
  }
  Stmt s(db_, "UPDATE versions SET pinned = ? WHERE task = ? AND cluster = ? AND version = ?");
  s.Bind(1, pinned ? 1 : 0).BindText(2, task).Bind(3, cluster).Bind(4, version);
  return s.Run();
}

absl::StatusOr<int> SqliteStore::Prune(const std::string& task, int keep) {
  if (keep < 1) return absl::InvalidArgumentError("retention keeps at least one version");
  absl::MutexLock blobs(&blob_mu_);
  int pruned = 0;
  std::vector<std::string> legacy;
  {
    absl::MutexLock lock(&mu_);
    RETURN_IF_ERROR(InTransaction([&]() -> absl::Status {
      constexpr char kDoomed[] =
          " FROM versions v WHERE task = ? AND pruned = 0 AND pinned = 0 AND version NOT IN "
          "(SELECT version FROM versions w WHERE w.task = v.task AND w.cluster = v.cluster "
          "ORDER BY version DESC LIMIT ?)";
      Stmt rows(db_, absl::StrCat("SELECT ", kVersionColumns, ", parts", kDoomed).c_str());
      rows.BindText(1, task).Bind(2, keep);
      while (rows.Step()) {
        if (rows.Blob(13).empty()) legacy.push_back(LegacyBlobPath(ReadVersion(rows)));
      }
      RETURN_IF_ERROR(rows.Done());
      Stmt s(db_, absl::StrCat("UPDATE versions SET pruned = 1 WHERE rowid IN (SELECT rowid",
                               kDoomed, ")").c_str());
      s.BindText(1, task).Bind(2, keep);
      RETURN_IF_ERROR(s.Run());
      pruned = sqlite3_changes(db_);
      return absl::OkStatus();
    }));
  }
  for (const std::string& path : legacy) unlink(path.c_str());
  if (pruned > 0) RETURN_IF_ERROR(RemoveUnreferencedParts().status());
  return pruned;
}

absl::StatusOr<StorageUse> SqliteStore::Usage() {
  const std::string blobs = dir_ + "/blobs";
  ASSIGN_OR_RETURN(std::vector<std::string> names, ListBlobs(blobs));
  StorageUse use;
  for (const std::string& name : names) {
    struct stat st;
    if (stat((blobs + "/" + name).c_str(), &st) != 0) continue;  // Removed meanwhile.
    ++use.blobs;
    use.bytes += st.st_size;
  }
  return use;
}

absl::Status SqliteStore::AppendAudit(AuditRow& row) {
  absl::MutexLock lock(&mu_);
  Stmt s(db_, "INSERT INTO audit(time_ms, who, action, task, detail, outcome) VALUES(?,?,?,?,?,?)");
  s.Bind(1, row.time_ms).BindText(2, row.who).BindText(3, row.action).BindText(4, row.task)
      .BindText(5, row.detail).BindText(6, row.outcome);
  RETURN_IF_ERROR(s.Run());
  row.seq = sqlite3_last_insert_rowid(db_);
  return absl::OkStatus();
}

absl::StatusOr<std::vector<AuditRow>> SqliteStore::Audit(const std::string& task, int limit) {
  absl::MutexLock lock(&mu_);
  Stmt s(db_, "SELECT seq, time_ms, who, action, task, detail, outcome FROM audit "
              "WHERE ? = '' OR task = ? ORDER BY seq DESC LIMIT ?");
  s.BindText(1, task).BindText(2, task).Bind(3, limit > 0 ? limit : -1);
  std::vector<AuditRow> out;
  while (s.Step()) {
    out.push_back(AuditRow{s.Int(0), s.Int(1), s.Blob(2), s.Blob(3), s.Blob(4), s.Blob(5), s.Blob(6)});
  }
  RETURN_IF_ERROR(s.Done());
  return out;
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
