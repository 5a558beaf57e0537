#include "coordinator/replica/schema.h"

#include "tools/base/status_macros.h"

namespace fedtiny::coordinator::replica {

namespace {

constexpr int64_t kSchemaLock = (int64_t{0x66656474} << 32) | 3;

constexpr char kSchema[] = R"sql(
CREATE TABLE IF NOT EXISTS replica_leases(
  task text PRIMARY KEY, epoch bigint NOT NULL, leader text NOT NULL, since_ms bigint NOT NULL);
CREATE TABLE IF NOT EXISTS replica_rounds(
  task text PRIMARY KEY, round bigint NOT NULL, open boolean NOT NULL,
  closing boolean NOT NULL DEFAULT false, opened_ms bigint NOT NULL,
  deadline_ms bigint NOT NULL, goal integer NOT NULL, cap integer NOT NULL,
  admitted integer NOT NULL DEFAULT 0, done boolean NOT NULL DEFAULT false);
CREATE TABLE IF NOT EXISTS replica_admissions(
  task text NOT NULL, round bigint NOT NULL, token_hash bytea NOT NULL,
  device_id text NOT NULL, device_key bytea NOT NULL,
  used boolean NOT NULL DEFAULT false, failed boolean NOT NULL DEFAULT false,
  replica text NOT NULL,
  PRIMARY KEY(task, round, token_hash), UNIQUE(task, round, device_id));
CREATE TABLE IF NOT EXISTS replica_partials(
  task text NOT NULL, round bigint NOT NULL, replica text NOT NULL, cluster integer NOT NULL,
  state bytea NOT NULL, updates integer NOT NULL,
  metric_sums bytea NOT NULL DEFAULT '', metric_weights bytea NOT NULL DEFAULT '',
  PRIMARY KEY(task, round, replica, cluster));
)sql";

}  // namespace

absl::Status CreateReplicaSchema(PgConnection& conn) {
  return conn.Transaction([&]() -> absl::Status {
    RETURN_IF_ERROR(conn.Exec("SELECT pg_advisory_xact_lock($1)", PgParams().Add(kSchemaLock)).status());
    return conn.Script(kSchema);
  });
}

}  // namespace fedtiny::coordinator::replica
