#include "coordinator/postgres_store.h"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "tools/base/sha256.h"
#include "tools/base/status_macros.h"

namespace fedtiny::coordinator {

namespace {

// Advisory lock keys (one 64-bit space per database): "fedt" then a number.
constexpr int64_t kSchemaLock = (int64_t{0x66656474} << 32) | 1;
constexpr int64_t kBlobLock = (int64_t{0x66656474} << 32) | 2;

constexpr char kSchema[] = R"sql(
CREATE TABLE IF NOT EXISTS tasks(
  name text PRIMARY KEY, config bytea NOT NULL, state integer NOT NULL,
  created_ms bigint NOT NULL);
CREATE TABLE IF NOT EXISTS rounds(
  task text NOT NULL, round bigint NOT NULL, state integer NOT NULL,
  opened_ms bigint NOT NULL, closed_ms bigint NOT NULL, info bytea,
  PRIMARY KEY(task, round));
CREATE TABLE IF NOT EXISTS versions(
  task text NOT NULL, cluster integer NOT NULL, version bigint NOT NULL,
  parent bigint NOT NULL, round bigint NOT NULL, aggregator text NOT NULL,
  participants integer NOT NULL, sha256 text NOT NULL, size bigint NOT NULL,
  committed_ms bigint NOT NULL, optimizer bytea, parts text NOT NULL,
  pinned boolean NOT NULL DEFAULT false, pruned boolean NOT NULL DEFAULT false,
  PRIMARY KEY(task, cluster, version));
CREATE TABLE IF NOT EXISTS blobs(sha256 text PRIMARY KEY, data bytea NOT NULL);
CREATE TABLE IF NOT EXISTS audit(
  seq bigserial PRIMARY KEY, time_ms bigint NOT NULL, who text NOT NULL,
  action text NOT NULL, task text NOT NULL, detail text NOT NULL, outcome text NOT NULL);
)sql";

constexpr char kVersionColumns[] =
    "task, cluster, version, parent, round, aggregator, participants, sha256, size, "
    "committed_ms, optimizer, pinned, pruned";

// Blobs no unpruned version references (run under the exclusive kBlobLock).
constexpr char kDeleteUnreferenced[] =
    "DELETE FROM blobs b WHERE NOT EXISTS (SELECT 1 FROM versions v WHERE NOT v.pruned "
    "AND b.sha256 = ANY(string_to_array(v.parts, ',')))";

int64_t Limit(int limit) { return limit > 0 ? limit : std::numeric_limits<int64_t>::max(); }

VersionRow ReadVersion(const PgResult& r, int i) {
  VersionRow v;
  v.task = r.Bytes(i, 0);
  v.cluster = static_cast<int32_t>(r.Int(i, 1));
  v.version = r.Int(i, 2);
  v.parent_version = r.Int(i, 3);
  v.round = r.Int(i, 4);
  v.aggregator = r.Bytes(i, 5);
  v.participants = static_cast<int32_t>(r.Int(i, 6));
  v.sha256_hex = r.Bytes(i, 7);
  v.size_bytes = r.Int(i, 8);
  v.committed_ms = r.Int(i, 9);
  v.optimizer_state = r.Bytes(i, 10);
  v.pinned = r.Int(i, 11) != 0;
  v.pruned = r.Int(i, 12) != 0;
  return v;
}

absl::Status Lock(PgConnection& conn, bool exclusive) {
  return conn
      .Exec(exclusive ? "SELECT pg_advisory_xact_lock($1)" : "SELECT pg_advisory_xact_lock_shared($1)",
            PgParams().Add(kBlobLock))
      .status();
}

// kNotFound unless the task exists; holds its row against a concurrent delete.
absl::Status CheckTaskExists(PgConnection& conn, const std::string& task) {
  ASSIGN_OR_RETURN(PgResult r,
                   conn.Exec("SELECT 1 FROM tasks WHERE name = $1 FOR SHARE", PgParams().Add(task)));
  if (r.rows() == 0) return absl::NotFoundError(absl::StrCat("no task ", task));
  return absl::OkStatus();
}

// Writes the parts of `v` not stored yet; returns its part list ("<hex>,<hex>").
absl::StatusOr<std::string> WriteBlobs(PgConnection& conn, const VersionRow& v) {
  std::vector<absl::string_view> parts;
  const size_t prefix = static_cast<size_t>(std::max<int64_t>(v.shared_prefix_bytes, 0));
  if (prefix > 0 && prefix < v.model.size()) {
    parts = {absl::string_view(v.model).substr(0, prefix), absl::string_view(v.model).substr(prefix)};
  } else {
    parts = {v.model};
  }
  std::string names;
  for (absl::string_view part : parts) {
    ASSIGN_OR_RETURN(Sha256Digest d, Sha256(part));
    const std::string hex = DigestToHex(d);
    ASSIGN_OR_RETURN(PgResult have,
                     conn.Exec("SELECT 1 FROM blobs WHERE sha256 = $1", PgParams().Add(hex)));
    if (have.rows() == 0) {
      RETURN_IF_ERROR(conn.Exec("INSERT INTO blobs VALUES($1, $2) ON CONFLICT DO NOTHING",
                                PgParams().Add(hex).Add(part))
                          .status());
    }
    absl::StrAppend(&names, names.empty() ? "" : ",", hex);
  }
  return names;
}

absl::Status InsertVersions(PgConnection& conn, const std::vector<VersionRow>& versions) {
  for (const VersionRow& v : versions) {
    ASSIGN_OR_RETURN(std::string parts, WriteBlobs(conn, v));
    RETURN_IF_ERROR(
        conn.Exec("INSERT INTO versions VALUES($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,false)",
                  PgParams().Add(v.task).Add(v.cluster).Add(v.version).Add(v.parent_version)
                      .Add(v.round).Add(v.aggregator).Add(v.participants).Add(v.sha256_hex)
                      .Add(v.size_bytes).Add(v.committed_ms).Add(v.optimizer_state).Add(parts)
                      .Add(int64_t{v.pinned ? 1 : 0}))
            .status());
  }
  return absl::OkStatus();
}

absl::StatusOr<int> DeleteUnreferenced(PgConnection& conn) {
  ASSIGN_OR_RETURN(PgResult r, conn.Exec(kDeleteUnreferenced));
  return static_cast<int>(r.Affected());
}

}  // namespace

