#include "coordinator/task_runner.h"

#include <set>

#include <algorithm>
#include <tuple>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "coordinator/page_size.h"
#include "coordinator/task_config.h"
#include "proto/delta_codec.h"
#include "proto/model_codec.h"
#include "tools/base/logging.h"
#include "tools/base/status_macros.h"
#include "tools/base/update_codec.h"

namespace fedtiny::coordinator {

namespace {

constexpr int64_t kDefaultChunk = 256 << 10;
constexpr int64_t kMaxChunk = 4 << 20;

int64_t Ms(absl::Time t) { return absl::ToUnixMillis(t); }

// The stats' name for a refused upload (RoundEngine::Accept's codes).
std::string RejectionReason(const absl::Status& s) {
  switch (s.code()) {
    case absl::StatusCode::kNotFound: return "wrong_round";
    case absl::StatusCode::kDeadlineExceeded: return "late";
    case absl::StatusCode::kPermissionDenied: return "bad_token";
    case absl::StatusCode::kAlreadyExists: return "duplicate";
    case absl::StatusCode::kFailedPrecondition: return "stale";
    default: return "malformed";
  }
}

void SetRetry(v1::CheckInResponse& out, absl::Duration earliest, absl::Duration latest) {
  out.mutable_retry()->set_earliest_ms(absl::ToInt64Milliseconds(earliest));
  out.mutable_retry()->set_latest_ms(absl::ToInt64Milliseconds(latest));
}

}  // namespace

// ---------------------------------------------------------------- FleetTracker

void FleetTracker::Seen(const std::string& device_id, const std::string& device_class,
                        const std::string& state, int64_t now_ms) {
  absl::MutexLock lock(&mu_);
  if (devices_.size() >= capacity_ && !devices_.contains(device_id)) devices_.clear();
  Device& d = devices_[device_id];
  d.device_class = device_class;
  d.state = state;
  d.last_seen_ms = now_ms;
}

void FleetTracker::Reported(const std::string& device_id, int cluster) {
  absl::MutexLock lock(&mu_);
  auto it = devices_.find(device_id);
  if (it == devices_.end()) return;
  it->second.cluster = cluster;
  ++it->second.contributed;
}

void FleetTracker::Rejected(const std::string& device_id, const std::string& reason) {
  absl::MutexLock lock(&mu_);
  auto it = devices_.find(device_id);
  if (it == devices_.end()) return;
  ++it->second.rejections;
  it->second.last_rejection = reason;
}

std::vector<v1::DeviceInfo> FleetTracker::List(const std::string& state,
                                               const std::string& override_state,
                                               const std::string& after_id, int limit,
                                               int64_t* total) const {
  std::vector<std::pair<std::string, Device>> page;
  *total = 0;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [id, d] : devices_) {
      const std::string& s = override_state.empty() ? d.state : override_state;
      if (!state.empty() && s != state) continue;
      ++*total;
      if (id > after_id) page.emplace_back(id, d);
    }
  }
  const size_t n = std::min(page.size(), static_cast<size_t>(std::max(limit, 0)));
  std::partial_sort(page.begin(), page.begin() + n, page.end(),
                    [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<v1::DeviceInfo> out;
  for (size_t i = 0; i < n; ++i) {
    const auto& [id, d] = page[i];
    v1::DeviceInfo info;
    info.set_device_id(id);
    info.set_device_class(d.device_class);
    info.set_state(override_state.empty() ? d.state : override_state);
    info.set_cluster(d.cluster);
    info.set_last_seen_ms(d.last_seen_ms);
    info.set_rounds_contributed(d.contributed);
    info.set_rejections(d.rejections);
    info.set_last_rejection(d.last_rejection);
    out.push_back(std::move(info));
  }
  return out;
}

v1::FleetResponse FleetTracker::Counts(const std::string& override_state) const {
  std::map<std::tuple<std::string, int, std::string>, int64_t> counts;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [id, d] : devices_) {
      ++counts[{d.device_class, d.cluster, override_state.empty() ? d.state : override_state}];
    }
  }
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

// ------------------------------------------------------------ create and load

int64_t TaskRunner::BodyPrefixBytes(const v1::TaskConfig& config) {
  // Protocol buffers serialize fields in field-number order, so a float32
  // model's bytes start with input_dim (1) and body (2), then the head (3).
  v1::Model prefix;
  prefix.set_input_dim(config.model().input_dim());
  *prefix.mutable_body() = config.model().body();
  return static_cast<int64_t>(prefix.ByteSizeLong());
}

absl::StatusOr<std::unique_ptr<TaskRunner>> TaskRunner::Create(const v1::TaskConfig& config,
                                                              const RunnerEnv& env) {
  ASSIGN_OR_RETURN(std::vector<std::vector<float>> heads, InitialHeads(config));
  const int64_t now = Ms(env.clock->Now());
  const VariantTemplates templates = TemplatesOf(config);
  std::vector<VersionRow> initial;
  for (int k = 0; k < static_cast<int>(heads.size()); ++k) {
    ASSIGN_OR_RETURN(BundleMap b, BuildBundles(config, templates, k, 0, heads[k]));
    const Bundle& f32 = *b.at({k, "float32"});
    VersionRow v;
    v.task = config.name();
    v.cluster = k;
    v.aggregator = "initial";
    v.model = f32.bytes;
    v.size_bytes = static_cast<int64_t>(v.model.size());
    v.sha256_hex = f32.sha256_hex;
    v.committed_ms = now;
    v.shared_prefix_bytes = BodyPrefixBytes(config);
    initial.push_back(std::move(v));
  }
  TaskRow row{config.name(), config.SerializeAsString(), v1::RUNNING, now};
  RETURN_IF_ERROR(env.store->CreateTask(row, initial));
  return Load(row, env);
}

