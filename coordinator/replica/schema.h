// The replicas' shared round state, in the same PostgreSQL database as
// PostgresStore's tables (docs/replicas.md):
//
//   replica_leases(task, epoch, leader, since_ms)
//       The fencing epoch of each task: a replica that takes the task's
//       advisory lock increments it, and every leader transaction re-reads it
//       (FOR UPDATE) and gives up when it changed.
//   replica_rounds(task, round, open, closing, opened_ms, deadline_ms, goal,
//                  cap, admitted, done)
//       The task's current round. Check-ins admit by incrementing `admitted`
//       while it is below `cap` (one UPDATE ... RETURNING); uploads read the
//       row FOR SHARE, and the leader's close takes it FOR UPDATE (closing =
//       true), which waits for the uploads in flight and refuses later ones.
//   replica_admissions(task, round, token_hash, device_id, device_key, used,
//                      failed, replica)
//       One row per admitted device and round: the SHA-256 of its upload token
//       (never the token) and of its device secret. An upload flips `used` in
//       the same transaction as it updates its replica's partial aggregate.
//   replica_partials(task, round, replica, cluster, state, updates,
//                    metric_sums, metric_weights)
//       Each replica's partial aggregate of a round and cluster
//       (aggregation/aggregator_state.h) and metric tally (metric_tally.h),
//       merged by the leader at the close.
#ifndef FEDTINY_COORDINATOR_REPLICA_SCHEMA_H_
#define FEDTINY_COORDINATOR_REPLICA_SCHEMA_H_

#include <cstdint>

#include "absl/status/status.h"
#include "coordinator/pg_connection.h"

namespace fedtiny::coordinator::replica {

// Creates the tables above if absent, under an advisory lock (concurrent
// replicas may start at once). Blocking; PgConnection::Exec's codes.
absl::Status CreateReplicaSchema(PgConnection& conn);

// The first key of the task leadership locks, pg_try_advisory_lock(kLeaderLockSpace,
// hashtext(task)).
inline constexpr int32_t kLeaderLockSpace = 0x66656475;  // "fedu"

}  // namespace fedtiny::coordinator::replica

#endif  // FEDTINY_COORDINATOR_REPLICA_SCHEMA_H_
