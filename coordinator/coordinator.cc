#include "coordinator/coordinator.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "aggregation/factory.h"
#include "aggregation/server_optimizer.h"
#include "client/transport/limits.h"
#include "proto/model_codec.h"
#include "tools/base/constant_time.h"
#include "tools/base/logging.h"
#include "tools/base/sha256.h"
#include "tools/base/status_macros.h"

namespace fedtiny::coordinator {

namespace {

constexpr int kMaxDeviceIdBytes = 128;
constexpr int kMinSecretBytes = 16;
constexpr int kMaxSecretBytes = 64;
constexpr int64_t kDefaultMaxExamples = 1'000'000;
constexpr int64_t kMaxMaxExamples = int64_t{1} << 40;  // Any weight sum stays exact in double.
constexpr int kMaxAcceptedMetrics = 16;
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
  if (r.device_secret().size() < kMinSecretBytes || r.device_secret().size() > kMaxSecretBytes) {
    return absl::InvalidArgumentError("check-in: device_secret must have 16 to 64 bytes");
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
  e.max_example_count = c.max_example_count();
  e.max_update_norm = c.max_update_norm();
  e.accepted_metrics.assign(c.accepted_metrics().begin(), c.accepted_metrics().end());
  return e;
}

}  // namespace

absl::StatusOr<v1::TaskConfig> ValidateTaskConfig(v1::TaskConfig c) {
  if (!ValidName(c.name())) {
    return absl::InvalidArgumentError("task: name must be 1-64 characters of [a-z0-9-]");
  }
  if (c.population().empty()) c.set_population(c.name());
  if (c.population().size() > 64) {
    return absl::InvalidArgumentError("task: population must have 1 to 64 bytes (as devices send)");
  }
  ASSIGN_OR_RETURN(client::Body body, BodyFromProto(c.model()));
  ASSIGN_OR_RETURN(client::Head head, HeadFromProto(c.model()));
  if (body.output_dim(c.model().input_dim()) != head.input_dim()) {
    return absl::InvalidArgumentError("task: the body's output width differs from the head's input");
  }
  v1::Plan* p = c.mutable_plan();
  if (p->epochs() == 0) p->set_epochs(1);
  if (p->batch_size() == 0) p->set_batch_size(10);
  if (p->learning_rate() == 0) p->set_learning_rate(0.05f);
  // The ranges devices accept (docs/protocol.md): a plan outside them would only
  // make every device refuse every assignment.
  if (absl::Status plan = client::CheckPlan(*p); !plan.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("task: ", plan.message()));
  }
  if (c.rounds() == 0) c.set_rounds(10);
  if (c.clients_per_round() == 0) c.set_clients_per_round(10);
  if (c.over_selection() == 0) c.set_over_selection(1.3);
  if (c.min_reports() == 0) c.set_min_reports(std::max(1, c.clients_per_round() / 2));
  if (c.round_deadline_ms() == 0) c.set_round_deadline_ms(10 * 60 * 1000);
  if (c.aggregator().empty()) c.set_aggregator("fedavg");
  if (c.server_optimizer().empty()) c.set_server_optimizer("sgd");
  if (c.clusters() == 0) c.set_clusters(1);
  if (c.max_example_count() == 0) c.set_max_example_count(kDefaultMaxExamples);
  if (c.max_update_norm() == 0) c.set_max_update_norm(1e4);
  if (!(c.max_update_norm() > 0 && c.max_update_norm() <= 1e30)) {
    return absl::InvalidArgumentError("task: max_update_norm must be in (0, 1e30]");
  }
  if (c.accepted_metrics().empty()) {
    for (const char* m : {"train_loss", "loss", "accuracy"}) c.add_accepted_metrics(m);
  }
  if (c.max_example_count() < 1 || c.max_example_count() > kMaxMaxExamples) {
    return absl::InvalidArgumentError("task: max_example_count must be in [1, 2^40]");
  }
  if (c.accepted_metrics_size() > kMaxAcceptedMetrics ||
      std::any_of(c.accepted_metrics().begin(), c.accepted_metrics().end(), [](const std::string& m) {
        return m.empty() || m.size() > static_cast<size_t>(kMaxMetricNameBytes);
      })) {
    return absl::InvalidArgumentError("task: at most 16 accepted_metrics of 1 to 64 bytes each");
  }
  if (!c.has_eligibility()) {
    c.mutable_eligibility()->set_require_charging(true);
    c.mutable_eligibility()->set_require_idle(true);
    c.mutable_eligibility()->set_require_unmetered(true);
    c.mutable_eligibility()->set_min_battery_percent(50);
  }
  constexpr int64_t kWeekMs = int64_t{7} * 24 * 3600 * 1000;
  if (c.rounds() < 1 || c.clients_per_round() < 1 || c.clients_per_round() > 1'000'000 ||
      !(c.over_selection() >= 1 && c.over_selection() <= 10) ||
      c.min_reports() < 1 || c.min_reports() > c.clients_per_round() ||
      c.round_deadline_ms() < 1 || c.round_deadline_ms() > kWeekMs ||
      c.cooldown_ms() > 365 * kWeekMs || c.clusters() < 1 || c.clusters() > 64 ||
      c.cooldown_ms() < 0 || c.int8_below_ram_bytes() < 0 ||
      c.eligibility().min_battery_percent() < 0 || c.eligibility().min_battery_percent() > 100 ||
      std::any_of(c.class_quota().begin(), c.class_quota().end(),
                  [](const auto& q) { return q.second < 1; })) {
    return absl::InvalidArgumentError(
        "task: need rounds >= 1; clients_per_round in [1, 1e6]; over_selection in [1, 10]; "
        "1 <= min_reports <= clients_per_round; round_deadline_ms in [1, one week]; "
        "cooldown_ms in [0, 365 weeks]; clusters in [1, 64]");
  }
  RETURN_IF_ERROR(aggregation::ValidateAggregatorSpec(c.aggregator()));
  RETURN_IF_ERROR(aggregation::ParseServerOptimizer(c.server_optimizer()).status());
  return c;
}