absl::StatusOr<std::unique_ptr<TaskRunner>> TaskRunner::Load(const TaskRow& row,
                                                            const RunnerEnv& env) {
  v1::TaskConfig config;
  if (!config.ParseFromString(row.config)) {
    return absl::DataLossError(absl::StrCat("task ", row.name, ": stored config unreadable"));
  }
  // What was stored passed validation when created; anything else was altered.
  absl::StatusOr<v1::TaskConfig> valid = ValidateTaskConfig(config);
  if (!valid.ok() || valid->name() != row.name) {
    return absl::DataLossError(absl::StrCat(
        "task ", row.name, ": stored config fails validation (",
        valid.ok() ? "its name differs from the row's" : valid.status().message(), ")"));
  }
  std::unique_ptr<TaskRunner> r(new TaskRunner(*std::move(valid), row.created_ms, env));
  RETURN_IF_ERROR(r->Restore(row.state));
  return r;
}

absl::StatusOr<TaskRunner::BlobChecks> TaskRunner::CheckBlobs() {
  ASSIGN_OR_RETURN(std::vector<VersionRow> rows, env_.store->Versions(name()));
  BlobChecks out;
  for (VersionRow& v : rows) {
    if (v.pruned) continue;  // Retention removed it: nothing to check.
    absl::Status s = env_.store->ReadBlob(v).status();
    if (!s.ok()) {
      FT_LOG(ERROR) << "task " << name() << " cluster " << v.cluster << " version " << v.version
                    << ": " << s.message();
    }
    out.emplace_back(std::move(v), s.ok() ? "ok" : std::string(s.message()));
  }
  return out;
}

// The newest version of `bad`'s line older than it whose blob verifies and whose
// head is finite, committed anew as version bad.version + 1 so that the lineage
// says what happened and no version number is ever reused.
absl::StatusOr<VersionRow> TaskRunner::RollBack(const VersionRow& bad, const absl::Status& why) {
  ASSIGN_OR_RETURN(std::vector<VersionRow> all, env_.store->Versions(bad.task));
  for (auto it = all.rbegin(); it != all.rend(); ++it) {
    if (it->cluster != bad.cluster || it->version >= bad.version) continue;
    absl::StatusOr<std::string> blob = env_.store->ReadBlob(*it);
    v1::Model m;
    if (!blob.ok() || !m.ParseFromString(*blob) || !HeadParams(m).ok()) continue;
    VersionRow v = *it;
    v.version = bad.version + 1;
    v.parent_version = it->version;
    v.round = bad.round;
    v.aggregator = "rollback";
    v.participants = 0;
    v.committed_ms = Ms(env_.clock->Now());
    v.model = *std::move(blob);
    v.shared_prefix_bytes = body_prefix_bytes_;
    v.pinned = false;
    RETURN_IF_ERROR(env_.store->CommitVersions({v}));
    FT_LOG(WARNING) << "task " << bad.task << " cluster " << bad.cluster << ": version "
                    << bad.version << " is unusable (" << why.message() << "); rolled back to version "
                    << it->version << ", committed as version " << v.version;
    return v;
  }
  return absl::DataLossError(absl::StrCat("task ", bad.task, " cluster ", bad.cluster, ": version ",
                                          bad.version, " is unusable (", why.message(),
                                          ") and no older version is"));
}

absl::Status TaskRunner::Restore(int state) {
  ASSIGN_OR_RETURN(BlobChecks checks, CheckBlobs());
  std::map<std::pair<int, int64_t>, std::string> integrity;
  for (auto& [v, ok] : checks) integrity[{v.cluster, v.version}] = std::move(ok);
  ASSIGN_OR_RETURN(std::vector<VersionRow> latest, env_.store->LatestVersions(name()));
  std::map<int, ClusterModel> models;
  for (VersionRow& v : latest) {
    v1::Model m;
    if (!m.ParseFromString(v.model)) {
      return absl::DataLossError(absl::StrCat("task ", name(), ": model blob unreadable"));
    }
    absl::StatusOr<std::vector<float>> head = HeadParams(m);
    if (!head.ok()) {
      // A non-finite model must never keep the coordinator from starting.
      ASSIGN_OR_RETURN(v, RollBack(v, head.status()));
      integrity[{v.cluster, v.version}] = "ok";
      if (!m.ParseFromString(v.model)) return absl::DataLossError("rollback model unreadable");
      head = HeadParams(m);
      RETURN_IF_ERROR(head.status());
    }
    models[v.cluster] = ClusterModel{*std::move(head), v.version, v.optimizer_state};
  }
  BundleMap bundles;
  for (const auto& [cluster, m] : models) {
    ASSIGN_OR_RETURN(BundleMap plain, BuildBundles(config_, templates_, cluster, m.version, m.head));
    ASSIGN_OR_RETURN(BundleMap b, Served(plain));
    bundles.merge(b);
  }
  ASSIGN_OR_RETURN(std::vector<RoundRow> rounds, env_.store->Rounds(name(), -1));
  const int committed = static_cast<int>(std::count_if(rounds.begin(), rounds.end(), [](const RoundRow& r) {
    return r.state == RoundState::kCommitted;
  }));
  ASSIGN_OR_RETURN(int64_t last, env_.store->LastRound(name()));
  const int64_t dim = models.empty() ? 0 : static_cast<int64_t>(models.begin()->second.head.size());
  ASSIGN_OR_RETURN(std::unique_ptr<RoundEngine> engine,
                   RoundEngine::Create(EngineConfigOf(config_, dim), std::move(models), last + 1,
                                       committed, env_.random));
  engine->set_paused(state == v1::PAUSED);
  if (state == v1::STOPPED) engine->Stop();
  PublishTargets(bundles);
  absl::MutexLock lock(&mu_);
  engine_ = std::move(engine);
  bundles_ = std::move(bundles);
  integrity_ = std::move(integrity);
  done_recorded_ = state == v1::DONE || state == v1::STOPPED;
  return absl::OkStatus();
}

