#include "coordinator/replica/leader.h"

#include <cmath>
#include <utility>

#include "absl/strings/str_cat.h"
#include "aggregation/aggregator_state.h"
#include "aggregation/factory.h"
#include "aggregation/server_optimizer.h"
#include "coordinator/postgres_store.h"
#include "coordinator/replica/schema.h"
#include "proto/admin.pb.h"
#include "tools/base/logging.h"
#include "tools/base/status_macros.h"

namespace fedtiny::coordinator::replica {

void Leader::Start() { thread_ = std::thread([this] { Run(); }); }

void Leader::Stop() {
  if (!thread_.joinable()) return;
  stop_.Notify();
  thread_.join();
  StepDown();
}

void Leader::StepDown() {
  if (leading_.exchange(false)) FT_LOG(WARNING) << "replica " << options_.replica_id << ": no longer leads " << options_.task;
  lock_conn_.reset();  // Ending the session releases the lock.
  model_.reset();
}

absl::Status Leader::Connect() {
  if (lock_conn_ == nullptr || lock_conn_->broken()) {
    ASSIGN_OR_RETURN(lock_conn_, PgConnection::Connect(options_.conninfo));
  }
  if (work_conn_ == nullptr || work_conn_->broken()) {
    ASSIGN_OR_RETURN(work_conn_, PgConnection::Connect(options_.conninfo));
  }
  return absl::OkStatus();
}

absl::StatusOr<bool> Leader::TryAcquire() {
  RETURN_IF_ERROR(Connect());
  ASSIGN_OR_RETURN(PgResult r, lock_conn_->Exec("SELECT pg_try_advisory_lock($1::int4, hashtext($2))",
                                                PgParams().Add(kLeaderLockSpace).Add(options_.task)));
  if (r.Int(0, 0) == 0) return false;
  int64_t epoch = 0;
  absl::Status s = work_conn_->Transaction([&]() -> absl::Status {
    ASSIGN_OR_RETURN(PgResult e, work_conn_->Exec(
        "INSERT INTO replica_leases VALUES($1, 1, $2, $3) ON CONFLICT (task) DO UPDATE SET "
        "epoch = replica_leases.epoch + 1, leader = excluded.leader, since_ms = excluded.since_ms "
        "RETURNING epoch",
        PgParams().Add(options_.task).Add(options_.replica_id).Add(absl::ToUnixMillis(clock_->Now()))));
    epoch = e.Int(0, 0);
    return absl::OkStatus();
  });
  if (!s.ok()) {
    StepDown();
    return s;
  }
  epoch_.store(epoch);
  leading_.store(true);
  FT_LOG(INFO) << "replica " << options_.replica_id << " leads " << options_.task << " (epoch "
               << epoch << ")";
  return true;
}

void Leader::Run() {
  while (!stop_.HasBeenNotified()) {
    if (!leading_.load()) {
      absl::StatusOr<bool> got = TryAcquire();
      if (!got.ok()) FT_LOG(WARNING) << "replica " << options_.replica_id << ": " << got.status();
      if (!got.ok() || !*got) stop_.WaitForNotificationWithTimeout(options_.retry);
      continue;
    }
    absl::Status s = Step();
    if (!s.ok()) {
      FT_LOG(WARNING) << "replica " << options_.replica_id << " leading " << options_.task << ": " << s;
      // A commit whose answer was lost may have landed: start again from the store.
      model_.reset();
      // Fenced out, or the lock's session is gone: leadership may have moved.
      if (s.code() == absl::StatusCode::kAborted || lock_conn_ == nullptr || lock_conn_->broken()) {
        StepDown();
      }
    }
    stop_.WaitForNotificationWithTimeout(options_.tick);
  }
}

absl::StatusOr<std::shared_ptr<const TaskModel>> Leader::Model() {
  if (model_ == nullptr) {
    ASSIGN_OR_RETURN(model_, TaskModel::Load(*store_, options_.task));
  }
  return model_;
}

absl::StatusOr<Leader::Round> Leader::ReadRound() {
  ASSIGN_OR_RETURN(PgResult r, work_conn_->Exec(
      "SELECT round, open, done, opened_ms, deadline_ms, goal, admitted FROM replica_rounds "
      "WHERE task = $1",
      PgParams().Add(options_.task)));
  Round out;
  if (r.rows() == 0) return out;
  out.exists = true;
  out.round = r.Int(0, 0);
  out.open = r.Int(0, 1) != 0;
  out.done = r.Int(0, 2) != 0;
  out.opened_ms = r.Int(0, 3);
  out.deadline_ms = r.Int(0, 4);
  out.goal = static_cast<int>(r.Int(0, 5));
  out.admitted = static_cast<int>(r.Int(0, 6));
  return out;
}

absl::Status Leader::CheckEpoch(PgConnection& c) {
  ASSIGN_OR_RETURN(PgResult r, c.Exec("SELECT epoch FROM replica_leases WHERE task = $1 FOR UPDATE",
                                      PgParams().Add(options_.task)));
  if (r.rows() == 0 || r.Int(0, 0) != epoch_.load()) {
    return absl::AbortedError(absl::StrCat("fenced: epoch ", epoch_.load(), " is no longer current"));
  }
  return absl::OkStatus();
}

absl::Status Leader::Step() {
  // The lock's session must be alive: if it died, another replica may lead.
  if (lock_conn_ == nullptr || !lock_conn_->Exec("SELECT 1").ok()) {
    return absl::AbortedError("the leadership session is gone");
  }
  ASSIGN_OR_RETURN(std::shared_ptr<const TaskModel> model, Model());
  ASSIGN_OR_RETURN(Round round, ReadRound());
  if (round.done) return absl::OkStatus();
  if (!round.exists || !round.open) return OpenNext(*model);
  ASSIGN_OR_RETURN(PgResult r, work_conn_->Exec(
      "SELECT COALESCE(SUM(updates), 0)::bigint FROM replica_partials WHERE task = $1 AND round = $2",
      PgParams().Add(options_.task).Add(round.round)));
  if (r.Int(0, 0) < round.goal && absl::ToUnixMillis(clock_->Now()) < round.deadline_ms) {
    return absl::OkStatus();
  }
  return Close(round, *model);
}

absl::Status Leader::OpenNext(const TaskModel& model) {
  const EngineConfig& e = model.engine;
  const int64_t now = absl::ToUnixMillis(clock_->Now());
  PgConnection& c = *work_conn_;
  return c.Transaction([&]() -> absl::Status {
    RETURN_IF_ERROR(CheckEpoch(c));
    const PgParams task = PgParams().Add(options_.task);
    ASSIGN_OR_RETURN(PgResult n, c.Exec("SELECT COUNT(*) FILTER (WHERE state = 2), "
                                        "COALESCE(MAX(round), 0) FROM rounds WHERE task = $1",
                                        task));
    if (n.Int(0, 0) >= e.rounds) {
      return c.Exec("INSERT INTO replica_rounds(task, round, open, opened_ms, deadline_ms, goal, "
                    "cap, done) VALUES($1, $2, false, 0, 0, 0, 0, true) ON CONFLICT (task) DO "
                    "UPDATE SET open = false, done = true",
                    PgParams().Add(options_.task).Add(n.Int(0, 1)))
          .status();
    }
    const int64_t next = n.Int(0, 1) + 1;
    RETURN_IF_ERROR(c.Exec("INSERT INTO rounds VALUES($1, $2, 1, $3, 0, '')",
                           PgParams().Add(options_.task).Add(next).Add(now))
                        .status());
    const int64_t cap = static_cast<int64_t>(std::ceil(e.goal * e.over_selection));
    return c.Exec("INSERT INTO replica_rounds(task, round, open, opened_ms, deadline_ms, goal, cap) "
                  "VALUES($1, $2, true, $3, $4, $5, $6) ON CONFLICT (task) DO UPDATE SET round = "
                  "excluded.round, open = true, closing = false, opened_ms = excluded.opened_ms, "
                  "deadline_ms = excluded.deadline_ms, goal = excluded.goal, cap = excluded.cap, "
                  "admitted = 0, done = false",
                  PgParams().Add(options_.task).Add(next).Add(now)
                      .Add(now + absl::ToInt64Milliseconds(e.deadline)).Add(e.goal).Add(cap))
        .status();
  });
}

absl::StatusOr<std::map<int, std::unique_ptr<aggregation::Aggregator>>> Leader::Merge(
    PgConnection& c, const Round& round, const TaskModel& model, int* reported,
    std::map<int, MetricTally>* metrics) {
  ASSIGN_OR_RETURN(PgResult p, c.Exec("SELECT cluster, state, updates, metric_sums, metric_weights "
                                      "FROM replica_partials WHERE "
                                      "task = $1 AND round = $2 ORDER BY replica, cluster",
                                      PgParams().Add(options_.task).Add(round.round)));
  std::map<int, std::unique_ptr<aggregation::Aggregator>> out;
  *reported = 0;
  int64_t merged_updates = 0;
  for (int i = 0; i < p.rows(); ++i) {
    if (p.Int(i, 2) == 0) continue;  // Created by an upload that then failed: empty.
    const int cluster = static_cast<int>(p.Int(i, 0));
    ASSIGN_OR_RETURN(std::unique_ptr<aggregation::Aggregator> part,
                     aggregation::MakeAggregator(model.engine.aggregator, model.engine.dim));
    RETURN_IF_ERROR(aggregation::LoadState(p.Bytes(i, 1), *part));
    std::unique_ptr<aggregation::Aggregator>& merged = out[cluster];
    if (merged == nullptr) {
      merged = std::move(part);
    } else {
      RETURN_IF_ERROR(merged->MergeWith(std::move(*part)));
    }
    *reported += static_cast<int>(p.Int(i, 2));
    ASSIGN_OR_RETURN(MetricTally tally, MetricTally::Parse(p.Bytes(i, 3), p.Bytes(i, 4)));
    (*metrics)[cluster].Merge(tally);
  }
  for (const auto& [cluster, agg] : out) merged_updates += agg->num_updates();
  // Every upload marked used is in exactly one partial (one transaction).
  ASSIGN_OR_RETURN(PgResult used, c.Exec("SELECT COUNT(*) FROM replica_admissions WHERE task = $1 "
                                         "AND round = $2 AND used",
                                         PgParams().Add(options_.task).Add(round.round)));
  if (used.Int(0, 0) != *reported || merged_updates != *reported) {
    return absl::DataLossError(absl::StrCat("round ", round.round, ": ", used.Int(0, 0),
                                            " uploads marked used, partials count ", *reported,
                                            " and hold ", merged_updates));
  }
  return out;
}

// The new head of each cluster whose aggregate can report: the server
// optimizer's step from the round's base model, as RoundEngine applies it.
namespace {

absl::StatusOr<VersionRow> NextVersion(const TaskModel& model, int cluster,
                                       aggregation::Aggregator& agg, int64_t round, int64_t now_ms) {
  const ClusterModel& base = model.models.at(cluster);
  const int64_t participants = agg.num_updates();
  ASSIGN_OR_RETURN(Eigen::VectorXf delta, agg.Report());
  ASSIGN_OR_RETURN(aggregation::ServerOptimizerConfig oc,
                   aggregation::ParseServerOptimizer(model.engine.server_optimizer));
  absl::StatusOr<aggregation::ServerOptimizer> opt =
      base.optimizer_state.empty()
          ? absl::StatusOr<aggregation::ServerOptimizer>(aggregation::ServerOptimizer(oc, model.engine.dim))
          : aggregation::ServerOptimizer::Restore(base.optimizer_state);
  RETURN_IF_ERROR(opt.status());
  Eigen::VectorXf head = Eigen::Map<const Eigen::VectorXf>(base.head.data(), model.engine.dim);
  RETURN_IF_ERROR(opt->Apply(delta, head));
  if (!head.allFinite()) return absl::InvalidArgumentError("non-finite aggregate");
  const std::vector<float> flat(head.data(), head.data() + head.size());
  ASSIGN_OR_RETURN(BundleMap b, BuildBundles(model.config, model.templates, cluster, base.version + 1, flat));
  const Bundle& f32 = *b.at({cluster, "float32"});
  VersionRow v;
  v.task = model.config.name();
  v.cluster = cluster;
  v.version = base.version + 1;
  v.parent_version = base.version;
  v.round = round;
  v.aggregator = model.config.aggregator();
  v.participants = static_cast<int32_t>(participants);
  v.model = f32.bytes;
  v.size_bytes = static_cast<int64_t>(v.model.size());
  v.sha256_hex = f32.sha256_hex;
  v.committed_ms = now_ms;
  v.optimizer_state = opt->Serialize();
  v.shared_prefix_bytes = model.body_prefix_bytes;
  return v;
}

}  // namespace

absl::Status Leader::Close(const Round& round, const TaskModel& model) {
  const int64_t now = absl::ToUnixMillis(clock_->Now());
  PgConnection& c = *work_conn_;
  bool committed = false;
  RETURN_IF_ERROR(c.Transaction([&]() -> absl::Status {
    RETURN_IF_ERROR(CheckEpoch(c));
    // FOR UPDATE waits for the uploads in flight (FOR KEY SHARE); later ones
    // wait for this transaction and then find the round closed.
    const PgParams which = PgParams().Add(options_.task).Add(round.round);
    ASSIGN_OR_RETURN(PgResult held, c.Exec("SELECT 1 FROM replica_rounds WHERE task = $1 AND round = "
                                           "$2 AND open FOR UPDATE",
                                           which));
    if (held.rows() != 1) return absl::AbortedError("the round changed under the leader");
    int reported = 0;
    std::map<int, MetricTally> metrics;
    ASSIGN_OR_RETURN(auto merged, Merge(c, round, model, &reported, &metrics));
    ASSIGN_OR_RETURN(PgResult failed, c.Exec("SELECT COUNT(*) FROM replica_admissions WHERE task = "
                                             "$1 AND round = $2 AND failed AND NOT used",
                                             PgParams().Add(options_.task).Add(round.round)));
    v1::RoundInfo info;
    info.set_task(options_.task);
    info.set_round(round.round);
    info.set_opened_ms(round.opened_ms);
    info.set_closed_ms(now);
    info.set_selected(round.admitted);
    info.set_reported(reported);
    info.set_failed(static_cast<int32_t>(failed.Int(0, 0)));
    info.set_aggregator(model.config.aggregator());
    MetricTally all;
    for (const auto& [cluster, tally] : metrics) {
      all.Merge(tally);
      for (const auto& [name, mean] : tally.Means()) {
        (*(*info.mutable_clusters())[cluster].mutable_metrics())[name] = mean;
      }
    }
    for (const auto& [name, mean] : all.Means()) (*info.mutable_metrics())[name] = mean;
    std::vector<VersionRow> versions;
    std::string reason;
    if (reported < model.engine.min_reports) {
      reason = absl::StrCat("too few reports (", reported, " < ", model.engine.min_reports, ")");
    }
    for (auto& [cluster, agg] : merged) {
      if (!reason.empty() || !agg->CanReport()) continue;
      absl::StatusOr<VersionRow> v = NextVersion(model, cluster, *agg, round.round, now);
      if (!v.ok()) {  // Never half-committed: one bad cluster abandons the round.
        reason = absl::StrCat("cluster ", cluster, ": ", v.status().message());
        continue;
      }
      (*info.mutable_clusters())[cluster].set_reported(v->participants);
      (*info.mutable_versions())[cluster] = v->version;
      versions.push_back(*std::move(v));
    }
    if (reason.empty() && versions.empty()) reason = "no cluster had enough updates to aggregate";
    committed = reason.empty();
    if (!committed) {
      versions.clear();
      info.clear_versions();
      info.set_reason(reason);
    }
    info.set_state(committed ? v1::COMMITTED : v1::ABANDONED);
    const RoundRow row{options_.task, round.round,
                       committed ? RoundState::kCommitted : RoundState::kAbandoned, round.opened_ms,
                       now, info.SerializeAsString()};
    RETURN_IF_ERROR(PostgresStore::CloseRoundIn(c, &row, versions));
    RETURN_IF_ERROR(c.Exec("UPDATE replica_rounds SET open = false, closing = false WHERE task = $1",
                           PgParams().Add(options_.task))
                        .status());
    for (const char* sql : {"DELETE FROM replica_admissions WHERE task = $1 AND round < $2",
                            "DELETE FROM replica_partials WHERE task = $1 AND round < $2"}) {
      RETURN_IF_ERROR(c.Exec(sql, PgParams().Add(options_.task).Add(round.round - options_.keep_rounds))
                          .status());
    }
    return absl::OkStatus();
  }));
  if (committed) model_.reset();  // The next round starts from the new versions.
  FT_LOG(INFO) << "replica " << options_.replica_id << ": round " << round.round << " of "
               << options_.task << (committed ? " committed" : " abandoned");
  return absl::OkStatus();
}

}  // namespace fedtiny::coordinator::replica