absl::StatusOr<std::unique_ptr<Coordinator>> Coordinator::Create(
    std::unique_ptr<Store> store, const Clock* clock, aggregation::RandomSource* random) {
  std::unique_ptr<Coordinator> c(new Coordinator(std::move(store), clock, random));
  RETURN_IF_ERROR(c->store_->CheckIntegrity());
  ASSIGN_OR_RETURN(int abandoned, c->store_->AbandonOpenRounds(Ms(clock->Now())));
  if (abandoned > 0) FT_LOG(WARNING) << abandoned << " round(s) open at the last stop: abandoned";
  ASSIGN_OR_RETURN(int orphans, c->store_->CollectGarbage());
  if (orphans > 0) FT_LOG(WARNING) << orphans << " unreferenced model blob(s) from an interrupted commit removed";
  ASSIGN_OR_RETURN(std::vector<TaskRow> rows, c->store_->Tasks());
  for (const TaskRow& row : rows) {
    ASSIGN_OR_RETURN(BlobChecks checks, c->CheckBlobs(row.name));
    absl::MutexLock lock(&c->mu_);
    for (auto& [v, integrity] : checks) {
      c->integrity_[{row.name, v.cluster, v.version}] = std::move(integrity);
    }
  }
  absl::MutexLock lock(&c->mu_);
  for (const TaskRow& row : rows) RETURN_IF_ERROR(c->LoadTask(row));
  return c;
}

absl::StatusOr<Coordinator::BlobChecks> Coordinator::CheckBlobs(const std::string& task) {
  ASSIGN_OR_RETURN(std::vector<VersionRow> rows, store_->Versions(task));
  BlobChecks out;
  for (VersionRow& v : rows) {
    absl::Status s = store_->ReadBlob(v).status();
    if (!s.ok()) {
      FT_LOG(ERROR) << "task " << task << " cluster " << v.cluster << " version " << v.version
                    << ": " << s.message();
    }
    out.emplace_back(std::move(v), s.ok() ? "ok" : std::string(s.message()));
  }
  return out;
}