// ------------------------------------------------------------- federation API

v1::TaskState TaskRunner::StateLocked() const {
  if (engine_->stopped()) return v1::STOPPED;
  return engine_->done() ? v1::DONE : (engine_->paused() ? v1::PAUSED : v1::RUNNING);
}

v1::TaskState TaskRunner::state() const {
  absl::MutexLock lock(&mu_);
  return StateLocked();
}

absl::StatusOr<v1::CheckInResponse> TaskRunner::CheckIn(const v1::CheckInRequest& r,
                                                        const std::string& secret_key) {
  const absl::Time now = env_.clock->Now();
  const DeviceCheckIn d{r.device_id(), r.device_class(), r.state().charging(), r.state().idle(),
                        r.state().unmetered_network(), r.state().battery_percent(), secret_key};
  const std::string variant = VariantFor(config_, r.device_class(), r.capabilities());
  const RetryLater come_back{absl::Seconds(1), absl::Seconds(5), "round_full"};
  v1::CheckInResponse out;
  std::optional<v1::RoundInfo> opened;
  mu_.Lock();
  std::variant<Admitted, RetryLater> result = engine_->CheckIn(d, now);
  // (An asynchronous task re-admits a device into the round of its live token,
  // which may be an earlier, recorded one.)
  if (auto* a = std::get_if<Admitted>(&result); a != nullptr && a->round > recorded_round_) {
    // A new round: recorded before anyone hears of it, or it never happened (a
    // round number is never handed out that the store does not know). The
    // record syncs to disk, so it is written without the lock; check-ins that
    // arrive meanwhile are told to come back in a few seconds.
    const int64_t round = a->round;
    engine_->CancelOpen(round);
    if (opening_) {
      result = come_back;
    } else {
      opening_ = true;
      mu_.Unlock();
      const absl::Status s =
          env_.store->OpenRound({name(), round, RoundState::kOpen, Ms(now), 0, ""});
      mu_.Lock();
      opening_ = false;
      if (!s.ok()) {
        mu_.Unlock();
        FT_LOG(ERROR) << "task " << name() << ": cannot record round " << round
                      << " opening, not opened: " << s;
        return absl::UnavailableError("the coordinator cannot record a new round now; retry later");
      }
      recorded_round_ = round;
      result = engine_->CheckIn(d, now);
      a = std::get_if<Admitted>(&result);
      if (a != nullptr && a->round == round) {
        opened = RoundInfoOf(*engine_->current(), v1::OPEN, {});
      } else if (a != nullptr) {  // Cannot happen: the engine reuses the cancelled number.
        engine_->CancelOpen(a->round);
        result = come_back;
      }
    }
  }
  if (const auto* retry = std::get_if<RetryLater>(&result)) {
    mu_.Unlock();
    if (retry->reason == "device_id_taken") {
      return absl::PermissionDeniedError("check-in: device_id is bound to another device_secret");
    }
    fleet_.Seen(r.device_id(), r.device_class(),
                retry->reason == "round_full" ? "waiting" : retry->reason, Ms(now));
    SetRetry(out, retry->earliest, retry->latest);
    return out;
  }
  const Admitted& a = std::get<Admitted>(result);
  v1::Assignment* asg = out.mutable_assignment();
  asg->set_task(name());
  asg->set_round(a.round);
  asg->set_upload_token(a.token);
  *asg->mutable_plan() = config_.plan();
  asg->set_compression(config_.compression());
  asg->set_deadline_ms(absl::ToInt64Milliseconds(a.deadline - now));
  // A warm-up round offers the shared head only (EngineConfig::cluster_warmup).
  for (int k = 0; k < engine_->offered_clusters(); ++k) {
    *asg->add_bundles() = bundles_.at({k, variant})->meta;
  }
  mu_.Unlock();
  fleet_.Seen(r.device_id(), r.device_class(), "assigned", Ms(now));
  if (opened) env_.events->Emit(*std::move(opened));
  return out;
}

