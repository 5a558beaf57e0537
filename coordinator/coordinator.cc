#include "coordinator/coordinator.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "aggregation/factory.h"
#include "aggregation/server_optimizer.h"
#include "proto/model_codec.h"
#include "tools/base/logging.h"
#include "tools/base/sha256.h"
#include "tools/base/status_macros.h"

namespace fedtiny::coordinator {

namespace {

constexpr int kMaxDeviceIdBytes = 128;
constexpr int64_t kDefaultChunk = 256 << 10;
constexpr int64_t kMaxChunk = 4 << 20;
constexpr size_t kMaxEvents = 2000;
constexpr size_t kMaxDevicesTracked = 1'000'000;

int64_t Ms(absl::Time t) { return absl::ToUnixMillis(t); }

bool ValidName(const std::string& s) {
  if (s.empty() || s.size() > 64) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
  });
}

absl::Status ValidateCheckIn(const v1::CheckInRequest& r) {
  if (r.device_id().empty() || r.device_id().size() > kMaxDeviceIdBytes) {
    return absl::InvalidArgumentError("check-in: device_id must have 1 to 128 bytes");
  }
  if (r.state().battery_percent() < 0 || r.state().battery_percent() > 100) {
    return absl::InvalidArgumentError("check-in: state.battery_percent outside [0, 100]");
  }
  if (r.device_class().size() > 64 || r.population().size() > 64) {
    return absl::InvalidArgumentError("check-in: device_class and population take <= 64 bytes");
  }
  return absl::OkStatus();
}

EngineConfig EngineConfigOf(const v1::TaskConfig& c, int64_t dim) {
  EngineConfig e;
  e.task = c.name();
  e.rounds = c.rounds();
  e.goal = c.clients_per_round();
  e.over_selection = c.over_selection();
  e.min_reports = c.min_reports();
  e.deadline = absl::Milliseconds(c.round_deadline_ms());
  e.clusters = c.clusters();
  e.dim = dim;
  e.aggregator = c.aggregator();
  e.server_optimizer = c.server_optimizer();
  e.eligibility = Eligibility{c.eligibility().require_charging(), c.eligibility().require_idle(),
                              c.eligibility().require_unmetered(),
                              c.eligibility().min_battery_percent()};
  e.cooldown = absl::Milliseconds(c.cooldown_ms());
  for (const auto& [device_class, quota] : c.class_quota()) e.class_quota[device_class] = quota;
  return e;
}

}  // namespace

absl::StatusOr<v1::TaskConfig> ValidateTaskConfig(v1::TaskConfig c) {
  if (!ValidName(c.name())) {
    return absl::InvalidArgumentError("task: name must be 1-64 characters of [a-z0-9-]");
  }
  if (c.population().empty()) c.set_population(c.name());
  ASSIGN_OR_RETURN(client::Body body, BodyFromProto(c.model()));
  ASSIGN_OR_RETURN(client::Head head, HeadFromProto(c.model()));
  if (body.output_dim(c.model().input_dim()) != head.input_dim()) {
    return absl::InvalidArgumentError("task: the body's output width differs from the head's input");
  }
  v1::Plan* p = c.mutable_plan();
  if (p->epochs() == 0) p->set_epochs(1);
  if (p->batch_size() == 0) p->set_batch_size(10);
  if (p->learning_rate() == 0) p->set_learning_rate(0.05f);
  if (p->epochs() < 1 || p->batch_size() < 1 || !(p->learning_rate() > 0) ||
      !(p->momentum() >= 0 && p->momentum() < 1) || !(p->proximal_mu() >= 0) ||
      !(p->clip_norm() >= 0)) {
    return absl::InvalidArgumentError(
        "task: plan needs epochs >= 1, batch_size >= 1, learning_rate > 0, momentum in [0,1)");
  }
  if (c.rounds() == 0) c.set_rounds(10);
  if (c.clients_per_round() == 0) c.set_clients_per_round(10);
  if (c.over_selection() == 0) c.set_over_selection(1.3);
  if (c.min_reports() == 0) c.set_min_reports(std::max(1, c.clients_per_round() / 2));
  if (c.round_deadline_ms() == 0) c.set_round_deadline_ms(10 * 60 * 1000);
  if (c.aggregator().empty()) c.set_aggregator("fedavg");
  if (c.server_optimizer().empty()) c.set_server_optimizer("sgd");
  if (c.clusters() == 0) c.set_clusters(1);
  if (!c.has_eligibility()) {
    c.mutable_eligibility()->set_require_charging(true);
    c.mutable_eligibility()->set_require_idle(true);
    c.mutable_eligibility()->set_require_unmetered(true);
    c.mutable_eligibility()->set_min_battery_percent(50);
  }
  if (c.rounds() < 1 || c.clients_per_round() < 1 || !(c.over_selection() >= 1) ||
      c.min_reports() < 1 || c.min_reports() > c.clients_per_round() ||
      c.round_deadline_ms() < 1 || c.clusters() < 1 || c.clusters() > 64 ||
      c.cooldown_ms() < 0 || c.int8_below_ram_bytes() < 0 ||
      c.eligibility().min_battery_percent() < 0 || c.eligibility().min_battery_percent() > 100 ||
      std::any_of(c.class_quota().begin(), c.class_quota().end(),
                  [](const auto& q) { return q.second < 1; })) {
    return absl::InvalidArgumentError(
        "task: need rounds, clients_per_round >= 1; over_selection >= 1; "
        "1 <= min_reports <= clients_per_round; round_deadline_ms > 0; clusters in [1, 64]");
  }
  RETURN_IF_ERROR(aggregation::ParseAggregatorSpec(c.aggregator()).status());
  RETURN_IF_ERROR(aggregation::ParseServerOptimizer(c.server_optimizer()).status());
  return c;
}