absl::StatusOr<std::unique_ptr<PostgresStore>> PostgresStore::Open(const std::string& conninfo) {
  ASSIGN_OR_RETURN(std::unique_ptr<PgConnection> conn, PgConnection::Connect(conninfo));
  PgConnection& c = *conn;
  RETURN_IF_ERROR(c.Transaction([&]() -> absl::Status {
    // Concurrent CREATE TABLE IF NOT EXISTS can collide in the catalog.
    RETURN_IF_ERROR(c.Exec("SELECT pg_advisory_xact_lock($1)", PgParams().Add(kSchemaLock)).status());
    return c.Script(kSchema);
  }));
  return std::unique_ptr<PostgresStore>(new PostgresStore(std::move(conn)));
}

absl::Status PostgresStore::Tx(const std::function<absl::Status(PgConnection&)>& body,
                               const char* begin) {
  absl::MutexLock lock(&mu_);
  PgConnection& conn = *conn_;
  return conn.Transaction([&] { return body(conn); }, begin);
}

absl::Status PostgresStore::CreateTask(const TaskRow& task, const std::vector<VersionRow>& initial) {
  return Tx([&](PgConnection& c) -> absl::Status {
    RETURN_IF_ERROR(Lock(c, /*exclusive=*/false));
    RETURN_IF_ERROR(c.Exec("INSERT INTO tasks VALUES($1, $2, $3, $4)",
                           PgParams().Add(task.name).Add(task.config).Add(task.state).Add(task.created_ms))
                        .status());
    return InsertVersions(c, initial);
  });
}