absl::StatusOr<v1::DownloadResponse> TaskRunner::Download(const v1::DownloadRequest& r) {
  const std::string variant = r.variant().empty() ? "float32" : r.variant();
  std::shared_ptr<const Bundle> b;
  {
    absl::MutexLock lock(&mu_);
    RETURN_IF_ERROR(engine_->CheckToken(r.round(), r.upload_token()));
    auto it = bundles_.find({r.cluster(), variant});
    if (it == bundles_.end()) {
      return absl::NotFoundError(
          absl::StrCat("no bundle for cluster ", r.cluster(), " variant ", variant));
    }
    b = it->second;
  }
  const std::string& served = b->served();
  if (r.offset() < 0 || r.offset() > static_cast<int64_t>(served.size())) {
    return absl::OutOfRangeError(
        absl::StrCat("offset ", r.offset(), " outside [0, ", served.size(), "]"));
  }
  const int64_t chunk = r.max_bytes() > 0 ? std::min<int64_t>(r.max_bytes(), kMaxChunk) : kDefaultChunk;
  v1::DownloadResponse out;
  *out.mutable_bundle() = b->meta;
  out.set_offset(r.offset());
  out.set_data(served.substr(r.offset(), chunk));
  return out;
}

void TaskRunner::DecodeUpdate(const v1::UploadRequest& r, coordinator::Upload& u) {
  int64_t dim = 0;
  if (!r.compressed_delta().empty()) {
    absl::MutexLock lock(&mu_);
    dim = engine_->config().dim;
  }
  DecodeUploadDelta(name(), compression_, dim, r, u);
}

void DecodeUploadDelta(const std::string& task, const CompressionSpec& spec, int64_t dim,
                       const v1::UploadRequest& r, coordinator::Upload& u) {
  if (r.compressed_delta().empty()) {
    // A partial float leaves the delta empty, which the engine refuses as malformed.
    // The float32 form stays accepted under a compression spec: devices on
    // nanopb (client/wire) do not compress.
    absl::StatusOr<std::vector<float>> delta = DecodeDelta(r.delta());
    if (delta.ok()) u.delta = *std::move(delta);
    return;
  }
  if (!r.delta().empty()) {
    u.malformed = "delta and compressed_delta exclude each other";
    return;
  }
  if (spec.none()) {
    u.malformed = "compressed_delta: this task takes float32 deltas (its compression is none)";
    return;
  }
  // The token is the device's part of the seed; a fixed range shares the
  // round's seed so that levels sum (tools/base/update_codec.h).
  const uint64_t seed = CompressionSeed(task, r.round(), spec.range > 0 ? "" : r.upload_token());
  std::string error;
  if (!DecodeCompressed(r.compressed_delta(), spec, static_cast<size_t>(dim), seed, &u.delta,
                        &error)) {
    u.malformed = error;
    u.delta.clear();
  }
}

absl::Status TaskRunner::Upload(const v1::UploadRequest& r) {
  const absl::Time now = env_.clock->Now();
  coordinator::Upload u;
  u.round = r.round();
  u.token = r.upload_token();
  u.cluster = r.cluster();
  u.model_version = r.model_version();
  u.example_count = r.example_count();
  u.secret_key = SecretKeyOf(r.device_secret());
  DecodeUpdate(r, u);
  for (const auto& [k, v] : r.metrics()) u.metrics[k] = v;
  std::optional<std::string> device;
  v1::RoundInfo progress;
  absl::Status accepted;
  {
    absl::MutexLock lock(&mu_);
    device = engine_->DeviceForToken(u.token);
    accepted = engine_->Accept(u, now);
    // An asynchronous task may have no round open (uploads wait for the next).
    if (accepted.ok() && engine_->current()) {
      progress = RoundInfoOf(*engine_->current(), v1::OPEN, {});
    }
  }
  if (!accepted.ok()) {
    if (device) fleet_.Rejected(*device, RejectionReason(accepted));
    return accepted;
  }
  if (device) fleet_.Reported(*device, r.cluster());
  if (progress.round() != 0) env_.events->Emit(std::move(progress));
  MaybeCommit(now);
  return absl::OkStatus();
}

absl::Status TaskRunner::ReportFailure(const v1::FailureReport& r) {
  const absl::Time now = env_.clock->Now();
  std::optional<std::string> device;
  absl::Status s;
  {
    absl::MutexLock lock(&mu_);
    device = engine_->DeviceForToken(r.upload_token());
    s = engine_->Fail(r.round(), r.upload_token(), now);
  }
  // A device refusing the model (docs/security.md) is an attack or a bug of
  // the repository: kept as the device's last rejection and logged.
  if (s.ok() && device && absl::StartsWith(r.reason(), "trust:")) {
    const std::string reason = r.reason().substr(0, 200);
    fleet_.Rejected(*device, reason);
    FT_LOG(WARNING) << "task " << name() << " round " << r.round() << ": device " << *device
                    << " refused the model: " << reason;
  }
  return s;
}

void TaskRunner::Tick() { MaybeCommit(env_.clock->Now()); }

// --------------------------------------------------------------- the committer

void TaskRunner::MaybeCommit(absl::Time now) {
  absl::MutexLock commit(&commit_mu_);
  absl::Status s = CloseRound(now, nullptr);
  if (!s.ok()) FT_LOG(ERROR) << "task " << name() << ": " << s;
}

