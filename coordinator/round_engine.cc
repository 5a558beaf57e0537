#include "coordinator/round_engine.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "aggregation/factory.h"
#include "aggregation/kmeans.h"
#include "aggregation/server_optimizer.h"
#include "tools/base/sha256.h"
#include "tools/base/status_macros.h"

namespace fedtiny::coordinator {

namespace {

constexpr double kRateWindowS = 60;  // Time constant of the check-in rate estimate.
// A warm-up round keeps at most this many update floats (64 MiB) to cluster;
// later uploads count only towards the shared head's fallback aggregate.
constexpr size_t kMaxWarmupFloats = size_t{1} << 24;
// k-means of the warm-up: Lloyd steps per start and at most 8 k-means++ starts
// (the lowest inertia wins); fewer starts when rows x dim x clusters x steps
// would pass kWarmupBudget multiply-adds (seconds, once per task): 8 starts for
// a few hundred updates of a 10,000-parameter head take well under a second.
constexpr int kWarmupLloydSteps = 20;
constexpr int kWarmupRestarts = 8;
constexpr double kWarmupBudget = 2e10;

// Sum of squares in double (a float sum overflows for finite values above
// ~1e19), with four independent accumulators so the adds overlap.
double SquaredNorm(const std::vector<float>& v) {
  double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  size_t i = 0;
  for (; i + 4 <= v.size(); i += 4) {
    const double a = v[i], b = v[i + 1], c = v[i + 2], d = v[i + 3];
    s0 += a * a;
    s1 += b * b;
    s2 += c * c;
    s3 += d * d;
  }
  for (; i < v.size(); ++i) s0 += static_cast<double>(v[i]) * v[i];
  return (s0 + s1) + (s2 + s3);
}

}  // namespace

std::string SecretKeyOf(absl::string_view secret) {
  absl::StatusOr<Sha256Digest> d = Sha256(secret);
  return d.ok() ? std::string(reinterpret_cast<const char*>(d->data()), d->size()) : "";
}

absl::StatusOr<std::unique_ptr<RoundEngine>> RoundEngine::Create(
    EngineConfig config, std::map<int, ClusterModel> models, int64_t next_round,
    int committed_rounds, aggregation::RandomSource* random) {
  if (config.task.empty() || config.rounds < 1 || config.goal < 1 ||
      !(config.over_selection >= 1 && config.over_selection <= 100) || config.min_reports < 1 ||
      !(config.max_update_norm > 0) ||
      config.min_reports > config.goal || config.deadline <= absl::ZeroDuration() ||
      config.clusters < 1 || config.dim < 1 || next_round < 1 || random == nullptr) {
    return absl::InvalidArgumentError(
        "engine: need a task name, rounds >= 1, goal >= 1, over_selection in [1, 100], "
        "1 <= min_reports <= goal, deadline > 0, clusters >= 1, dim >= 1");
  }
  if (const auto& a = config.async;
      a && (a->concurrency < 1 || a->buffer < 1 || a->max_staleness < 0 ||
            !(a->staleness_exponent >= 0 && a->staleness_exponent <= 10))) {
    return absl::InvalidArgumentError(
        "engine: async needs concurrency >= 1, buffer >= 1, max_staleness >= 0 and "
        "staleness_exponent in [0, 10]");
  }
  ASSIGN_OR_RETURN(aggregation::AggregatorFactory factory,
                   aggregation::ParseAggregatorSpec(config.aggregator, {random}));
  RETURN_IF_ERROR(aggregation::ParseServerOptimizer(config.server_optimizer).status());
  if (static_cast<int>(models.size()) != config.clusters) {
    return absl::InvalidArgumentError("engine: one model per cluster is needed");
  }
  for (const auto& [cluster, m] : models) {
    if (cluster < 0 || cluster >= config.clusters ||
        static_cast<int64_t>(m.head.size()) != config.dim) {
      return absl::InvalidArgumentError(
          absl::StrCat("engine: cluster ", cluster, " model does not match dim ", config.dim));
    }
  }
  return std::unique_ptr<RoundEngine>(new RoundEngine(std::move(config), std::move(models),
                                                      next_round, committed_rounds, random,
                                                      std::move(factory)));
}

RoundEngine::RoundEngine(EngineConfig config, std::map<int, ClusterModel> models,
                         int64_t next_round, int committed_rounds,
                         aggregation::RandomSource* random,
                         aggregation::AggregatorFactory factory)
    : config_(std::move(config)),
      models_(std::move(models)),
      next_round_(next_round),
      committed_rounds_(committed_rounds),
      random_(random),
      factory_(std::move(factory)) {}

bool RoundEngine::Eligible(const DeviceCheckIn& d) const {
  return config_.eligibility.Allows(
      DeviceStatus{d.charging, d.idle, d.unmetered, d.battery_percent, false});
}

// Pace steering (Bonawitz et al. 2019): spread the devices that cannot be
// admitted now over a window sized so that the expected check-ins per round
// match what a round needs, starting when the next admission can happen.
RetryLater RoundEngine::Pace(absl::Time now, std::string reason) const {
  absl::Duration until_next = absl::Seconds(1);
  if (open_) until_next = std::max(until_next, open_->deadline - now);
  const double need = std::ceil(config_.goal * config_.over_selection);
  const double round_s = absl::ToDoubleSeconds(config_.deadline);
  // Devices arriving at rate r over a window W: r * W of them. Ask for need per round.
  double window_s = checkin_rate_ > 0 ? need / checkin_rate_ : round_s;
  window_s = std::clamp(window_s, 1.0, 24 * 3600.0);
  return RetryLater{until_next, until_next + absl::Seconds(window_s), std::move(reason)};
}

std::string RoundEngine::NewToken() {
  uint64_t words[2];
  random_->Fill(absl::MakeSpan(words, 2));
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(words), sizeof(words)));
}