absl::Status PostgresStore::SetTaskState(const std::string& task, int state) {
  return Tx([&](PgConnection& c) -> absl::Status {
    ASSIGN_OR_RETURN(PgResult r, c.Exec("UPDATE tasks SET state = $1 WHERE name = $2",
                                        PgParams().Add(state).Add(task)));
    if (r.Affected() == 0) return absl::NotFoundError(absl::StrCat("no task ", task));
    return absl::OkStatus();
  });
}

absl::Status PostgresStore::UpdateTaskConfig(const std::string& task, const std::string& config) {
  return Tx([&](PgConnection& c) -> absl::Status {
    ASSIGN_OR_RETURN(PgResult r, c.Exec("UPDATE tasks SET config = $1 WHERE name = $2",
                                        PgParams().Add(config).Add(task)));
    if (r.Affected() == 0) return absl::NotFoundError(absl::StrCat("no task ", task));
    return absl::OkStatus();
  });
}

absl::Status PostgresStore::DeleteTask(const std::string& task) {
  return Tx([&](PgConnection& c) -> absl::Status {
    RETURN_IF_ERROR(Lock(c, /*exclusive=*/true));
    RETURN_IF_ERROR(CheckTaskExists(c, task));
    for (const char* sql : {"DELETE FROM versions WHERE task = $1", "DELETE FROM rounds WHERE task = $1",
                            "DELETE FROM tasks WHERE name = $1"}) {
      RETURN_IF_ERROR(c.Exec(sql, PgParams().Add(task)).status());
    }
    return DeleteUnreferenced(c).status();
  });
}

absl::StatusOr<std::vector<TaskRow>> PostgresStore::Tasks() {
  std::vector<TaskRow> out;
  RETURN_IF_ERROR(Tx([&](PgConnection& c) -> absl::Status {
    ASSIGN_OR_RETURN(PgResult r, c.Exec("SELECT name, config, state, created_ms FROM tasks "
                                        "ORDER BY created_ms, name"));
    for (int i = 0; i < r.rows(); ++i) {
      out.push_back(TaskRow{r.Bytes(i, 0), r.Bytes(i, 1), static_cast<int>(r.Int(i, 2)), r.Int(i, 3)});
    }
    return absl::OkStatus();
  }));
  return out;
}

absl::Status PostgresStore::OpenRound(const RoundRow& round) {
  return Tx([&](PgConnection& c) -> absl::Status {
    RETURN_IF_ERROR(CheckTaskExists(c, round.task));
    return c.Exec("INSERT INTO rounds VALUES($1, $2, $3, $4, 0, $5)",
                  PgParams().Add(round.task).Add(round.round)
                      .Add(static_cast<int64_t>(RoundState::kOpen)).Add(round.opened_ms)
                      .Add(round.info))
        .status();
  });
}

absl::Status PostgresStore::CloseRoundIn(PgConnection& c, const RoundRow* round,
                                         const std::vector<VersionRow>& versions) {
  RETURN_IF_ERROR(Lock(c, /*exclusive=*/false));
  if (round != nullptr) RETURN_IF_ERROR(CheckTaskExists(c, round->task));
  for (const VersionRow& v : versions) RETURN_IF_ERROR(CheckTaskExists(c, v.task));
  RETURN_IF_ERROR(InsertVersions(c, versions));
  if (round == nullptr) return absl::OkStatus();
  ASSIGN_OR_RETURN(
      PgResult r,
      c.Exec("INSERT INTO rounds VALUES($1, $2, $3, $4, $5, $6) ON CONFLICT (task, round) DO UPDATE "
             "SET state = excluded.state, closed_ms = excluded.closed_ms, info = excluded.info "
             "WHERE rounds.state = 1",
             PgParams().Add(round->task).Add(round->round).Add(static_cast<int64_t>(round->state))
                 .Add(round->opened_ms).Add(round->closed_ms).Add(round->info)));
  if (r.Affected() == 0) {
    return absl::AlreadyExistsError(
        absl::StrCat("round ", round->round, " of ", round->task, " is already closed"));
  }
  return absl::OkStatus();
}