absl::Status TaskRunner::CloseRound(absl::Time now, const std::string* abandon_reason) {
  ClosedRound closed;
  {
    absl::MutexLock lock(&mu_);
    if (!pending_) {
      pending_ = abandon_reason ? engine_->AbandonOpenRound(now, *abandon_reason)
                                : engine_->TakeClosedRound(now);
    }
    if (!pending_) return absl::OkStatus();
    closed = *pending_;
  }
  BundleMap bundles;
  absl::StatusOr<bool> committed = Persist(closed, bundles, now);
  if (!committed.ok()) {
    // Memory stays exactly at the store's: the round stays closing (no new round
    // opens, its result is kept) and the next tick tries again.
    return absl::Status(committed.status().code(),
                        absl::StrCat("round ", closed.stats.round,
                                     ": cannot record its close, retrying: ",
                                     committed.status().message()));
  }
  const bool ok = *committed;
  v1::RoundInfo info = RoundInfoOf(closed.stats, ok ? v1::COMMITTED : v1::ABANDONED,
                                   ok ? closed.versions : std::map<int, int64_t>{});
  if (!ok) info.set_reason(closed.reason);
  bool mark_done = false;
  if (ok) {
    BundleMap next;
    {
      absl::MutexLock lock(&mu_);
      next = bundles_;
    }
    for (const auto& [key, b] : bundles) next[key] = b;
    PublishTargets(next);  // Signed before the engine announces the versions.
  }
  {
    absl::MutexLock lock(&mu_);
    engine_->FinishRound(closed, ok);
    if (ok) {
      for (auto& [key, b] : bundles) {
        integrity_[{key.first, b->meta.version()}] = "ok";
        bundles_[key] = std::move(b);
      }
    }
    pending_.reset();
    mark_done = engine_->done() && !done_recorded_;
    if (mark_done) done_recorded_ = true;
  }
  if (mark_done) {
    absl::Status s = env_.store->SetTaskState(name(), v1::DONE);
    if (!s.ok()) FT_LOG(ERROR) << "cannot mark task " << name() << " done: " << s;
  }
  FT_LOG(INFO) << "task " << name() << " round " << closed.stats.round
               << (ok ? " committed" : " abandoned: " + closed.reason) << " with "
               << closed.stats.reported << " reports";
  env_.events->Emit(std::move(info));
  if (ok) Prune();
  return absl::OkStatus();
}

void TaskRunner::PublishTargets(const BundleMap& all) {
  if (env_.model_keys != nullptr) {
    // The keys of versions no longer served go (and are wiped).
    std::set<std::string> keep;
    for (const auto& [key, b] : all) keep.insert(b->meta.target_name());
    absl::Status s = env_.model_keys->Retain(name(), keep);
    if (!s.ok()) FT_LOG(ERROR) << "task " << name() << ": cannot drop old model keys: " << s;
  }
  if (env_.publisher == nullptr) return;
  absl::Status s = env_.publisher->Publish(
      name(), all,
      std::map<std::string, std::string>(config_.variant_by_class().begin(),
                                         config_.variant_by_class().end()));
  if (!s.ok()) FT_LOG(ERROR) << "task " << name() << ": cannot sign its bundles: " << s;
}

absl::StatusOr<BundleMap> TaskRunner::Served(const BundleMap& plain) {
  if (env_.model_keys == nullptr) return plain;
  return env_.model_keys->Seal(plain);
}

void TaskRunner::Prune() {
  int keep = 0;
  {
    absl::MutexLock lock(&mu_);
    keep = current_.keep_versions();
  }
  if (keep <= 0) return;
  absl::StatusOr<int> pruned = env_.store->Prune(name(), keep);
  if (!pruned.ok()) {
    // Retention is housekeeping: the next commit tries again.
    FT_LOG(WARNING) << "task " << name() << ": retention failed: " << pruned.status();
  } else if (*pruned > 0) {
    FT_LOG(INFO) << "task " << name() << ": retention pruned " << *pruned << " version(s)";
  }
}