void RoundEngine::Open(absl::Time now) {
  OpenRound r;
  if (async()) {
    // Tokens carry their own deadlines; what arrived between rounds counts here.
    r = std::move(carry_);
    carry_ = OpenRound{};
    r.stats.round = next_round_++;
    r.stats.opened = now;
    r.deadline = absl::InfiniteFuture();
    open_ = std::move(r);
    return;
  }
  r.stats.round = next_round_++;
  r.stats.opened = now;
  r.deadline = now + config_.deadline;
  r.aggregator = std::make_unique<aggregation::ClusteredAggregator>(config_.clusters,
                                                                    config_.dim, factory_);
  r.warmup = WarmingUp();
  open_ = std::move(r);
}

std::variant<Admitted, RetryLater> RoundEngine::CheckIn(const DeviceCheckIn& d,
                                                        absl::Time now) {
  if (done()) return RetryLater{absl::Hours(6), absl::Hours(12), "done"};
  if (paused_) return RetryLater{absl::Minutes(5), absl::Minutes(10), "paused"};
  if (!Eligible(d)) return RetryLater{absl::Minutes(10), absl::Minutes(30), "ineligible"};
  // Pace from eligible demand only: a flood of ineligible devices says nothing
  // about how fast rounds can fill.
  if (last_checkin_ != absl::InfinitePast()) {
    const double dt = std::max(0.0, absl::ToDoubleSeconds(now - last_checkin_));
    checkin_rate_ = checkin_rate_ * std::exp(-dt / kRateWindowS) + 1.0 / kRateWindowS;
  }
  last_checkin_ = now;
  auto cool = cooldown_until_.find(d.device_id);
  if (cool != cooldown_until_.end()) {
    if (cool->second > now) {
      return RetryLater{cool->second - now, cool->second - now + absl::Minutes(5),
                        "cooling_down"};
    }
    cooldown_until_.erase(cool);
  }
  if (async()) return AsyncCheckIn(d, now);
  if (auto again = Readmit(d)) return *std::move(again);
  if (!open_) Open(now);
  OpenRound& r = *open_;
  // over_selection <= 100 (Create): the product of an int and it fits a double
  // exactly enough, and the clamp keeps the cast defined.
  const int target = static_cast<int>(std::min<double>(
      std::ceil(config_.goal * config_.over_selection), std::numeric_limits<int>::max()));
  auto quota = config_.class_quota.find(d.device_class);
  if (r.closing || now >= r.deadline || r.stats.selected >= target ||
      (quota != config_.class_quota.end() && r.per_class[d.device_class] >= quota->second)) {
    return Pace(now, "round_full");
  }
  const std::string token = NewToken();
  r.by_token[SecretKeyOf(token)] = Participant{d.device_id, d.device_class, d.secret_key};
  r.token_of_device[d.device_id] = SecretKeyOf(token);
  ++r.per_class[d.device_class];
  ++r.stats.selected;
  return Admitted{r.stats.round, token, r.deadline};
}