absl::StatusOr<std::unique_ptr<Coordinator>> Coordinator::Create(
    std::unique_ptr<Store> store, const Clock* clock, aggregation::RandomSource* random) {
  std::unique_ptr<Coordinator> c(new Coordinator(std::move(store), clock, random));
  ASSIGN_OR_RETURN(int abandoned, c->store_->AbandonOpenRounds(Ms(clock->Now())));
  if (abandoned > 0) FT_LOG(WARNING) << abandoned << " round(s) open at the last stop: abandoned";
  ASSIGN_OR_RETURN(int orphans, c->store_->CollectGarbage());
  if (orphans > 0) FT_LOG(WARNING) << orphans << " unreferenced model blob(s) from an interrupted commit removed";
  ASSIGN_OR_RETURN(std::vector<TaskRow> rows, c->store_->Tasks());
  absl::MutexLock lock(&c->mu_);
  for (const TaskRow& row : rows) RETURN_IF_ERROR(c->LoadTask(row));
  return c;
}

absl::Status Coordinator::LoadTask(const TaskRow& row) {
  Task t;
  if (!t.config.ParseFromString(row.config)) {
    return absl::DataLossError(absl::StrCat("task ", row.name, ": stored config unreadable"));
  }
  t.state = row.state;
  t.created_ms = row.created_ms;
  ASSIGN_OR_RETURN(std::vector<VersionRow> latest, store_->LatestVersions(row.name));
  std::map<int, ClusterModel> models;
  for (const VersionRow& v : latest) {
    v1::Model m;
    if (!m.ParseFromString(v.model)) {
      return absl::DataLossError(absl::StrCat("task ", row.name, ": model blob unreadable"));
    }
    ASSIGN_OR_RETURN(std::vector<float> head, HeadParams(m));
    models[v.cluster] = ClusterModel{std::move(head), v.version, v.optimizer_state};
  }
  ASSIGN_OR_RETURN(std::vector<RoundRow> rounds, store_->Rounds(row.name, -1));
  const int committed = static_cast<int>(std::count_if(rounds.begin(), rounds.end(), [](const RoundRow& r) {
    return r.state == RoundState::kCommitted;
  }));
  ASSIGN_OR_RETURN(int64_t last, store_->LastRound(row.name));
  const int64_t dim = models.empty() ? 0 : static_cast<int64_t>(models.begin()->second.head.size());
  ASSIGN_OR_RETURN(t.engine, RoundEngine::Create(EngineConfigOf(t.config, dim), models, last + 1,
                                                 committed, random_));
  t.engine->set_paused(t.state == v1::PAUSED);
  Task& stored = tasks_[row.name] = std::move(t);
  for (const auto& [cluster, m] : models) {
    RETURN_IF_ERROR(BuildBundles(stored, cluster, m.version, m.head));
  }
  return absl::OkStatus();
}