absl::StatusOr<bool> TaskRunner::Persist(ClosedRound& closed, BundleMap& bundles, absl::Time now) {
  std::vector<VersionRow> versions;
  bundles.clear();
  // Bundles are built before the commit: a head that cannot become a bundle
  // abandons the round instead of committing a version no device can fetch.
  for (const auto& [cluster, head] : closed.heads) {
    if (!closed.commit) break;
    absl::StatusOr<BundleMap> b = BuildBundles(config_, templates_, cluster, closed.versions.at(cluster), head);
    if (b.ok()) b = Served(*b);
    if (!b.ok()) {
      closed.commit = false;
      closed.reason = absl::StrCat("cluster ", cluster, ": ", b.status().message());
      bundles.clear();
      break;
    }
    const Bundle& f32 = *b->at({cluster, "float32"});
    VersionRow v;
    v.task = name();
    v.cluster = cluster;
    v.version = closed.versions.at(cluster);
    v.parent_version = v.version - 1;
    v.round = closed.stats.round;
    v.aggregator = config_.aggregator();
    v.participants = closed.participants.at(cluster);
    v.model = f32.bytes;
    v.size_bytes = static_cast<int64_t>(v.model.size());
    v.sha256_hex = f32.sha256_hex;
    v.committed_ms = Ms(now);
    v.optimizer_state = closed.optimizer_states.at(cluster);
    v.shared_prefix_bytes = body_prefix_bytes_;
    versions.push_back(std::move(v));
    bundles.merge(*b);
  }
  const int64_t opened = Ms(closed.stats.opened), closed_ms = Ms(closed.stats.closed);
  if (closed.commit) {
    v1::RoundInfo info = RoundInfoOf(closed.stats, v1::COMMITTED, closed.versions);
    RoundRow row{name(), closed.stats.round, RoundState::kCommitted, opened, closed_ms,
                 info.SerializeAsString()};
    absl::Status s = env_.store->CloseRound(row, versions);
    if (s.ok()) return true;
    if (s.code() != absl::StatusCode::kAlreadyExists) return s;
    // Permanent: a version with this number exists. Record the round abandoned.
    closed.commit = false;
    closed.reason = absl::StrCat("commit refused: ", s.message());
    bundles.clear();
  }
  v1::RoundInfo info = RoundInfoOf(closed.stats, v1::ABANDONED, {});
  info.set_reason(closed.reason);
  RoundRow row{name(), closed.stats.round, RoundState::kAbandoned, opened, closed_ms,
               info.SerializeAsString()};
  absl::Status s = env_.store->CloseRound(row, {});
  // kAlreadyExists: the store has this round closed already; nothing to add.
  if (!s.ok() && s.code() != absl::StatusCode::kAlreadyExists) return s;
  return false;
}

v1::RoundInfo TaskRunner::RoundInfoOf(const RoundStats& s, v1::RoundState state,
                                      const std::map<int, int64_t>& versions) const {
  v1::RoundInfo info;
  info.set_task(name());
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
  for (const auto& [cluster, n] : s.cluster_reported) {
    v1::ClusterRound& c = (*info.mutable_clusters())[cluster];
    c.set_reported(n);
    auto it = s.cluster_metrics.find(cluster);
    if (it == s.cluster_metrics.end()) continue;
    for (const auto& [k, v] : it->second) (*c.mutable_metrics())[k] = v;
  }
  info.set_aggregator(config_.aggregator());
  return info;
}

// ------------------------------------------------------------------ admin API

v1::TaskInfo TaskRunner::Info() const {
  v1::TaskInfo info;
  info.set_created_ms(created_ms_);
  absl::MutexLock lock(&mu_);
  *info.mutable_config() = current_;
  info.set_state(StateLocked());
  info.set_committed_rounds(engine_->committed_rounds());
  return info;
}

absl::StatusOr<v1::TaskInfo> TaskRunner::SetPaused(bool paused) {
  absl::MutexLock commit(&commit_mu_);  // Task-state writes are serialized here.
  {
    absl::MutexLock lock(&mu_);
    if (engine_->done()) {
      return absl::FailedPreconditionError(
          absl::StrCat("task ", name(), engine_->stopped() ? " is stopped" : " is done"));
    }
  }
  RETURN_IF_ERROR(env_.store->SetTaskState(name(), paused ? v1::PAUSED : v1::RUNNING));
  {
    absl::MutexLock lock(&mu_);
    engine_->set_paused(paused);
  }
  return Info();
}

absl::Status TaskRunner::AbandonOpenRoundThen(const std::string& reason,
                                              const std::function<absl::Status()>& then) {
  // Paused meanwhile: no round opens between the abandon and `then`.
  bool was_paused = false;
  {
    absl::MutexLock lock(&mu_);
    was_paused = engine_->paused();
    engine_->set_paused(true);
  }
  auto restore = absl::MakeCleanup([&] {
    absl::MutexLock lock(&mu_);
    engine_->set_paused(was_paused);
  });
  RETURN_IF_ERROR(CloseRound(env_.clock->Now(), &reason));
  return then();
}

absl::StatusOr<v1::TaskInfo> TaskRunner::Stop() {
  absl::MutexLock commit(&commit_mu_);
  {
    absl::MutexLock lock(&mu_);
    if (engine_->stopped()) {
      return absl::FailedPreconditionError(absl::StrCat("task ", name(), " is stopped already"));
    }
  }
  RETURN_IF_ERROR(AbandonOpenRoundThen("task stopped by an operator", [&]() -> absl::Status {
    RETURN_IF_ERROR(env_.store->SetTaskState(name(), v1::STOPPED));
    absl::MutexLock lock(&mu_);
    engine_->Stop();
    done_recorded_ = true;
    return absl::OkStatus();
  }));
  return Info();
}

