#include "coordinator/replica/frontend.h"

#include <algorithm>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "aggregation/aggregator_state.h"
#include "aggregation/factory.h"
#include "coordinator/coordinator.h"
#include "coordinator/round_engine.h"
#include "coordinator/replica/metric_tally.h"
#include "coordinator/task_config.h"
#include "coordinator/task_runner.h"
#include "proto/delta_codec.h"
#include "tools/base/constant_time.h"
#include "tools/base/status_macros.h"

namespace fedtiny::coordinator::replica {

namespace {

constexpr int64_t kDefaultChunk = 256 << 10;
constexpr int64_t kMaxChunk = 4 << 20;

v1::CheckInResponse Retry(absl::Duration earliest, absl::Duration latest) {
  v1::CheckInResponse out;
  out.mutable_retry()->set_earliest_ms(absl::ToInt64Milliseconds(earliest));
  out.mutable_retry()->set_latest_ms(absl::ToInt64Milliseconds(latest));
  return out;
}

}  // namespace

absl::StatusOr<Frontend::Current> Frontend::ReadCurrent(PgConnection& c, const std::string& task,
                                                        const char* lock) {
  ASSIGN_OR_RETURN(PgResult r, c.Exec(absl::StrCat("SELECT round, open, closing, done, deadline_ms "
                                                   "FROM replica_rounds WHERE task = $1",
                                                   lock),
                                      PgParams().Add(task)));
  Current cur;
  if (r.rows() == 0) return cur;
  cur.exists = true;
  cur.round = r.Int(0, 0);
  cur.open = r.Int(0, 1) != 0;
  cur.closing = r.Int(0, 2) != 0;
  cur.done = r.Int(0, 3) != 0;
  cur.deadline_ms = r.Int(0, 4);
  return cur;
}

std::shared_ptr<const TaskModel> Frontend::AnyModel() {
  absl::MutexLock lock(&mu_);
  return model_;
}

absl::StatusOr<std::shared_ptr<const TaskModel>> Frontend::ModelFor(int64_t round) {
  absl::MutexLock lock(&mu_);
  if (model_round_ != round) {
    // Round `round` opened after the previous one committed: the newest
    // versions now are the ones its devices train from.
    ASSIGN_OR_RETURN(model_, TaskModel::Load(*store_, task_));
    model_round_ = round;
  }
  return model_;
}

bool Frontend::KnownFull() {
  absl::MutexLock lock(&full_mu_);
  return clock_->Now() < full_until_;
}

void Frontend::MarkFull() {
  absl::MutexLock lock(&full_mu_);
  full_until_ = clock_->Now() + full_for_;
}

std::string Frontend::NewToken() {
  uint64_t words[2];
  {
    absl::MutexLock lock(&random_mu_);
    random_->Fill(absl::MakeSpan(words, 2));
  }
  return absl::BytesToHexString(absl::string_view(reinterpret_cast<const char*>(words), sizeof(words)));
}

absl::StatusOr<int64_t> Frontend::Admit(PgConnection& c, const v1::CheckInRequest& r,
                                        const std::string& key, const std::string& token_hash,
                                        v1::CheckInResponse& retry, int64_t* deadline_ms) {
  // Two statements, each its own transaction on the admissions pool
  // (synchronous_commit off, see Replica): the round with this device's
  // admission if any, then the admission. The round's slot row is locked only
  // inside the second statement, never across a round trip.
  ASSIGN_OR_RETURN(PgResult cur, c.Exec(
      "SELECT r.round, r.open AND NOT r.closing, r.done, r.deadline_ms, a.device_key, a.used, "
      "a.device_id IS NOT NULL FROM replica_rounds r LEFT JOIN replica_admissions a ON "
      "a.task = r.task AND a.round = r.round AND a.device_id = $2 WHERE r.task = $1",
      PgParams().Add(task_).Add(r.device_id())));
  if (cur.rows() > 0 && cur.Int(0, 2) != 0) {
    retry = Retry(absl::Hours(6), absl::Hours(12));
    return 0;
  }
  if (cur.rows() == 0 || cur.Int(0, 1) == 0) {
    retry = Retry(absl::Seconds(1), absl::Seconds(5));  // Between rounds.
    MarkFull();
    return 0;
  }
  const int64_t round = cur.Int(0, 0);
  *deadline_ms = cur.Int(0, 3);
  // The round's models before its slot: a failure here must not cost a slot
  // that no device would ever hold.
  RETURN_IF_ERROR(ModelFor(round).status());
  if (cur.Int(0, 6) != 0) {
    if (!ConstantTimeEquals(cur.Bytes(0, 4), key)) {
      return absl::PermissionDeniedError("check-in: device_id is bound to another device_secret");
    }
    if (cur.Int(0, 5) != 0) {  // Reported already: back after this round.
      const absl::Duration left =
          absl::Milliseconds(std::max<int64_t>(*deadline_ms - absl::ToUnixMillis(clock_->Now()), 1000));
      retry = Retry(left, left + absl::Seconds(30));
      return 0;
    }
    // Admitted again (its app restarted): a fresh token replaces the old one.
    ASSIGN_OR_RETURN(PgResult again, c.Exec(
        "UPDATE replica_admissions SET token_hash = $1, replica = $2 WHERE task = $3 AND "
        "round = $4 AND device_id = $5 AND NOT used RETURNING 1",
        PgParams().Add(token_hash).Add(replica_id_).Add(task_).Add(round).Add(r.device_id())));
    if (again.rows() == 0) retry = Retry(absl::Seconds(1), absl::Seconds(5));  // It just uploaded.
    return again.rows() == 0 ? 0 : round;
  }
  // A slot and the admission in one statement: both or neither. A second
  // check-in of the same device racing this one hits the unique key.
  ASSIGN_OR_RETURN(PgResult admitted, c.Exec(
      "WITH slot AS (UPDATE replica_rounds SET admitted = admitted + 1 WHERE task = $1 AND "
      "round = $2 AND open AND NOT closing AND admitted < cap RETURNING round) "
      "INSERT INTO replica_admissions(task, round, token_hash, device_id, device_key, replica) "
      "SELECT $1, round, $3, $4, $5, $6 FROM slot RETURNING round",
      PgParams().Add(task_).Add(round).Add(token_hash).Add(r.device_id()).Add(key).Add(replica_id_)));
  if (admitted.rows() == 0) {
    retry = Retry(absl::Seconds(1), absl::Seconds(5));  // Round full (or just closed).
    MarkFull();
    return 0;
  }
  return round;
}

absl::StatusOr<v1::CheckInResponse> Frontend::CheckIn(const v1::CheckInRequest& r) {
  RETURN_IF_ERROR(ValidateCheckIn(r));
  const std::shared_ptr<const TaskModel> any = AnyModel();
  if (r.population() != any->config.population()) return Retry(absl::Minutes(1), absl::Minutes(5));
  const DeviceStatus status{r.state().charging(), r.state().idle(), r.state().unmetered_network(),
                            r.state().battery_percent(), false};
  if (!any->engine.eligibility.Allows(status)) return Retry(absl::Minutes(1), absl::Minutes(5));
  if (KnownFull()) return Retry(absl::Seconds(1), absl::Seconds(5));
  const std::string key = SecretKeyOf(r.device_secret());
  const std::string token = NewToken();
  v1::CheckInResponse out;
  int64_t round = 0, deadline_ms = 0;
  absl::Status s = admissions_->Run([&](PgConnection& c) -> absl::Status {
    out.Clear();
    ASSIGN_OR_RETURN(round, Admit(c, r, key, SecretKeyOf(token), out, &deadline_ms));
    return absl::OkStatus();
  });
  // Two check-ins of one device raced for its admission (or a retried
  // statement had landed): come back, and be admitted again then.
  if (s.code() == absl::StatusCode::kAlreadyExists) return Retry(absl::Seconds(1), absl::Seconds(5));
  RETURN_IF_ERROR(s);
  if (round == 0) return out;
  ASSIGN_OR_RETURN(std::shared_ptr<const TaskModel> model, ModelFor(round));
  const std::string variant = VariantFor(model->config, r.device_class(), r.capabilities());
  v1::Assignment* a = out.mutable_assignment();
  a->set_task(task_);
  a->set_round(round);
  a->set_upload_token(token);
  *a->mutable_plan() = model->config.plan();
  a->set_compression(model->config.compression());
  a->set_deadline_ms(std::max<int64_t>(deadline_ms - absl::ToUnixMillis(clock_->Now()), 0));
  for (const auto& [cluster, m] : model->models) *a->add_bundles() = model->bundles.at({cluster, variant})->meta;
  return out;
}

absl::StatusOr<v1::DownloadResponse> Frontend::Download(const v1::DownloadRequest& r) {
  if (r.task() != task_) return absl::NotFoundError(absl::StrCat("no task ", r.task()));
  bool admitted = false;
  Current cur;
  RETURN_IF_ERROR(pool_->Run([&](PgConnection& c) -> absl::Status {
    ASSIGN_OR_RETURN(cur, ReadCurrent(c, task_));
    ASSIGN_OR_RETURN(PgResult a, c.Exec("SELECT 1 FROM replica_admissions WHERE task = $1 AND "
                                        "round = $2 AND token_hash = $3",
                                        PgParams().Add(task_).Add(r.round())
                                            .Add(SecretKeyOf(r.upload_token()))));
    admitted = a.rows() > 0;
    return absl::OkStatus();
  }));
  if (!cur.open || cur.round != r.round()) {
    return absl::NotFoundError(absl::StrCat("round ", r.round(), " is not open"));
  }
  if (!admitted) return absl::PermissionDeniedError("upload token was not issued for this round");
  ASSIGN_OR_RETURN(std::shared_ptr<const TaskModel> model, ModelFor(cur.round));
  const std::string variant = r.variant().empty() ? "float32" : r.variant();
  auto it = model->bundles.find({r.cluster(), variant});
  if (it == model->bundles.end()) {
    return absl::NotFoundError(absl::StrCat("no bundle for cluster ", r.cluster(), " variant ", variant));
  }
  const std::string& served = it->second->served();
  if (r.offset() < 0 || r.offset() > static_cast<int64_t>(served.size())) {
    return absl::OutOfRangeError(absl::StrCat("offset ", r.offset(), " outside [0, ", served.size(), "]"));
  }
  const int64_t chunk = r.max_bytes() > 0 ? std::min<int64_t>(r.max_bytes(), kMaxChunk) : kDefaultChunk;
  v1::DownloadResponse out;
  *out.mutable_bundle() = it->second->meta;
  out.set_offset(r.offset());
  out.set_data(served.substr(r.offset(), chunk));
  return out;
}

absl::Status Frontend::Accept(PgConnection& c, const coordinator::Upload& u,
                              const std::string& device_key, const TaskModel& model) {
  // The round row FOR KEY SHARE: the leader's close (FOR UPDATE) waits for
  // this transaction, and any upload after the close sees the round closed;
  // check-ins (UPDATE admitted, a no-key update) do not conflict with it.
  ASSIGN_OR_RETURN(Current cur, ReadCurrent(c, task_, " FOR KEY SHARE"));
  if (u.round < 1 || u.round > cur.round) {
    return absl::NotFoundError(absl::StrCat("round ", u.round, " was never opened"));
  }
  if (u.round < cur.round || !cur.open) {
    return absl::DeadlineExceededError(absl::StrCat("round ", u.round, " is closed"));
  }
  const PgParams token = PgParams().Add(task_).Add(u.round).Add(SecretKeyOf(u.token));
  ASSIGN_OR_RETURN(PgResult a, c.Exec("SELECT device_id, device_key, used FROM replica_admissions "
                                      "WHERE task = $1 AND round = $2 AND token_hash = $3 FOR UPDATE",
                                      token));
  if (a.rows() == 0) return absl::PermissionDeniedError("upload token was not issued for this round");
  if (!ConstantTimeEquals(a.Bytes(0, 1), device_key)) {
    return absl::PermissionDeniedError("upload token was issued to another device");
  }
  if (cur.closing || absl::ToUnixMillis(clock_->Now()) > cur.deadline_ms) {
    return absl::DeadlineExceededError(absl::StrCat("round ", u.round, " passed its deadline"));
  }
  if (a.Int(0, 2) != 0) return absl::AlreadyExistsError("this token already uploaded");
  RETURN_IF_ERROR(CheckUploadFields(model.engine, u, static_cast<int>(model.models.size())));
  if (u.model_version != model.models.at(u.cluster).version) {
    return absl::FailedPreconditionError(absl::StrCat("update trained from version ", u.model_version,
                                                      ", cluster ", u.cluster, " is at ",
                                                      model.models.at(u.cluster).version));
  }
  ASSIGN_OR_RETURN(PgResult used, c.Exec("UPDATE replica_admissions SET used = true WHERE task = $1 "
                                         "AND round = $2 AND token_hash = $3 AND NOT used",
                                         token));
  if (used.Affected() != 1) return absl::AbortedError("upload raced with another; retry");
  // The partial row exists before it is read FOR UPDATE: two first uploads
  // racing on an absent row would each start from nothing, and one would
  // overwrite the other.
  const PgParams key = PgParams().Add(task_).Add(u.round).Add(replica_id_).Add(u.cluster);
  RETURN_IF_ERROR(c.Exec("INSERT INTO replica_partials(task, round, replica, cluster, state, "
                         "updates) VALUES($1, $2, $3, $4, ''::bytea, 0) ON CONFLICT DO NOTHING",
                         key)
                      .status());
  ASSIGN_OR_RETURN(PgResult partial, c.Exec("SELECT state, updates, metric_sums, metric_weights "
                                            "FROM replica_partials WHERE "
                                            "task = $1 AND round = $2 AND replica = $3 AND "
                                            "cluster = $4 FOR UPDATE",
                                            key));
  ASSIGN_OR_RETURN(std::unique_ptr<aggregation::Aggregator> agg,
                   aggregation::MakeAggregator(model.engine.aggregator, model.engine.dim));
  if (partial.Int(0, 1) > 0) RETURN_IF_ERROR(aggregation::LoadState(partial.Bytes(0, 0), *agg));
  absl::Status s = agg->Accumulate(u.delta, static_cast<double>(u.example_count),
                                   {a.Bytes(0, 0), u.cluster});
  if (!s.ok()) return absl::InvalidArgumentError(s.message());  // Malformed, as the engine says.
  ASSIGN_OR_RETURN(std::string state, aggregation::SaveState(*agg));
  ASSIGN_OR_RETURN(MetricTally metrics, MetricTally::Parse(partial.Bytes(0, 2), partial.Bytes(0, 3)));
  metrics.Add(u, model.engine.accepted_metrics);
  PgParams row = PgParams().Add(state).Add(agg->num_updates()).Add(metrics.SerializedSums())
                     .Add(metrics.SerializedWeights()).Add(task_).Add(u.round).Add(replica_id_)
                     .Add(u.cluster);
  ASSIGN_OR_RETURN(PgResult updated,
                   c.Exec("UPDATE replica_partials SET state = $1, updates = $2, metric_sums = $3, "
                          "metric_weights = $4 WHERE task = $5 AND round = $6 AND replica = $7 AND "
                          "cluster = $8",
                          row));
  if (updated.Affected() != 1) return absl::InternalError("partial aggregate row vanished");
  return absl::OkStatus();
}

absl::Status Frontend::Upload(const v1::UploadRequest& r) {
  if (r.task() != task_) return absl::NotFoundError(absl::StrCat("no task ", r.task()));
  coordinator::Upload u;
  u.round = r.round();
  u.token = r.upload_token();
  u.cluster = r.cluster();
  u.model_version = r.model_version();
  u.example_count = r.example_count();
  for (const auto& [k, v] : r.metrics()) u.metrics[k] = v;
  {
    const std::shared_ptr<const TaskModel> any = AnyModel();
    DecodeUploadDelta(task_, any->compression, any->engine.dim, r, u);
  }
  // The models of the round the upload names, if it is the open one; any
  // other round is refused (late, wrong_round) before the model matters.
  Current cur;
  RETURN_IF_ERROR(pool_->Run([&](PgConnection& c) -> absl::Status {
    ASSIGN_OR_RETURN(cur, ReadCurrent(c, task_));
    return absl::OkStatus();
  }));
  std::shared_ptr<const TaskModel> model;
  if (cur.open && cur.round == u.round) {
    ASSIGN_OR_RETURN(model, ModelFor(cur.round));
  } else {
    model = AnyModel();
  }
  const std::string device_key = SecretKeyOf(r.device_secret());
  return pool_->Transaction([&](PgConnection& c) { return Accept(c, u, device_key, *model); });
}

absl::Status Frontend::ReportFailure(const v1::FailureReport& r) {
  if (r.task() != task_) return absl::NotFoundError(absl::StrCat("no task ", r.task()));
  return pool_->Transaction([&](PgConnection& c) -> absl::Status {
    const PgParams token = PgParams().Add(task_).Add(r.round()).Add(SecretKeyOf(r.upload_token()));
    ASSIGN_OR_RETURN(PgResult a, c.Exec("SELECT 1 FROM replica_admissions WHERE task = $1 AND "
                                        "round = $2 AND token_hash = $3",
                                        token));
    if (a.rows() == 0) return absl::PermissionDeniedError("upload token was not issued for this round");
    return c.Exec("UPDATE replica_admissions SET failed = true WHERE task = $1 AND round = $2 AND "
                  "token_hash = $3 AND NOT used",
                  token)
        .status();
  });
}

}  // namespace fedtiny::coordinator::replica