absl::Status Coordinator::BuildBundles(Task& t, int cluster, int64_t version,
                                       const std::vector<float>& head) {
  v1::Model m = t.config.model();
  RETURN_IF_ERROR(SetHeadParams(head, m));
  for (const auto& [variant, model] :
       {std::pair<std::string, v1::Model>{"float32", m}, {"int8", Int8BodyVariant(m)}}) {
    Bundle b;
    b.bytes = model.SerializeAsString();
    ASSIGN_OR_RETURN(Sha256Digest d, Sha256(b.bytes));
    b.meta.set_task(t.config.name());
    b.meta.set_cluster(cluster);
    b.meta.set_version(version);
    b.meta.set_variant(variant);
    b.meta.set_size_bytes(static_cast<int64_t>(b.bytes.size()));
    b.meta.set_sha256(std::string(reinterpret_cast<const char*>(d.data()), d.size()));
    t.bundles[{cluster, variant}] = std::move(b);
  }
  return absl::OkStatus();
}

absl::StatusOr<Coordinator::Task*> Coordinator::Find(const std::string& name) {
  auto it = tasks_.find(name);
  if (it == tasks_.end()) return absl::NotFoundError(absl::StrCat("no task '", name, "'"));
  return &it->second;
}

absl::StatusOr<v1::TaskInfo> Coordinator::CreateTask(const v1::TaskConfig& raw) {
  ASSIGN_OR_RETURN(v1::TaskConfig config, ValidateTaskConfig(raw));
  absl::MutexLock lock(&mu_);
  if (tasks_.count(config.name())) {
    return absl::AlreadyExistsError(absl::StrCat("task '", config.name(), "' exists"));
  }
  ASSIGN_OR_RETURN(std::vector<float> head, HeadParams(config.model()));
  const int64_t now = Ms(clock_->Now());
  std::vector<VersionRow> initial;
  for (int k = 0; k < config.clusters(); ++k) {
    // Cluster heads start apart (a small seeded perturbation), or no client could
    // ever prefer one over another.
    std::vector<float> h = head;
    if (k > 0) {
      aggregation::SeededRandomSource rng(static_cast<uint64_t>(k));
      std::vector<float> noise(h.size());
      aggregation::FillGaussian(rng, 0.01, absl::MakeSpan(noise));
      for (size_t i = 0; i < h.size(); ++i) h[i] += noise[i];
    }
    v1::Model m = config.model();
    RETURN_IF_ERROR(SetHeadParams(h, m));
    VersionRow v;
    v.task = config.name();
    v.cluster = k;
    v.aggregator = "initial";
    v.model = m.SerializeAsString();
    v.size_bytes = static_cast<int64_t>(v.model.size());
    ASSIGN_OR_RETURN(Sha256Digest d, Sha256(v.model));
    v.sha256_hex = DigestToHex(d);
    v.committed_ms = now;
    initial.push_back(std::move(v));
  }
  TaskRow row{config.name(), config.SerializeAsString(), v1::RUNNING, now};
  RETURN_IF_ERROR(store_->CreateTask(row, initial));
  RETURN_IF_ERROR(LoadTask(row));
  FT_LOG(INFO) << "task " << config.name() << " created: " << config.clients_per_round()
               << " clients per round, " << config.rounds() << " rounds, " << config.aggregator();
  return Info(tasks_.at(config.name()));
}

v1::TaskInfo Coordinator::Info(const Task& t) const {
  v1::TaskInfo info;
  *info.mutable_config() = t.config;
  info.set_state(t.engine->done() ? v1::DONE : (t.engine->paused() ? v1::PAUSED : v1::RUNNING));
  info.set_committed_rounds(t.engine->committed_rounds());
  info.set_created_ms(t.created_ms);
  return info;
}

std::vector<v1::TaskInfo> Coordinator::ListTasks() {
  absl::MutexLock lock(&mu_);
  std::vector<v1::TaskInfo> out;
  for (const auto& [name, t] : tasks_) out.push_back(Info(t));
  return out;
}

absl::StatusOr<v1::TaskInfo> Coordinator::GetTask(const std::string& task) {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(Task * t, Find(task));
  return Info(*t);
}

absl::StatusOr<v1::TaskInfo> Coordinator::SetPaused(const std::string& task, bool paused) {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(Task * t, Find(task));
  if (t->engine->done()) return absl::FailedPreconditionError(absl::StrCat("task ", task, " is done"));
  RETURN_IF_ERROR(store_->SetTaskState(task, paused ? v1::PAUSED : v1::RUNNING));
  t->state = paused ? v1::PAUSED : v1::RUNNING;
  t->engine->set_paused(paused);
  return Info(*t);
}

