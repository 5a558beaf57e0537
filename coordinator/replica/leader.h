// Leadership of one task among its replicas, and what the leader does.
//
// The replica whose dedicated session holds pg_try_advisory_lock(
// kLeaderLockSpace, hashtext(task)) leads. On taking the lock it increments
// the task's fencing epoch (replica_leases). Every leader transaction first
// re-reads the epoch FOR UPDATE and gives up (kAborted) when it changed, so a
// leader that lost its session (and its lock) can no longer write; and version
// numbers are the store's unique keys, so nothing commits twice.
//
// The leader opens rounds (replica_rounds + the store's rounds row) and closes
// them when the goal is reached or the deadline passed: in ONE transaction it
// marks the round closing (waiting for uploads in flight), merges every
// replica's partial aggregate (aggregation/aggregator_state.h, MergeWith),
// applies the task's server optimizer, and commits the next versions
// (PostgresStore::CloseRoundIn) or records the round abandoned.
//
// Standbys retry the lock every `retry`. When the leader dies PostgreSQL ends
// its sessions and frees the lock; a standby takes it, bumps the epoch and
// carries on from the shared state: an open round stays open (its admissions
// and partials are all in the database) and closes as usual.
#ifndef FEDTINY_COORDINATOR_REPLICA_LEADER_H_
#define FEDTINY_COORDINATOR_REPLICA_LEADER_H_

#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "coordinator/clock.h"
#include "aggregation/aggregator.h"
#include "coordinator/pg_connection.h"
#include "coordinator/replica/metric_tally.h"
#include "coordinator/replica/task_model.h"
#include "coordinator/store.h"

namespace fedtiny::coordinator::replica {

// Runs on its own thread (Start/Stop); leading() and epoch() may be read from
// any thread. Owns its two connections (the lock session and the work one);
// borrows the store and the clock, which must outlive it.
class Leader {
 public:
  struct Options {
    std::string task;
    std::string replica_id;
    std::string conninfo;
    absl::Duration retry = absl::Milliseconds(200);  // Standbys try the lock this often.
    absl::Duration tick = absl::Milliseconds(50);    // The leader checks its round this often.
    int keep_rounds = 1000;  // Admissions and partials of older rounds are deleted.
  };

  Leader(Options options, Store* store, const Clock* clock)
      : options_(std::move(options)), store_(store), clock_(clock) {}
  ~Leader() { Stop(); }

  void Start();
  // Stop ends the thread (blocking) and closes the sessions: a leader's lock
  // is released at once.
  void Stop();
  [[nodiscard]] bool leading() const { return leading_.load(); }
  [[nodiscard]] int64_t epoch() const { return epoch_.load(); }

  // One leader step (tests drive it without the thread): opens the next round
  // if none is open, closes the open one if due. kAborted when fenced out.
  absl::Status Step();
  // Tries the lock once; true when this replica now leads.
  absl::StatusOr<bool> TryAcquire();

 private:
  struct Round {
    bool exists = false, open = false, done = false;
    int64_t round = 0, opened_ms = 0, deadline_ms = 0;
    int goal = 0, admitted = 0;
  };
  void Run();
  void StepDown();
  absl::Status Connect();
  absl::StatusOr<Round> ReadRound();
  // Kept out when the epoch moved on: kAborted.
  absl::Status CheckEpoch(PgConnection& c);
  absl::Status OpenNext(const TaskModel& model);
  absl::Status Close(const Round& round, const TaskModel& model);
  // The merged partials, per cluster; `reported` their update count;
  // `metrics` the tallies per cluster.
  absl::StatusOr<std::map<int, std::unique_ptr<aggregation::Aggregator>>> Merge(
      PgConnection& c, const Round& round, const TaskModel& model, int* reported,
      std::map<int, MetricTally>* metrics);
  absl::StatusOr<std::shared_ptr<const TaskModel>> Model();

  const Options options_;
  Store* const store_;
  const Clock* const clock_;
  std::unique_ptr<PgConnection> lock_conn_;  // Leader thread only.
  std::unique_ptr<PgConnection> work_conn_;  // Leader thread only.
  std::shared_ptr<const TaskModel> model_;   // Leader thread only: the newest versions; null: reload.
  std::atomic<bool> leading_{false};
  std::atomic<int64_t> epoch_{0};
  absl::Notification stop_;
  std::thread thread_;
};

}  // namespace fedtiny::coordinator::replica

#endif  // FEDTINY_COORDINATOR_REPLICA_LEADER_H_