// The newest version of `bad`'s line older than it whose blob verifies and whose
// head is finite, committed anew as version bad.version + 1 so that the lineage
// says what happened and no version number is ever reused.
absl::StatusOr<VersionRow> Coordinator::RollBack(const VersionRow& bad, const absl::Status& why) {
  ASSIGN_OR_RETURN(std::vector<VersionRow> all, store_->Versions(bad.task));
  for (auto it = all.rbegin(); it != all.rend(); ++it) {
    if (it->cluster != bad.cluster || it->version >= bad.version) continue;
    absl::StatusOr<std::string> blob = store_->ReadBlob(*it);
    v1::Model m;
    if (!blob.ok() || !m.ParseFromString(*blob) || !HeadParams(m).ok()) continue;
    VersionRow v = *it;
    v.version = bad.version + 1;
    v.parent_version = it->version;
    v.round = bad.round;
    v.aggregator = "rollback";
    v.participants = 0;
    v.committed_ms = Ms(clock_->Now());
    v.model = *std::move(blob);
    RETURN_IF_ERROR(store_->CommitVersions({v}));
    integrity_[{v.task, v.cluster, v.version}] = "ok";
    FT_LOG(WARNING) << "task " << bad.task << " cluster " << bad.cluster << ": version "
                    << bad.version << " is unusable (" << why.message() << "); rolled back to version "
                    << it->version << ", committed as version " << v.version;
    return v;
  }
  return absl::DataLossError(absl::StrCat("task ", bad.task, " cluster ", bad.cluster, ": version ",
                                          bad.version, " is unusable (", why.message(),
                                          ") and no older version is"));
}