absl::Status PostgresStore::CloseRound(const RoundRow& round, const std::vector<VersionRow>& versions) {
  return Tx([&](PgConnection& c) { return CloseRoundIn(c, &round, versions); });
}

absl::Status PostgresStore::CommitVersions(const std::vector<VersionRow>& versions) {
  return Tx([&](PgConnection& c) { return CloseRoundIn(c, nullptr, versions); });
}

absl::StatusOr<int> PostgresStore::CollectGarbage() {
  int removed = 0;
  RETURN_IF_ERROR(Tx([&](PgConnection& c) -> absl::Status {
    RETURN_IF_ERROR(Lock(c, /*exclusive=*/true));
    ASSIGN_OR_RETURN(removed, DeleteUnreferenced(c));
    return absl::OkStatus();
  }));
  return removed;
}

absl::StatusOr<int> PostgresStore::AbandonOpenRounds(int64_t now_ms) {
  int changed = 0;
  RETURN_IF_ERROR(Tx([&](PgConnection& c) -> absl::Status {
    ASSIGN_OR_RETURN(PgResult r, c.Exec("UPDATE rounds SET state = $1, closed_ms = $2 WHERE state = $3",
                                        PgParams().Add(static_cast<int64_t>(RoundState::kAbandoned))
                                            .Add(now_ms).Add(static_cast<int64_t>(RoundState::kOpen))));
    changed = static_cast<int>(r.Affected());
    return absl::OkStatus();
  }));
  return changed;
}