absl::StatusOr<v1::CheckInResponse> Coordinator::CheckIn(const v1::CheckInRequest& r) {
  RETURN_IF_ERROR(ValidateCheckIn(r));
  const absl::Time now = clock_->Now();
  absl::MutexLock lock(&mu_);
  v1::CheckInResponse out;
  Task* task = nullptr;
  for (auto& [name, t] : tasks_) {
    if (t.config.population() == r.population() && !t.engine->done() && !t.engine->paused()) {
      task = &t;
      break;
    }
  }
  if (task == nullptr) {
    out.mutable_retry()->set_earliest_ms(60'000);
    out.mutable_retry()->set_latest_ms(300'000);
    return out;
  }
  const int64_t round_before = task->engine->current() ? task->engine->current()->round : 0;
  DeviceCheckIn d{r.device_id(), r.device_class(), r.state().charging(), r.state().idle(),
                  r.state().unmetered_network(), r.state().battery_percent()};
  auto result = task->engine->CheckIn(d, now);
  if (task->devices.size() >= kMaxDevicesTracked) task->devices.clear();
  DeviceSeen& seen = task->devices[r.device_id()];
  seen.device_class = r.device_class();
  if (auto* retry = std::get_if<RetryLater>(&result)) {
    seen.state = retry->reason == "round_full" ? "waiting" : retry->reason;
    out.mutable_retry()->set_earliest_ms(absl::ToInt64Milliseconds(retry->earliest));
    out.mutable_retry()->set_latest_ms(absl::ToInt64Milliseconds(retry->latest));
    return out;
  }
  const Admitted& a = std::get<Admitted>(result);
  seen.state = "assigned";
  if (a.round != round_before) {
    RoundRow row{task->config.name(), a.round, RoundState::kOpen, Ms(now), 0, ""};
    absl::Status s = store_->OpenRound(row);
    if (!s.ok()) FT_LOG(ERROR) << "cannot record round " << a.round << " opening: " << s;
    Emit(RoundInfoOf(*task, *task->engine->current(), v1::OPEN, {}));
  }
  const bool int8 = !r.capabilities().has_fpu() ||
                    r.capabilities().ram_bytes() < task->config.int8_below_ram_bytes();
  v1::Assignment* asg = out.mutable_assignment();
  asg->set_task(task->config.name());
  asg->set_round(a.round);
  asg->set_upload_token(a.token);
  *asg->mutable_plan() = task->config.plan();
  asg->set_deadline_ms(absl::ToInt64Milliseconds(a.deadline - now));
  for (int k = 0; k < task->config.clusters(); ++k) {
    *asg->add_bundles() = task->bundles.at({k, int8 ? "int8" : "float32"}).meta;
  }
  return out;
}

absl::StatusOr<v1::DownloadResponse> Coordinator::Download(const v1::DownloadRequest& r) {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(Task * t, Find(r.task()));
  RETURN_IF_ERROR(t->engine->CheckToken(r.round(), r.upload_token()));
  const std::string variant = r.variant().empty() ? "float32" : r.variant();
  auto it = t->bundles.find({r.cluster(), variant});
  if (it == t->bundles.end()) {
    return absl::NotFoundError(absl::StrCat("no bundle for cluster ", r.cluster(), " variant ", variant));
  }
  const Bundle& b = it->second;
  if (r.offset() < 0 || r.offset() > static_cast<int64_t>(b.bytes.size())) {
    return absl::OutOfRangeError(absl::StrCat("offset ", r.offset(), " outside [0, ", b.bytes.size(), "]"));
  }
  const int64_t chunk = r.max_bytes() > 0 ? std::min<int64_t>(r.max_bytes(), kMaxChunk) : kDefaultChunk;
  v1::DownloadResponse out;
  *out.mutable_bundle() = b.meta;
  out.set_offset(r.offset());
  out.set_data(b.bytes.substr(r.offset(), chunk));
  return out;
}

absl::Status Coordinator::Upload(const v1::UploadRequest& r) {
  const absl::Time now = clock_->Now();
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(Task * t, Find(r.task()));
  coordinator::Upload u;
  u.round = r.round();
  u.token = r.upload_token();
  u.cluster = r.cluster();
  u.model_version = r.model_version();
  u.example_count = r.example_count();
  if (r.delta().size() % sizeof(float) == 0) {
    u.delta.resize(r.delta().size() / sizeof(float));
    std::memcpy(u.delta.data(), r.delta().data(), r.delta().size());
  }
  for (const auto& [k, v] : r.metrics()) u.metrics[k] = v;
  absl::Status s = t->engine->Accept(u, now);
  if (s.ok()) {
    if (std::optional<std::string> device = t->engine->DeviceForToken(u.token)) {
      auto seen = t->devices.find(*device);
      if (seen != t->devices.end()) seen->second.cluster = r.cluster();
    }
    Emit(RoundInfoOf(*t, *t->engine->current(), v1::OPEN, {}));
    MaybeClose(*t, now);
  }
  return s;
}

absl::Status Coordinator::ReportFailure(const v1::FailureReport& r) {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(Task * t, Find(r.task()));
  return t->engine->Fail(r.round(), r.upload_token(), clock_->Now());
}

void Coordinator::MaybeClose(Task& t, absl::Time now) {
  std::optional<ClosedRound> closed = t.engine->TakeClosedRound(now);
  if (!closed) return;
  const std::string& name = t.config.name();
  std::vector<VersionRow> versions;
  bool ok = closed->commit;
  for (const auto& [cluster, head] : closed->heads) {
    if (!ok) break;
    v1::Model m = t.config.model();
    absl::Status s = SetHeadParams(head, m);
    VersionRow v;
    v.task = name;
    v.cluster = cluster;
    v.version = closed->versions.at(cluster);
    v.parent_version = v.version - 1;
    v.round = closed->stats.round;
    v.aggregator = t.config.aggregator();
    v.participants = closed->participants.at(cluster);
    v.model = m.SerializeAsString();
    v.size_bytes = static_cast<int64_t>(v.model.size());
    absl::StatusOr<Sha256Digest> d = Sha256(v.model);
    ok = s.ok() && d.ok();
    if (ok) v.sha256_hex = DigestToHex(*d);
    v.committed_ms = Ms(now);
    v.optimizer_state = closed->optimizer_states.at(cluster);
    versions.push_back(std::move(v));
  }
  v1::RoundInfo info = RoundInfoOf(t, closed->stats, ok ? v1::COMMITTED : v1::ABANDONED,
                                   ok ? closed->versions : std::map<int, int64_t>{});
  RoundRow row{name, closed->stats.round, ok ? RoundState::kCommitted : RoundState::kAbandoned,
               Ms(closed->stats.opened), Ms(now), info.SerializeAsString()};
  if (ok) {
    absl::Status s = store_->CloseRound(row, versions);
    if (!s.ok()) {
      FT_LOG(ERROR) << "task " << name << " round " << row.round << ": commit failed, abandoning: " << s;
      ok = false;
      info.set_state(v1::ABANDONED);
      info.clear_versions();
      row.state = RoundState::kAbandoned;
      row.info = info.SerializeAsString();
    }
  }
  if (!ok) {
    absl::Status s = store_->CloseRound(row, {});
    if (!s.ok()) FT_LOG(ERROR) << "cannot record abandoned round " << row.round << ": " << s;
  }
  t.engine->FinishRound(*closed, ok);
  if (ok) {
    for (const auto& [cluster, head] : closed->heads) {
      absl::Status s = BuildBundles(t, cluster, closed->versions.at(cluster), head);
      if (!s.ok()) FT_LOG(ERROR) << "cannot build bundles: " << s;
    }
  }
  if (t.engine->done() && t.state != v1::DONE) {
    t.state = v1::DONE;
    absl::Status s = store_->SetTaskState(name, v1::DONE);
    if (!s.ok()) FT_LOG(ERROR) << "cannot mark task " << name << " done: " << s;
  }
  FT_LOG(INFO) << "task " << name << " round " << row.round << (ok ? " committed" : " abandoned")
               << " with " << closed->stats.reported << " reports";
  Emit(std::move(info));
}

void Coordinator::Tick() {
  const absl::Time now = clock_->Now();
  absl::MutexLock lock(&mu_);
  for (auto& [name, t] : tasks_) MaybeClose(t, now);
}

v1::RoundInfo Coordinator::RoundInfoOf(const Task& t, const RoundStats& s, v1::RoundState state,
                                       const std::map<int, int64_t>& versions) const {
  v1::RoundInfo info;
  info.set_task(t.config.name());
  info.set_round(s.round);
  info.set_state(state);
  info.set_opened_ms(Ms(s.opened));
  if (state != v1::OPEN) info.set_closed_ms(Ms(s.closed));
  info.set_selected(s.selected);
  info.set_reported(s.reported);
  info.set_failed(s.failed);
  for (const auto& [k, v] : s.rejected) (*info.mutable_rejected())[k] = v;
  for (const auto& [k, v] : versions) (*info.mutable_versions())[k] = v;
  for (const auto& [k, v] : s.metrics) (*info.mutable_metrics())[k] = v;
  info.set_aggregator(t.config.aggregator());
  return info;
}

void Coordinator::Emit(v1::RoundInfo info) {
  events_.emplace_back(next_event_++, std::move(info));
  if (events_.size() > kMaxEvents) events_.erase(events_.begin(), events_.begin() + kMaxEvents / 2);
  events_cv_.SignalAll();
}

std::vector<v1::RoundInfo> Coordinator::WaitForRoundEvents(const std::string& task, int64_t* seq,
                                                           absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  absl::MutexLock lock(&mu_);
  std::vector<v1::RoundInfo> out;
  while (true) {
    for (const auto& [n, info] : events_) {
      if (n <= *seq) continue;
      *seq = n;
      if (task.empty() || info.task() == task) out.push_back(info);
    }
    if (!out.empty() || events_cv_.WaitWithDeadline(&mu_, deadline)) return out;
  }
}

absl::StatusOr<std::vector<v1::RoundInfo>> Coordinator::ListRounds(const std::string& task, int limit) {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(Task * t, Find(task));
  std::vector<v1::RoundInfo> out;
  if (std::optional<RoundStats> cur = t->engine->current()) {
    out.push_back(RoundInfoOf(*t, *cur, v1::OPEN, {}));
  }
  ASSIGN_OR_RETURN(std::vector<RoundRow> rows, store_->Rounds(task, limit));
  for (const RoundRow& row : rows) {
    if (!out.empty() && out.front().round() == row.round) continue;  // Still open.
    v1::RoundInfo info;
    // Rounds recorded only at opening (then abandoned) carry no info.
    if (!info.ParseFromString(row.info) || info.round() != row.round) {
      info.Clear();
      info.set_task(task);
      info.set_round(row.round);
      info.set_opened_ms(row.opened_ms);
    }
    info.set_state(static_cast<v1::RoundState>(row.state));
    if (row.state == RoundState::kAbandoned) info.set_closed_ms(row.closed_ms);
    out.push_back(std::move(info));
  }
  if (limit > 0 && static_cast<int>(out.size()) > limit) out.resize(limit);
  return out;
}

absl::StatusOr<v1::RoundInfo> Coordinator::GetRound(const std::string& task, int64_t round) {
  ASSIGN_OR_RETURN(std::vector<v1::RoundInfo> all, ListRounds(task, -1));
  for (const v1::RoundInfo& r : all) {
    if (r.round() == round) return r;
  }
  return absl::NotFoundError(absl::StrCat("task ", task, " has no round ", round));
}

absl::StatusOr<std::vector<v1::ModelVersion>> Coordinator::ListModels(const std::string& task) {
  {
    absl::MutexLock lock(&mu_);
    RETURN_IF_ERROR(Find(task).status());
  }
  ASSIGN_OR_RETURN(std::vector<VersionRow> rows, store_->Versions(task));
  std::vector<v1::ModelVersion> out;
  for (const VersionRow& v : rows) {
    v1::ModelVersion m;
    m.set_task(v.task);
    m.set_cluster(v.cluster);
    m.set_version(v.version);
    m.set_parent_version(v.parent_version);
    m.set_round(v.round);
    m.set_aggregator(v.aggregator);
    m.set_participants(v.participants);
    m.set_sha256(v.sha256_hex);
    m.set_size_bytes(v.size_bytes);
    m.set_committed_ms(v.committed_ms);
    out.push_back(std::move(m));
  }
  return out;
}

absl::StatusOr<v1::FleetResponse> Coordinator::Fleet(const std::string& task) {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(Task * t, Find(task));
  std::map<std::tuple<std::string, int, std::string>, int64_t> counts;
  for (const auto& [id, d] : t->devices) ++counts[{d.device_class, d.cluster, d.state}];
  v1::FleetResponse out;
  for (const auto& [key, n] : counts) {
    v1::FleetCount* c = out.add_counts();
    c->set_device_class(std::get<0>(key));
    c->set_cluster(std::get<1>(key));
    c->set_state(std::get<2>(key));
    c->set_devices(n);
  }
  return out;
}

}  // namespace fedtiny::coordinator