absl::Status Coordinator::LoadTask(const TaskRow& row) {
  Task t;
  if (!t.config.ParseFromString(row.config)) {
    return absl::DataLossError(absl::StrCat("task ", row.name, ": stored config unreadable"));
  }
  // What was stored passed validation when created; anything else was altered.
  absl::StatusOr<v1::TaskConfig> valid = ValidateTaskConfig(t.config);
  if (!valid.ok() || valid->name() != row.name) {
    return absl::DataLossError(absl::StrCat(
        "task ", row.name, ": stored config fails validation (",
        valid.ok() ? "its name differs from the row's" : valid.status().message(), ")"));
  }
  t.config = *std::move(valid);
  t.state = row.state;
  t.created_ms = row.created_ms;
  ASSIGN_OR_RETURN(std::vector<VersionRow> latest, store_->LatestVersions(row.name));
  std::map<int, ClusterModel> models;
  for (VersionRow& v : latest) {
    v1::Model m;
    if (!m.ParseFromString(v.model)) {
      return absl::DataLossError(absl::StrCat("task ", row.name, ": model blob unreadable"));
    }
    absl::StatusOr<std::vector<float>> head = HeadParams(m);
    if (!head.ok()) {
      // A non-finite model must never keep the coordinator from starting.
      ASSIGN_OR_RETURN(v, RollBack(v, head.status()));
      if (!m.ParseFromString(v.model)) return absl::DataLossError("rollback model unreadable");
      head = HeadParams(m);
      RETURN_IF_ERROR(head.status());
    }
    models[v.cluster] = ClusterModel{*std::move(head), v.version, v.optimizer_state};
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

absl::Status Coordinator::BindDevice(const std::string& device_id, const std::string& key) {
  auto [it, inserted] = device_keys_.try_emplace(device_id, key);
  if (inserted) {
    if (device_keys_.size() > kMaxDevicesTracked) {
      // Bounded memory: forget old bindings (devices re-bind at their next
      // check-in). Open-round assignments stay bound inside the engines.
      FT_LOG(WARNING) << "device registry passed " << kMaxDevicesTracked << " ids: cleared";
      device_keys_.clear();
      device_keys_.emplace(device_id, key);
    }
    return absl::OkStatus();
  }
  if (!ConstantTimeEquals(it->second, key)) {
    return absl::PermissionDeniedError("check-in: device_id is bound to another device_secret");
  }
  return absl::OkStatus();
}

absl::StatusOr<v1::CheckInResponse> Coordinator::CheckIn(const v1::CheckInRequest& r) {
  RETURN_IF_ERROR(ValidateCheckIn(r));
  const std::string key = SecretKeyOf(r.device_secret());
  const absl::Time now = clock_->Now();
  absl::MutexLock lock(&mu_);
  RETURN_IF_ERROR(BindDevice(r.device_id(), key));
  v1::CheckInResponse out;
  Task* task = nullptr;
  bool paused = false, done = false;
  for (auto& [name, t] : tasks_) {
    if (t.config.population() != r.population()) continue;
    if (t.engine->done()) {
      done = true;
    } else if (t.engine->paused()) {
      paused = true;
    } else {
      task = &t;
      break;
    }
  }
  if (task == nullptr) {
    // docs/protocol.md: paused 5-10 min, finished 6-12 h, no such population 1-5 min.
    const auto [earliest, latest] =
        paused ? std::pair(absl::Minutes(5), absl::Minutes(10))
               : done ? std::pair(absl::Hours(6), absl::Hours(12))
                      : std::pair(absl::Minutes(1), absl::Minutes(5));
    out.mutable_retry()->set_earliest_ms(absl::ToInt64Milliseconds(earliest));
    out.mutable_retry()->set_latest_ms(absl::ToInt64Milliseconds(latest));
    return out;
  }
  const int64_t round_before = task->engine->current() ? task->engine->current()->round : 0;
  DeviceCheckIn d{r.device_id(), r.device_class(), r.state().charging(), r.state().idle(),
                  r.state().unmetered_network(), r.state().battery_percent(), key};
  auto result = task->engine->CheckIn(d, now);
  if (auto* retry = std::get_if<RetryLater>(&result)) {
    if (retry->reason == "device_id_taken") {
      return absl::PermissionDeniedError("check-in: device_id is bound to another device_secret");
    }
    Seen(*task, r, retry->reason == "round_full" ? "waiting" : retry->reason);
    out.mutable_retry()->set_earliest_ms(absl::ToInt64Milliseconds(retry->earliest));
    out.mutable_retry()->set_latest_ms(absl::ToInt64Milliseconds(retry->latest));
    return out;
  }
  const Admitted& a = std::get<Admitted>(result);
  if (a.round != round_before) {
    // Recorded before anyone hears of it, or the round never happened: a round
    // number is never handed out that the store does not know.
    RoundRow row{task->config.name(), a.round, RoundState::kOpen, Ms(now), 0, ""};
    absl::Status s = store_->OpenRound(row);
    if (!s.ok()) {
      task->engine->CancelOpen(a.round);
      FT_LOG(ERROR) << "task " << task->config.name() << ": cannot record round " << a.round
                    << " opening, not opened: " << s;
      return absl::UnavailableError("the coordinator cannot record a new round now; retry later");
    }
    Emit(RoundInfoOf(*task, *task->engine->current(), v1::OPEN, {}));
  }
  Seen(*task, r, "assigned");
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

void Coordinator::Seen(Task& t, const v1::CheckInRequest& r, const std::string& state) {
  if (t.devices.size() >= kMaxDevicesTracked) t.devices.clear();
  DeviceSeen& seen = t.devices[r.device_id()];
  seen.device_class = r.device_class();
  seen.state = state;
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
  u.secret_key = SecretKeyOf(r.device_secret());
  if (!r.delta().empty() && r.delta().size() % sizeof(float) == 0) {
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
  if (!t.pending) t.pending = t.engine->TakeClosedRound(now);
  if (!t.pending) return;
  ClosedRound& closed = *t.pending;
  const std::string& name = t.config.name();
  absl::StatusOr<bool> committed = Persist(t, closed, now);
  if (!committed.ok()) {
    // Memory stays exactly at the store's: the round stays closing (no new round
    // opens, its result is kept) and the next tick tries again.
    FT_LOG(ERROR) << "task " << name << " round " << closed.stats.round
                  << ": cannot record its close, retrying: " << committed.status();
    return;
  }
  const bool ok = *committed;
  t.engine->FinishRound(closed, ok);
  if (ok) {
    for (const auto& [cluster, head] : closed.heads) {
      absl::Status s = BuildBundles(t, cluster, closed.versions.at(cluster), head);
      if (!s.ok()) FT_LOG(ERROR) << "cannot build bundles: " << s;
    }
  }
  if (t.engine->done() && t.state != v1::DONE) {
    t.state = v1::DONE;
    absl::Status s = store_->SetTaskState(name, v1::DONE);
    if (!s.ok()) FT_LOG(ERROR) << "cannot mark task " << name << " done: " << s;
  }
  FT_LOG(INFO) << "task " << name << " round " << closed.stats.round
               << (ok ? " committed" : " abandoned: " + closed.reason) << " with "
               << closed.stats.reported << " reports";
  v1::RoundInfo info = RoundInfoOf(t, closed.stats, ok ? v1::COMMITTED : v1::ABANDONED,
                                   ok ? closed.versions : std::map<int, int64_t>{});
  if (!ok) info.set_reason(closed.reason);
  t.pending.reset();
  Emit(std::move(info));
}

// Writes a closed round to the store: committed (true), or abandoned (false)
// when it cannot commit. An error means nothing was recorded.
absl::StatusOr<bool> Coordinator::Persist(Task& t, ClosedRound& closed, absl::Time now) {
  const std::string& name = t.config.name();
  std::vector<VersionRow> versions;
  for (const auto& [cluster, head] : closed.heads) {
    if (!closed.commit) break;
    v1::Model m = t.config.model();
    absl::Status s = SetHeadParams(head, m);
    std::string bytes = s.ok() ? m.SerializeAsString() : "";
    absl::StatusOr<Sha256Digest> d = s.ok() ? Sha256(bytes) : s;
    if (!d.ok()) {
      closed.commit = false;
      closed.reason = absl::StrCat("cluster ", cluster, ": ", d.status().message());
      break;
    }
    VersionRow v;
    v.task = name;
    v.cluster = cluster;
    v.version = closed.versions.at(cluster);
    v.parent_version = v.version - 1;
    v.round = closed.stats.round;
    v.aggregator = t.config.aggregator();
    v.participants = closed.participants.at(cluster);
    v.model = std::move(bytes);
    v.size_bytes = static_cast<int64_t>(v.model.size());
    v.sha256_hex = DigestToHex(*d);
    v.committed_ms = Ms(now);
    v.optimizer_state = closed.optimizer_states.at(cluster);
    versions.push_back(std::move(v));
  }
  const int64_t opened = Ms(closed.stats.opened), closed_ms = Ms(closed.stats.closed);
  if (closed.commit) {
    v1::RoundInfo info = RoundInfoOf(t, closed.stats, v1::COMMITTED, closed.versions);
    RoundRow row{name, closed.stats.round, RoundState::kCommitted, opened, closed_ms,
                 info.SerializeAsString()};
    absl::Status s = store_->CloseRound(row, versions);
    if (s.ok()) {
      for (const VersionRow& v : versions) integrity_[{name, v.cluster, v.version}] = "ok";
      return true;
    }
    if (s.code() != absl::StatusCode::kAlreadyExists) return s;
    // Permanent: a version with this number exists. Record the round abandoned.
    closed.commit = false;
    closed.reason = absl::StrCat("commit refused: ", s.message());
  }
  v1::RoundInfo info = RoundInfoOf(t, closed.stats, v1::ABANDONED, {});
  info.set_reason(closed.reason);
  RoundRow row{name, closed.stats.round, RoundState::kAbandoned, opened, closed_ms,
               info.SerializeAsString()};
  absl::Status s = store_->CloseRound(row, {});
  // kAlreadyExists: the store has this round closed already; nothing to add.
  if (!s.ok() && s.code() != absl::StatusCode::kAlreadyExists) return s;
  return false;
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
      if (row.state == RoundState::kAbandoned) info.set_reason("open when the coordinator stopped");
    }
    for (const auto& [reason, n] : t->engine->LateRejections(row.round)) {
      (*info.mutable_rejected())[reason] += n;
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

v1::ModelVersion Coordinator::ModelVersionOf(const VersionRow& v) const {
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
  auto it = integrity_.find({v.task, v.cluster, v.version});
  m.set_integrity(it == integrity_.end() ? "unchecked" : it->second);
  return m;
}

absl::StatusOr<std::vector<v1::ModelVersion>> Coordinator::ListModels(const std::string& task) {
  {
    absl::MutexLock lock(&mu_);
    RETURN_IF_ERROR(Find(task).status());
  }
  ASSIGN_OR_RETURN(std::vector<VersionRow> rows, store_->Versions(task));
  absl::MutexLock lock(&mu_);
  std::vector<v1::ModelVersion> out;
  for (const VersionRow& v : rows) out.push_back(ModelVersionOf(v));
  return out;
}

absl::StatusOr<v1::VerifyResponse> Coordinator::Verify(const std::string& task) {
  {
    absl::MutexLock lock(&mu_);
    RETURN_IF_ERROR(Find(task).status());
  }
  ASSIGN_OR_RETURN(BlobChecks checks, CheckBlobs(task));
  absl::MutexLock lock(&mu_);
  v1::VerifyResponse out;
  for (const auto& [v, integrity] : checks) {
    out.set_checked(out.checked() + 1);
    integrity_[{task, v.cluster, v.version}] = integrity;
    if (integrity != "ok") *out.add_bad() = ModelVersionOf(v);
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