absl::StatusOr<std::vector<RoundRow>> PostgresStore::Rounds(const std::string& task, int limit) {
  std::vector<RoundRow> out;
  RETURN_IF_ERROR(Tx([&](PgConnection& c) -> absl::Status {
    ASSIGN_OR_RETURN(PgResult r, c.Exec("SELECT task, round, state, opened_ms, closed_ms, info FROM "
                                        "rounds WHERE task = $1 ORDER BY round DESC LIMIT $2",
                                        PgParams().Add(task).Add(Limit(limit))));
    for (int i = 0; i < r.rows(); ++i) {
      out.push_back(RoundRow{r.Bytes(i, 0), r.Int(i, 1), static_cast<RoundState>(r.Int(i, 2)),
                             r.Int(i, 3), r.Int(i, 4), r.Bytes(i, 5)});
    }
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<int64_t> PostgresStore::LastRound(const std::string& task) {
  int64_t last = 0;
  RETURN_IF_ERROR(Tx([&](PgConnection& c) -> absl::Status {
    ASSIGN_OR_RETURN(PgResult r, c.Exec("SELECT COALESCE(MAX(round), 0) FROM rounds WHERE task = $1",
                                        PgParams().Add(task)));
    last = r.Int(0, 0);
    return absl::OkStatus();
  }));
  return last;
}

absl::StatusOr<std::vector<VersionRow>> PostgresStore::Versions(const std::string& task) {
  std::vector<VersionRow> out;
  RETURN_IF_ERROR(Tx([&](PgConnection& c) -> absl::Status {
    ASSIGN_OR_RETURN(PgResult r, c.Exec(absl::StrCat("SELECT ", kVersionColumns,
                                                     " FROM versions WHERE task = $1 "
                                                     "ORDER BY version, cluster"),
                                        PgParams().Add(task)));
    for (int i = 0; i < r.rows(); ++i) out.push_back(ReadVersion(r, i));
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<std::vector<VersionRow>> PostgresStore::LatestVersions(const std::string& task) {
  std::vector<VersionRow> out;
  RETURN_IF_ERROR(Tx(
      [&](PgConnection& c) -> absl::Status {
        ASSIGN_OR_RETURN(PgResult r,
                         c.Exec(absl::StrCat("SELECT ", kVersionColumns,
                                             " FROM versions v WHERE task = $1 AND version = "
                                             "(SELECT MAX(version) FROM versions w WHERE "
                                             "w.task = v.task AND w.cluster = v.cluster) "
                                             "ORDER BY cluster"),
                                PgParams().Add(task)));
        for (int i = 0; i < r.rows(); ++i) {
          VersionRow v = ReadVersion(r, i);
          ASSIGN_OR_RETURN(v.model, ReadBlobIn(c, v));
          out.push_back(std::move(v));
        }
        return absl::OkStatus();
      },
      "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"));
  return out;
}

absl::StatusOr<std::string> PostgresStore::ReadBlobIn(PgConnection& c, const VersionRow& v) {
  const std::string what =
      absl::StrCat("model blob of ", v.task, " cluster ", v.cluster, " version ", v.version);
  ASSIGN_OR_RETURN(PgResult row, c.Exec("SELECT parts, pruned FROM versions WHERE task = $1 AND "
                                        "cluster = $2 AND version = $3",
                                        PgParams().Add(v.task).Add(v.cluster).Add(v.version)));
  if (row.rows() == 0) return absl::NotFoundError(absl::StrCat(what, ": no such version"));
  if (row.Int(0, 1) != 0) {
    return absl::NotFoundError(absl::StrCat(what, ": pruned by the retention policy"));
  }
  std::string blob;
  for (absl::string_view hex : absl::StrSplit(row.Bytes(0, 0), ',')) {
    ASSIGN_OR_RETURN(PgResult part, c.Exec("SELECT data FROM blobs WHERE sha256 = $1",
                                           PgParams().Add(hex)));
    if (part.rows() == 0) return absl::DataLossError(absl::StrCat(what, ": part ", hex, " is missing"));
    absl::StrAppend(&blob, part.Bytes(0, 0));
  }
  ASSIGN_OR_RETURN(Sha256Digest d, Sha256(blob));
  if (DigestToHex(d) != v.sha256_hex) return absl::DataLossError(absl::StrCat(what, " fails its SHA-256"));
  return blob;
}

absl::StatusOr<std::string> PostgresStore::ReadBlob(const VersionRow& v) {
  std::string blob;
  RETURN_IF_ERROR(Tx(
      [&](PgConnection& c) -> absl::Status {
        ASSIGN_OR_RETURN(blob, ReadBlobIn(c, v));
        return absl::OkStatus();
      },
      "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"));
  return blob;
}

absl::Status PostgresStore::CheckIntegrity() {
  return Tx([&](PgConnection& c) -> absl::Status {
    ASSIGN_OR_RETURN(
        PgResult r,
        c.Exec("SELECT COUNT(*) FROM versions v WHERE NOT v.pruned AND EXISTS (SELECT 1 FROM "
               "unnest(string_to_array(v.parts, ',')) p WHERE NOT EXISTS (SELECT 1 FROM blobs b "
               "WHERE b.sha256 = p))"));
    if (r.Int(0, 0) > 0) {
      return absl::DataLossError(
          absl::StrCat(r.Int(0, 0), " unpruned version(s) reference blobs that are missing"));
    }
    return absl::OkStatus();
  });
}

absl::Status PostgresStore::SetPinned(const std::string& task, int32_t cluster, int64_t version,
                                      bool pinned) {
  return Tx([&](PgConnection& c) -> absl::Status {
    ASSIGN_OR_RETURN(PgResult r, c.Exec("SELECT pruned FROM versions WHERE task = $1 AND cluster = $2 "
                                        "AND version = $3 FOR UPDATE",
                                        PgParams().Add(task).Add(cluster).Add(version)));
    if (r.rows() == 0) {
      return absl::NotFoundError(
          absl::StrCat("task ", task, " has no version ", version, " of cluster ", cluster));
    }
    if (pinned && r.Int(0, 0) != 0) {
      return absl::FailedPreconditionError(absl::StrCat(
          "version ", version, " of cluster ", cluster, " was pruned: its blob is gone"));
    }
    return c.Exec("UPDATE versions SET pinned = $1 WHERE task = $2 AND cluster = $3 AND version = $4",
                  PgParams().Add(int64_t{pinned ? 1 : 0}).Add(task).Add(cluster).Add(version))
        .status();
  });
}

absl::StatusOr<int> PostgresStore::Prune(const std::string& task, int keep) {
  if (keep < 1) return absl::InvalidArgumentError("retention keeps at least one version");
  int pruned = 0;
  RETURN_IF_ERROR(Tx([&](PgConnection& c) -> absl::Status {
    RETURN_IF_ERROR(Lock(c, /*exclusive=*/true));
    ASSIGN_OR_RETURN(
        PgResult r,
        c.Exec("UPDATE versions v SET pruned = true WHERE task = $1 AND NOT pruned AND NOT pinned "
               "AND version NOT IN (SELECT version FROM versions w WHERE w.task = v.task AND "
               "w.cluster = v.cluster ORDER BY version DESC LIMIT $2)",
               PgParams().Add(task).Add(keep)));
    pruned = static_cast<int>(r.Affected());
    if (pruned > 0) RETURN_IF_ERROR(DeleteUnreferenced(c).status());
    return absl::OkStatus();
  }));
  return pruned;
}

absl::StatusOr<StorageUse> PostgresStore::Usage() {
  StorageUse use;
  RETURN_IF_ERROR(Tx([&](PgConnection& c) -> absl::Status {
    ASSIGN_OR_RETURN(PgResult r, c.Exec("SELECT COUNT(*), COALESCE(SUM(octet_length(data)), 0)::bigint "
                                        "FROM blobs"));
    use.blobs = r.Int(0, 0);
    use.bytes = r.Int(0, 1);
    return absl::OkStatus();
  }));
  return use;
}

absl::Status PostgresStore::AppendAudit(AuditRow& row) {
  return Tx([&](PgConnection& c) -> absl::Status {
    ASSIGN_OR_RETURN(PgResult r,
                     c.Exec("INSERT INTO audit(time_ms, who, action, task, detail, outcome) "
                            "VALUES($1, $2, $3, $4, $5, $6) RETURNING seq",
                            PgParams().Add(row.time_ms).Add(row.who).Add(row.action).Add(row.task)
                                .Add(row.detail).Add(row.outcome)));
    row.seq = r.Int(0, 0);
    return absl::OkStatus();
  });
}

absl::StatusOr<std::vector<AuditRow>> PostgresStore::Audit(const std::string& task, int limit) {
  std::vector<AuditRow> out;
  RETURN_IF_ERROR(Tx([&](PgConnection& c) -> absl::Status {
    ASSIGN_OR_RETURN(PgResult r, c.Exec("SELECT seq, time_ms, who, action, task, detail, outcome "
                                        "FROM audit WHERE $1::text = '' OR task = $1::text "
                                        "ORDER BY seq DESC LIMIT $2",
                                        PgParams().Add(task).Add(Limit(limit))));
    for (int i = 0; i < r.rows(); ++i) {
      out.push_back(AuditRow{r.Int(i, 0), r.Int(i, 1), r.Bytes(i, 2), r.Bytes(i, 3), r.Bytes(i, 4),
                             r.Bytes(i, 5), r.Bytes(i, 6)});
    }
    return absl::OkStatus();
  }));
  return out;
}

}  // namespace fedtiny::coordinator