// A device admitted to the open round checks in again (it lost the answer, or
// someone else uses its id). The same secret gets a fresh token and the old one
// is revoked, so no token is ever handed out twice; another secret gets nothing.
std::optional<std::variant<Admitted, RetryLater>> RoundEngine::Readmit(const DeviceCheckIn& d) {
  if (!open_) return std::nullopt;
  auto again = open_->token_of_device.find(d.device_id);
  if (again == open_->token_of_device.end()) return std::nullopt;
  OpenRound& r = *open_;
  auto it = r.by_token.find(again->second);
  const absl::Duration wait = absl::Minutes(5);
  if (it == r.by_token.end() || r.closing) return RetryLater{wait, 2 * wait, "round_full"};
  if (it->second.secret_key != d.secret_key) {
    return RetryLater{wait, 2 * wait, "device_id_taken"};
  }
  if (it->second.reported || it->second.failed) return RetryLater{wait, 2 * wait, "reported"};
  Participant p = std::move(it->second);
  r.by_token.erase(it);
  const std::string token = NewToken();
  r.by_token[SecretKeyOf(token)] = std::move(p);
  again->second = SecretKeyOf(token);
  return Admitted{r.stats.round, token, r.deadline};
}

void RoundEngine::CancelOpen(int64_t round) {
  if (!open_ || open_->stats.round != round || round != next_round_ - 1) return;
  if (async()) {
    // Its counts wait for the next opening; the admission that opened it is undone.
    carry_ = std::move(*open_);
    for (auto it = async_tokens_.begin(); it != async_tokens_.end();) {
      auto here = it++;
      if (here->second.round != round) continue;
      if (!here->second.p.reported && !here->second.p.failed) --in_flight_;
      --carry_.stats.selected;
      async_token_of_device_.erase(here->second.p.device_id);
      async_tokens_.erase(here);
    }
  }
  open_.reset();
  --next_round_;
}

absl::Status RoundEngine::Reject(int64_t round, const char* reason, absl::Status status) {
  if (async()) {
    ++Tally().stats.rejected[reason];
  } else if (open_ && round == open_->stats.round) {
    ++open_->stats.rejected[reason];
  } else if (auto it = late_rejections_.find(round); it != late_rejections_.end()) {
    ++it->second[reason];
  } else if (open_) {
    ++open_->stats.rejected[reason];  // A round never opened: seen during this one.
  }
  return status;
}

std::map<std::string, int> RoundEngine::LateRejections(int64_t round) const {
  auto it = late_rejections_.find(round);
  return it == late_rejections_.end() ? std::map<std::string, int>{} : it->second;
}