absl::StatusOr<v1::TaskInfo> TaskRunner::Edit(const v1::UpdateTaskRequest& edit) {
  absl::MutexLock commit(&commit_mu_);
  v1::TaskConfig current;
  int64_t dim = 0;
  {
    absl::MutexLock lock(&mu_);
    if (engine_->stopped()) {
      return absl::FailedPreconditionError(absl::StrCat("task ", name(), " is stopped"));
    }
    current = current_;
    dim = engine_->config().dim;
  }
  ASSIGN_OR_RETURN(v1::TaskConfig next, ApplyEdit(current, edit));
  RETURN_IF_ERROR(env_.store->UpdateTaskConfig(name(), next.SerializeAsString()));
  std::optional<v1::TaskState> new_state;
  {
    absl::MutexLock lock(&mu_);
    const bool was_done = engine_->done();
    // Cannot fail: ApplyEdit changes only what Reconfigure accepts.
    absl::Status s = engine_->Reconfigure(EngineConfigOf(next, dim));
    if (!s.ok()) return absl::InternalError(absl::StrCat("edit stored but not applied: ", s.message()));
    current_ = next;
    if (engine_->done() != was_done) {
      new_state = StateLocked();
      done_recorded_ = engine_->done();
    }
  }
  if (new_state) {
    // More rounds for a done task run it again; fewer than committed end it.
    absl::Status s = env_.store->SetTaskState(name(), *new_state);
    if (!s.ok()) FT_LOG(ERROR) << "task " << name() << ": cannot record its state: " << s;
  }
  if (edit.has_keep_versions()) Prune();
  return Info();
}

absl::StatusOr<v1::ModelVersion> TaskRunner::Rollback(int cluster, int64_t to_version) {
  absl::MutexLock commit(&commit_mu_);
  if (cluster < 0 || cluster >= config_.clusters()) {
    return absl::NotFoundError(absl::StrCat("task ", name(), " has no cluster ", cluster));
  }
  ASSIGN_OR_RETURN(std::vector<VersionRow> rows, env_.store->Versions(name()));
  const VersionRow* target = nullptr;
  int64_t newest = -1;
  for (const VersionRow& v : rows) {
    if (v.cluster != cluster) continue;
    newest = std::max(newest, v.version);
    if (v.version == to_version) target = &v;
  }
  if (target == nullptr) {
    return absl::NotFoundError(
        absl::StrCat("task ", name(), " has no version ", to_version, " of cluster ", cluster));
  }
  if (target->pruned) {
    return absl::FailedPreconditionError(absl::StrCat(
        "version ", to_version, " was pruned by the retention policy: its blob is gone"));
  }
  if (to_version == newest) {
    return absl::FailedPreconditionError(absl::StrCat("version ", to_version, " is current already"));
  }
  ASSIGN_OR_RETURN(std::string blob, env_.store->ReadBlob(*target));
  v1::Model model;
  if (!model.ParseFromString(blob)) {
    return absl::DataLossError(absl::StrCat("version ", to_version, ": stored model unreadable"));
  }
  absl::StatusOr<std::vector<float>> head = HeadParams(model);
  if (!head.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat("version ", to_version, " is unusable: ", head.status().message()));
  }
  const int64_t version = newest + 1;
  ASSIGN_OR_RETURN(BundleMap plain, BuildBundles(config_, templates_, cluster, version, *head));
  ASSIGN_OR_RETURN(BundleMap bundles, Served(plain));
  const Bundle& f32 = *bundles.at({cluster, "float32"});
  ASSIGN_OR_RETURN(int64_t last_round, env_.store->LastRound(name()));
  VersionRow v = *target;
  v.version = version;
  v.parent_version = to_version;
  v.round = last_round;
  v.aggregator = "rollback";
  v.participants = 0;
  v.committed_ms = Ms(env_.clock->Now());
  v.model = f32.bytes;
  v.sha256_hex = f32.sha256_hex;
  v.size_bytes = static_cast<int64_t>(f32.bytes.size());
  v.shared_prefix_bytes = body_prefix_bytes_;
  v.pinned = false;
  v.pruned = false;

  // The open round is abandoned and none opens before the new model is in place.
  v1::ModelVersion out;
  RETURN_IF_ERROR(AbandonOpenRoundThen(
      absl::StrCat("cluster ", cluster, " rolled back to version ", to_version, " by an operator"),
      [&]() -> absl::Status {
        RETURN_IF_ERROR(env_.store->CommitVersions({v}));
        BundleMap next;
        {
          absl::MutexLock lock(&mu_);
          next = bundles_;
        }
        for (const auto& [key, b] : bundles) next[key] = b;
        PublishTargets(next);
        absl::MutexLock lock(&mu_);
        absl::Status s =
            engine_->ReplaceModel(cluster, ClusterModel{*head, version, v.optimizer_state});
        if (!s.ok()) {
          // Cannot happen (no round is open while paused); the store has the
          // version, so a restart serves it.
          return absl::InternalError(absl::StrCat("rollback stored but not applied: ", s.message()));
        }
        for (auto& [key, b] : bundles) bundles_[key] = std::move(b);
        integrity_[{cluster, version}] = "ok";
        out = ModelVersionOf(v);
        return absl::OkStatus();
      }));
  FT_LOG(WARNING) << "task " << name() << " cluster " << cluster << ": rolled back to version "
                  << to_version << ", committed as version " << version;
  Prune();
  return out;
}

absl::StatusOr<v1::ModelVersion> TaskRunner::Pin(int cluster, int64_t version, bool pinned) {
  absl::MutexLock commit(&commit_mu_);
  RETURN_IF_ERROR(env_.store->SetPinned(name(), cluster, version, pinned));
  ASSIGN_OR_RETURN(std::vector<VersionRow> rows, env_.store->Versions(name()));
  for (const VersionRow& v : rows) {
    if (v.cluster != cluster || v.version != version) continue;
    absl::MutexLock lock(&mu_);
    return ModelVersionOf(v);
  }
  return absl::NotFoundError("version vanished");  // Only a concurrent delete does this.
}

