// The Federation API of one replica (CheckIn, Download, Upload, ReportFailure)
// over the shared round state in PostgreSQL (schema.h): any replica admits any
// device and accepts any upload; the leader (leader.h) opens and closes rounds.
//
// Exactly once: an upload marks its token used AND folds its delta into this
// replica's partial aggregate of the round and cluster in ONE transaction, so
// it is counted once or not at all, whatever process dies when. The codes are
// the full coordinator's (docs/protocol.md).
//
// Not served by replicas (a full coordinator does): enrollment and encrypted
// bundles, model trust, asynchronous tasks, cluster
// warm-up, the device-id registry across rounds (a device's id is bound to its
// secret per round), metering and telemetry.
#ifndef FEDTINY_COORDINATOR_REPLICA_FRONTEND_H_
#define FEDTINY_COORDINATOR_REPLICA_FRONTEND_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "aggregation/random_source.h"
#include "coordinator/clock.h"
#include "coordinator/replica/pg_pool.h"
#include "coordinator/replica/task_model.h"
#include "coordinator/store.h"
#include "proto/federation.pb.h"

namespace fedtiny::coordinator::replica {

// Thread-safe. Borrows the pools, the store (for models), the clock and the
// random source (used under the frontend's own lock); all must outlive it.
// `admissions` runs check-ins: its sessions commit without waiting for the
// WAL flush (synchronous_commit = off), so a PostgreSQL crash can lose the
// last admissions (those devices' uploads are refused as bad_token and they
// check in again), never an upload: `pool`'s commits are synchronous and flush
// the WAL up to them, admissions included.
//
// Most check-ins of a large fleet find no room (the round is full, or between
// rounds). Once the frontend saw that, it answers "come back later" from memory
// for `full_for` (so a new round's first admissions through this replica wait
// at most that long): those answers cost no PostgreSQL statement.
class Frontend {
 public:
  Frontend(std::string task, std::string replica_id, PgPool* pool, PgPool* admissions,
           Store* store, const Clock* clock, aggregation::RandomSource* random,
           std::shared_ptr<const TaskModel> model, absl::Duration full_for)
      : task_(std::move(task)), replica_id_(std::move(replica_id)), full_for_(full_for),
        pool_(pool), admissions_(admissions), store_(store), clock_(clock), random_(random),
        model_(std::move(model)) {}

  // Codes as docs/protocol.md; kUnavailable when PostgreSQL cannot be reached.
  absl::StatusOr<v1::CheckInResponse> CheckIn(const v1::CheckInRequest& request);
  absl::StatusOr<v1::DownloadResponse> Download(const v1::DownloadRequest& request);
  absl::Status Upload(const v1::UploadRequest& request);
  absl::Status ReportFailure(const v1::FailureReport& report);

 private:
  // The task's current round as the replica_rounds row says.
  struct Current {
    bool exists = false;
    int64_t round = 0;
    bool open = false, closing = false, done = false;
    int64_t deadline_ms = 0;
  };
  static absl::StatusOr<Current> ReadCurrent(PgConnection& c, const std::string& task,
                                             const char* lock = "");
  // The models devices get in `round` (the open one): the newest versions,
  // loaded from the store once per round.
  absl::StatusOr<std::shared_ptr<const TaskModel>> ModelFor(int64_t round);
  std::shared_ptr<const TaskModel> AnyModel();
  std::string NewToken();
  // The admission part of CheckIn: the round admitted into (0: none, with
  // `retry` set) or an error.
  absl::StatusOr<int64_t> Admit(PgConnection& c, const v1::CheckInRequest& r,
                                const std::string& key, const std::string& token_hash,
                                v1::CheckInResponse& retry, int64_t* deadline_ms);
  // The accepting part of Upload, in its transaction.
  absl::Status Accept(PgConnection& c, const coordinator::Upload& u, const std::string& device_key,
                      const TaskModel& model);

  // Whether check-ins are answered "come back later" from memory until then
  // (a full round, or none open), without reaching PostgreSQL.
  bool KnownFull();
  void MarkFull();

  const std::string task_;
  const std::string replica_id_;
  const absl::Duration full_for_;
  PgPool* const pool_;
  PgPool* const admissions_;
  Store* const store_;
  const Clock* const clock_;
  absl::Mutex random_mu_;
  aggregation::RandomSource* const random_ ABSL_PT_GUARDED_BY(random_mu_);
  absl::Mutex mu_;
  std::shared_ptr<const TaskModel> model_ ABSL_GUARDED_BY(mu_);
  int64_t model_round_ ABSL_GUARDED_BY(mu_) = -1;  // The round model_ is for; -1: startup.
  absl::Mutex full_mu_;
  absl::Time full_until_ ABSL_GUARDED_BY(full_mu_) = absl::InfinitePast();
};

}  // namespace fedtiny::coordinator::replica

#endif  // FEDTINY_COORDINATOR_REPLICA_FRONTEND_H_