absl::Status CheckUploadMetrics(const Upload& u) {
  if (u.metrics.size() > kMaxUploadMetrics) {
    return absl::InvalidArgumentError(
        absl::StrCat("at most ", kMaxUploadMetrics, " metrics per upload, got ", u.metrics.size()));
  }
  for (const auto& [name, value] : u.metrics) {
    if (name.empty() || name.size() > kMaxMetricNameBytes || !std::isfinite(value)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "metric names take 1 to ", kMaxMetricNameBytes, " bytes and values must be finite"));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckUploadFields(const EngineConfig& config, const Upload& u, int clusters) {
  if (u.cluster < 0 || u.cluster >= clusters || u.example_count <= 0 ||
      u.example_count > config.max_example_count) {
    return absl::InvalidArgumentError(absl::StrCat(
        "cluster must be in [0, ", clusters, ") and example_count in [1, ",
        config.max_example_count, "]"));
  }
  if (!u.malformed.empty()) return absl::InvalidArgumentError(u.malformed);
  RETURN_IF_ERROR(CheckUploadMetrics(u));
  const double norm2 = SquaredNorm(u.delta);  // Inf/NaN make it non-finite and fail below.
  if (!(std::sqrt(norm2) <= config.max_update_norm) && std::isfinite(norm2)) {
    return absl::InvalidArgumentError(absl::StrCat("update norm ", std::sqrt(norm2),
                                                   " exceeds the task's max_update_norm ",
                                                   config.max_update_norm));
  }
  return absl::OkStatus();
}

absl::Status RoundEngine::CheckMetrics(const Upload& u) const { return CheckUploadMetrics(u); }

absl::Status RoundEngine::CheckUpload(const Upload& u, int clusters) const {
  return CheckUploadFields(config_, u, clusters);
}

absl::Status RoundEngine::Accept(const Upload& u, absl::Time now) {
  if (async()) return AsyncAccept(u, now);
  const int64_t round = u.round;
  if (!open_ || u.round != open_->stats.round) {
    if (u.round >= next_round_ || u.round < 1) {
      return Reject(round, "wrong_round", absl::NotFoundError(
                                       absl::StrCat("round ", u.round, " was never opened")));
    }
    return Reject(round, "late", absl::DeadlineExceededError(
                              absl::StrCat("round ", u.round, " is closed")));
  }
  OpenRound& r = *open_;
  auto it = r.by_token.find(SecretKeyOf(u.token));
  if (it == r.by_token.end()) {
    return Reject(round, "bad_token", absl::PermissionDeniedError(
                                   "upload token was not issued for this round"));
  }
  if (it->second.secret_key != u.secret_key) {
    return Reject(round, "wrong_device", absl::PermissionDeniedError(
                                      "upload token was issued to another device"));
  }
  if (r.closing || now > r.deadline) {
    return Reject(round, "late", absl::DeadlineExceededError(
                              absl::StrCat("round ", u.round, " passed its deadline")));
  }
  Participant& p = it->second;
  if (p.reported) {
    return Reject(round, "duplicate", absl::AlreadyExistsError("this token already uploaded"));
  }
  if (absl::Status m = CheckUpload(u, r.warmup ? 1 : config_.clusters); !m.ok()) {
    return Reject(round, "malformed", m);
  }
  if (u.model_version != models_.at(u.cluster).version) {
    return Reject(round, "stale", absl::FailedPreconditionError(absl::StrCat(
                               "update trained from version ", u.model_version,
                               ", cluster ", u.cluster, " is at ",
                               models_.at(u.cluster).version)));
  }
  absl::Status s = r.aggregator->Accumulate(u.delta, static_cast<double>(u.example_count),
                                            {p.device_id, u.cluster});
  if (!s.ok()) return Reject(round, "malformed", s);
  if (r.warmup && r.warmup_rows.size() + u.delta.size() <= kMaxWarmupFloats) {
    r.warmup_rows.insert(r.warmup_rows.end(), u.delta.begin(), u.delta.end());
    r.warmup_meta.push_back({static_cast<double>(u.example_count), {p.device_id, 0}});
  }
  p.reported = true;
  CountMetrics(r, u);
  return absl::OkStatus();
}

void RoundEngine::CountMetrics(OpenRound& r, const Upload& u) {
  ++r.stats.reported;
  ++r.stats.cluster_reported[u.cluster];
  // Example-weighted running means of the accepted metrics, overall and per cluster.
  const double w = static_cast<double>(u.example_count);
  auto update = [w](double& mean, double& seen, double value) {
    mean += (value - mean) * w / (seen + w);
    seen += w;
  };
  for (const auto& [name, value] : u.metrics) {
    if (std::find(config_.accepted_metrics.begin(), config_.accepted_metrics.end(), name) ==
        config_.accepted_metrics.end()) {
      ++r.stats.rejected["unknown_metric"];
      continue;
    }
    // Each metric has its own weight: uploads that omit it do not dilute it.
    update(r.stats.metrics[name], r.metric_weights[name], value);
    update(r.stats.cluster_metrics[u.cluster][name], r.cluster_metric_weights[{u.cluster, name}],
           value);
  }
}

absl::Status RoundEngine::CheckToken(int64_t round, const std::string& token) const {
  if (async()) {
    auto it = async_tokens_.find(SecretKeyOf(token));
    if (it == async_tokens_.end() || it->second.round != round) {
      return absl::PermissionDeniedError("upload token was not issued for this round");
    }
    return absl::OkStatus();
  }
  if (!open_ || round != open_->stats.round) {
    return absl::NotFoundError(absl::StrCat("round ", round, " is not open"));
  }
  if (!open_->by_token.contains(SecretKeyOf(token))) {
    return absl::PermissionDeniedError("upload token was not issued for this round");
  }
  return absl::OkStatus();
}

std::optional<std::string> RoundEngine::DeviceForToken(const std::string& token) const {
  if (async()) {
    auto it = async_tokens_.find(SecretKeyOf(token));
    if (it == async_tokens_.end()) return std::nullopt;
    return it->second.p.device_id;
  }
  if (!open_) return std::nullopt;
  auto it = open_->by_token.find(SecretKeyOf(token));
  if (it == open_->by_token.end()) return std::nullopt;
  return it->second.device_id;
}

absl::Status RoundEngine::Fail(int64_t round, const std::string& token, absl::Time) {
  if (async()) return AsyncFail(round, token);
  if (!open_ || round != open_->stats.round) {
    return absl::NotFoundError(absl::StrCat("round ", round, " is not open"));
  }
  auto it = open_->by_token.find(SecretKeyOf(token));
  if (it == open_->by_token.end()) {
    return absl::PermissionDeniedError("upload token was not issued for this round");
  }
  if (!it->second.failed && !it->second.reported) {
    it->second.failed = true;
    ++open_->stats.failed;
  }
  return absl::OkStatus();
}

std::optional<ClosedRound> RoundEngine::TakeClosedRound(absl::Time now) {
  if (async()) return AsyncTakeClosedRound(now);
  if (!open_ || open_->closing) return std::nullopt;
  OpenRound& r = *open_;
  if (r.stats.reported < config_.goal && now < r.deadline) return std::nullopt;
  r.closing = true;
  ClosedRound closed;
  closed.stats = r.stats;
  closed.stats.closed = now;
  if (r.stats.reported < config_.min_reports) {
    closed.reason = absl::StrCat("too few reports (", r.stats.reported, " < ",
                                 config_.min_reports, ")");
    return closed;
  }
  ApplyAggregates(*r.aggregator, closed, {}, r.warmup ? &r : nullptr);
  return closed;
}

void RoundEngine::ApplyAggregates(aggregation::ClusteredAggregator& agg, ClosedRound& closed,
                                  const std::map<int, double>& scale, OpenRound* warmup) {
  const auto opt_config = *aggregation::ParseServerOptimizer(config_.server_optimizer);
  absl::StatusOr<std::map<int, Eigen::VectorXf>> deltas =
      warmup != nullptr ? WarmupDeltas(*warmup) : agg.ReportAll();
  if (!deltas.ok()) {
    closed.reason = std::string(deltas.status().message());  // Abandoned, as below.
    return;
  }
  for (auto& [cluster, delta] : *deltas) {
    if (auto f = scale.find(cluster); f != scale.end()) delta *= static_cast<float>(f->second);
    // A warm-up round's aggregates all apply to the shared head.
    const ClusterModel& m = models_.at(warmup != nullptr ? 0 : cluster);
    absl::StatusOr<aggregation::ServerOptimizer> opt =
        m.optimizer_state.empty()
            ? absl::StatusOr<aggregation::ServerOptimizer>(
                  aggregation::ServerOptimizer(opt_config, config_.dim))
            : aggregation::ServerOptimizer::Restore(m.optimizer_state);
    Eigen::VectorXf head = Eigen::Map<const Eigen::VectorXf>(m.head.data(), config_.dim);
    absl::Status s = opt.ok() ? opt->Apply(delta, head) : opt.status();
    if (s.ok() && !(delta.allFinite() && head.allFinite())) {
      s = absl::InvalidArgumentError("non-finite aggregate");
    }
    if (!s.ok()) {
      // Never half-committed: one bad cluster abandons the whole round.
      closed.reason = absl::StrCat("cluster ", cluster, ": ", s.message());
      closed.heads.clear();
      return;
    }
    closed.heads[cluster].assign(head.data(), head.data() + head.size());
    closed.optimizer_states[cluster] = opt->Serialize();
    closed.versions[cluster] = models_.at(cluster).version + 1;
    closed.participants[cluster] = warmup == nullptr || warmup->warmup_counts.empty()
                                       ? static_cast<int>(agg.num_updates(cluster))
                                       : warmup->warmup_counts.at(cluster);
  }
  closed.commit = !closed.heads.empty();
  if (!closed.commit) closed.reason = "no cluster had enough updates to aggregate";
}

bool RoundEngine::WarmingUp() const {
  if (!config_.cluster_warmup || config_.clusters < 2) return false;
  return std::all_of(models_.begin(), models_.end(),
                     [](const auto& m) { return m.first == 0 || m.second.version == 0; });
}

int RoundEngine::offered_clusters() const {
  if (open_) return open_->warmup ? 1 : config_.clusters;
  return WarmingUp() ? 1 : config_.clusters;
}

absl::StatusOr<std::map<int, Eigen::VectorXf>> RoundEngine::WarmupDeltas(OpenRound& r) {
  const int64_t n = static_cast<int64_t>(r.warmup_meta.size());
  if (n < config_.clusters) return r.aggregator->ReportAll();
  absl::StatusOr<aggregation::KMeansResult> groups = aggregation::SphericalKMeans(
      aggregation::ConstRowMatrixMap(r.warmup_rows.data(), n, config_.dim),
      {config_.clusters, kWarmupLloydSteps,
       static_cast<int>(std::clamp(kWarmupBudget / (static_cast<double>(n) * config_.dim *
                                                    config_.clusters * kWarmupLloydSteps),
                                   1.0, static_cast<double>(kWarmupRestarts)))},
      *random_);
  if (!groups.ok()) return r.aggregator->ReportAll();  // Fewer distinct directions than heads.
  aggregation::ClusteredAggregator per_group(config_.clusters, config_.dim, factory_);
  for (int64_t i = 0; i < n; ++i) {
    aggregation::ClientInfo info = r.warmup_meta[i].second;
    info.cluster_id = groups->labels[i];
    RETURN_IF_ERROR(per_group.Accumulate(
        absl::MakeConstSpan(r.warmup_rows.data() + i * config_.dim, config_.dim),
        r.warmup_meta[i].first, info));
    ++r.warmup_counts[info.cluster_id];
  }
  return per_group.ReportAll();
}

std::optional<ClosedRound> RoundEngine::AbandonOpenRound(absl::Time now, std::string reason) {
  if (!open_ || open_->closing) return std::nullopt;
  open_->closing = true;
  ClosedRound closed;
  closed.stats = open_->stats;
  closed.stats.closed = now;
  closed.reason = std::move(reason);
  return closed;
}

absl::Status RoundEngine::Reconfigure(EngineConfig c) {
  const EngineConfig& o = config_;
  if (c.task != o.task || c.clusters != o.clusters || c.dim != o.dim ||
      c.aggregator != o.aggregator || c.server_optimizer != o.server_optimizer ||
      c.max_example_count != o.max_example_count || c.max_update_norm != o.max_update_norm ||
      c.accepted_metrics != o.accepted_metrics || c.async != o.async ||
      c.cluster_warmup != o.cluster_warmup) {
    return absl::InvalidArgumentError(
        "only rounds, goal, over-selection, minimum reports, deadline, eligibility, cooldown "
        "and class quotas may change while a task runs");
  }
  config_ = std::move(c);
  return absl::OkStatus();
}

absl::Status RoundEngine::ReplaceModel(int cluster, ClusterModel model) {
  if (open_) {
    return absl::FailedPreconditionError(
        absl::StrCat("round ", open_->stats.round, " is open: its updates were trained from the "
                     "current model"));
  }
  auto it = models_.find(cluster);
  if (it == models_.end()) return absl::InvalidArgumentError(absl::StrCat("no cluster ", cluster));
  if (static_cast<int64_t>(model.head.size()) != config_.dim) {
    return absl::InvalidArgumentError(absl::StrCat("head has ", model.head.size(),
                                                   " parameters, the task's has ", config_.dim));
  }
  it->second = std::move(model);
  buffers_.erase(cluster);  // Asynchronous: trained from the model replaced.
  return absl::OkStatus();
}

void RoundEngine::FinishRound(const ClosedRound& closed, bool committed) {
  if (committed && closed.commit) {
    for (const auto& [cluster, head] : closed.heads) {
      ClusterModel& m = models_[cluster];
      m.head = head;
      m.version = closed.versions.at(cluster);
      m.optimizer_state = closed.optimizer_states.at(cluster);
    }
    ++committed_rounds_;
  }
  // Asynchronous: the flushed updates leave the buffer either way (an
  // aggregate that failed would fail again); later arrivals stay.
  for (const auto& [cluster, n] : flushing_) {
    std::vector<Buffered>& b = buffers_[cluster];
    b.erase(b.begin(), b.begin() + static_cast<std::ptrdiff_t>(std::min(n, b.size())));
  }
  flushing_.clear();
  if (open_ && open_->stats.round == closed.stats.round) {
    // Later uploads for this round are counted here (late_rejections_).
    late_rejections_[closed.stats.round];
    while (late_rejections_.size() > 64) late_rejections_.erase(late_rejections_.begin());
    if (config_.cooldown > absl::ZeroDuration()) {
      for (const auto& [key, p] : open_->by_token) {
        cooldown_until_[p.device_id] = closed.stats.closed + config_.cooldown;
      }
    }
    open_.reset();
  }
}

std::optional<RoundStats> RoundEngine::current() const {
  if (!open_) return std::nullopt;
  return open_->stats;
}

std::optional<absl::Time> RoundEngine::open_deadline() const {
  if (!open_) return std::nullopt;
  return open_->deadline;
}

}  // namespace fedtiny::coordinator