absl::StatusOr<std::vector<v1::RoundInfo>> TaskRunner::ListRounds(int limit) {
  std::vector<v1::RoundInfo> out;
  {
    absl::MutexLock lock(&mu_);
    if (std::optional<RoundStats> cur = engine_->current()) {
      out.push_back(RoundInfoOf(*cur, v1::OPEN, {}));
    }
  }
  ASSIGN_OR_RETURN(std::vector<RoundRow> rows, env_.store->Rounds(name(), limit));
  absl::MutexLock lock(&mu_);
  for (const RoundRow& row : rows) {
    if (!out.empty() && out.front().round() == row.round) continue;  // Still open.
    v1::RoundInfo info;
    // Rounds recorded only at opening (then abandoned) carry no info.
    if (!info.ParseFromString(row.info) || info.round() != row.round) {
      info.Clear();
      info.set_task(name());
      info.set_round(row.round);
      info.set_opened_ms(row.opened_ms);
      if (row.state == RoundState::kAbandoned) info.set_reason("open when the coordinator stopped");
    }
    for (const auto& [reason, n] : engine_->LateRejections(row.round)) {
      (*info.mutable_rejected())[reason] += n;
    }
    info.set_state(static_cast<v1::RoundState>(row.state));
    if (row.state == RoundState::kAbandoned) info.set_closed_ms(row.closed_ms);
    out.push_back(std::move(info));
  }
  if (limit > 0 && static_cast<int>(out.size()) > limit) out.resize(limit);
  return out;
}

v1::ModelVersion TaskRunner::ModelVersionOf(const VersionRow& v) const {
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
  auto it = integrity_.find({v.cluster, v.version});
  m.set_integrity(v.pruned ? "pruned" : it == integrity_.end() ? "unchecked" : it->second);
  m.set_pinned(v.pinned);
  return m;
}

absl::StatusOr<std::vector<v1::ModelVersion>> TaskRunner::ListModels() {
  ASSIGN_OR_RETURN(std::vector<VersionRow> rows, env_.store->Versions(name()));
  absl::MutexLock lock(&mu_);
  std::vector<v1::ModelVersion> out;
  for (const VersionRow& v : rows) out.push_back(ModelVersionOf(v));
  return out;
}

absl::StatusOr<v1::VerifyResponse> TaskRunner::Verify() {
  ASSIGN_OR_RETURN(BlobChecks checks, CheckBlobs());
  absl::MutexLock lock(&mu_);
  v1::VerifyResponse out;
  for (const auto& [v, integrity] : checks) {
    out.set_checked(out.checked() + 1);
    integrity_[{v.cluster, v.version}] = integrity;
    if (integrity != "ok") *out.add_bad() = ModelVersionOf(v);
  }
  return out;
}

v1::FleetResponse TaskRunner::Fleet() const {
  const v1::TaskState s = state();
  return fleet_.Counts(OverrideState(s));
}

std::string TaskRunner::OverrideState(v1::TaskState s) {
  switch (s) {
    case v1::DONE: return "done";
    case v1::PAUSED: return "paused";
    case v1::STOPPED: return "stopped";
    default: return "";
  }
}

absl::StatusOr<v1::ListDevicesResponse> TaskRunner::ListDevices(
    const v1::ListDevicesRequest& r) const {
  ASSIGN_OR_RETURN(const int size, PageSize(r.page_size()));
  std::string after;
  if (!r.page_token().empty() && !absl::WebSafeBase64Unescape(r.page_token(), &after)) {
    return absl::InvalidArgumentError("page_token is not one this server gave");
  }
  v1::ListDevicesResponse out;
  int64_t total = 0;
  std::vector<v1::DeviceInfo> page = fleet_.List(r.state(), OverrideState(state()), after, size + 1, &total);
  const bool more = static_cast<int>(page.size()) > size;
  if (more) page.resize(size);
  for (v1::DeviceInfo& d : page) *out.add_devices() = std::move(d);
  out.set_total(total);
  if (more) out.set_next_page_token(absl::WebSafeBase64Escape(out.devices().rbegin()->device_id()));
  return out;
}

absl::StatusOr<v1::GetModelResponse> TaskRunner::GetModel(int cluster, int64_t version) {
  ASSIGN_OR_RETURN(std::vector<VersionRow> rows, env_.store->Versions(name()));
  for (const VersionRow& v : rows) {
    if (v.cluster != cluster || v.version != version) continue;
    v1::GetModelResponse out;
    ASSIGN_OR_RETURN(*out.mutable_model(), env_.store->ReadBlob(v));
    absl::MutexLock lock(&mu_);
    *out.mutable_version() = ModelVersionOf(v);
    return out;
  }
  return absl::NotFoundError(
      absl::StrCat("task ", name(), " has no version ", version, " of cluster ", cluster));
}

std::map<int, std::string> TaskRunner::CurrentModels() const {
  std::map<int, std::string> out;
  absl::MutexLock lock(&mu_);
  for (const auto& [key, b] : bundles_) {
    if (key.second == "float32") out[key.first] = b->bytes;
  }
  return out;
}

}  // namespace fedtiny::coordinator
