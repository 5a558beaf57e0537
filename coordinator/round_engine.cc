#include "coordinator/round_engine.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "aggregation/factory.h"
#include "aggregation/server_optimizer.h"
#include "tools/base/sha256.h"
#include "tools/base/status_macros.h"

namespace fedtiny::coordinator {

namespace {

constexpr double kRateWindowS = 60;  // Time constant of the check-in rate estimate.

// Tokens are kept by their SHA-256: lookups and comparisons never touch the
// secret itself, so their timing says nothing about it.
std::string TokenKey(const std::string& token) {
  absl::StatusOr<Sha256Digest> d = Sha256(token);
  return d.ok() ? std::string(reinterpret_cast<const char*>(d->data()), d->size()) : "";
}

}  // namespace

absl::StatusOr<std::unique_ptr<RoundEngine>> RoundEngine::Create(
    EngineConfig config, std::map<int, ClusterModel> models, int64_t next_round,
    int committed_rounds, aggregation::RandomSource* random) {
  if (config.task.empty() || config.rounds < 1 || config.goal < 1 ||
      config.over_selection < 1 || config.min_reports < 1 ||
      config.min_reports > config.goal || config.deadline <= absl::ZeroDuration() ||
      config.clusters < 1 || config.dim < 1 || next_round < 1 || random == nullptr) {
    return absl::InvalidArgumentError(
        "engine: need a task name, rounds >= 1, goal >= 1, over_selection >= 1, "
        "1 <= min_reports <= goal, deadline > 0, clusters >= 1, dim >= 1");
  }
  ASSIGN_OR_RETURN(aggregation::AggregatorFactory factory,
                   aggregation::ParseAggregatorSpec(config.aggregator));
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
  const Eligibility& e = config_.eligibility;
  return (!e.require_charging || d.charging) && (!e.require_idle || d.idle) &&
         (!e.require_unmetered || d.unmetered) && d.battery_percent >= e.min_battery_percent;
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
  r.stats.round = next_round_++;
  r.stats.opened = now;
  r.deadline = now + config_.deadline;
  r.aggregator = std::make_unique<aggregation::ClusteredAggregator>(config_.clusters,
                                                                    config_.dim, factory_);
  open_ = std::move(r);
}

std::variant<Admitted, RetryLater> RoundEngine::CheckIn(const DeviceCheckIn& d,
                                                        absl::Time now) {
  if (last_checkin_ != absl::InfinitePast()) {
    const double dt = std::max(0.0, absl::ToDoubleSeconds(now - last_checkin_));
    checkin_rate_ = checkin_rate_ * std::exp(-dt / kRateWindowS) + 1.0 / kRateWindowS;
  }
  last_checkin_ = now;
  if (done()) return RetryLater{absl::Hours(6), absl::Hours(12), "done"};
  if (paused_) return RetryLater{absl::Minutes(5), absl::Minutes(10), "paused"};
  if (!Eligible(d)) return RetryLater{absl::Minutes(10), absl::Minutes(30), "ineligible"};
  auto cool = cooldown_until_.find(d.device_id);
  if (cool != cooldown_until_.end()) {
    if (cool->second > now) {
      return RetryLater{cool->second - now, cool->second - now + absl::Minutes(5),
                        "cooling_down"};
    }
    cooldown_until_.erase(cool);
  }
  if (open_) {
    auto again = open_->token_of_device.find(d.device_id);
    if (again != open_->token_of_device.end() && !open_->closing) {
      return Admitted{open_->stats.round, again->second, open_->deadline};
    }
  }
  if (!open_) Open(now);
  OpenRound& r = *open_;
  const int target = static_cast<int>(std::ceil(config_.goal * config_.over_selection));
  auto quota = config_.class_quota.find(d.device_class);
  if (r.closing || now >= r.deadline || r.stats.selected >= target ||
      (quota != config_.class_quota.end() && r.per_class[d.device_class] >= quota->second)) {
    return Pace(now, "round_full");
  }
  const std::string token = NewToken();
  r.by_token[TokenKey(token)] = Participant{d.device_id, d.device_class};
  r.token_of_device[d.device_id] = token;
  ++r.per_class[d.device_class];
  ++r.stats.selected;
  return Admitted{r.stats.round, token, r.deadline};
}

absl::Status RoundEngine::Reject(const char* reason, absl::Status status) {
  if (open_) ++open_->stats.rejected[reason];
  return status;
}

absl::Status RoundEngine::Accept(const Upload& u, absl::Time now) {
  if (!open_ || u.round != open_->stats.round) {
    if (u.round >= next_round_ || u.round < 1) {
      return Reject("wrong_round", absl::NotFoundError(
                                       absl::StrCat("round ", u.round, " was never opened")));
    }
    return Reject("late", absl::DeadlineExceededError(
                              absl::StrCat("round ", u.round, " is closed")));
  }
  OpenRound& r = *open_;
  auto it = r.by_token.find(TokenKey(u.token));
  if (it == r.by_token.end()) {
    return Reject("bad_token", absl::PermissionDeniedError(
                                   "upload token was not issued for this round"));
  }
  if (r.closing || now > r.deadline) {
    return Reject("late", absl::DeadlineExceededError(
                              absl::StrCat("round ", u.round, " passed its deadline")));
  }
  Participant& p = it->second;
  if (p.reported) {
    return Reject("duplicate", absl::AlreadyExistsError("this token already uploaded"));
  }
  if (u.cluster < 0 || u.cluster >= config_.clusters || u.example_count <= 0) {
    return Reject("malformed", absl::InvalidArgumentError(absl::StrCat(
                                   "cluster must be in [0, ", config_.clusters,
                                   ") and example_count > 0")));
  }
  if (u.model_version != models_.at(u.cluster).version) {
    return Reject("stale", absl::FailedPreconditionError(absl::StrCat(
                               "update trained from version ", u.model_version,
                               ", cluster ", u.cluster, " is at ",
                               models_.at(u.cluster).version)));
  }
  absl::Status s = r.aggregator->Accumulate(u.delta, static_cast<double>(u.example_count),
                                            {p.device_id, u.cluster});
  if (!s.ok()) return Reject("malformed", s);
  p.reported = true;
  ++r.stats.reported;
  // Example-weighted running means of the reported metrics.
  const double w = static_cast<double>(u.example_count);
  for (const auto& [name, value] : u.metrics) {
    if (!std::isfinite(value)) continue;
    double& m = r.stats.metrics[name];
    m += (value - m) * w / (r.metric_weight + w);
  }
  r.metric_weight += w;
  return absl::OkStatus();
}

absl::Status RoundEngine::CheckToken(int64_t round, const std::string& token) const {
  if (!open_ || round != open_->stats.round) {
    return absl::NotFoundError(absl::StrCat("round ", round, " is not open"));
  }
  if (!open_->by_token.contains(TokenKey(token))) {
    return absl::PermissionDeniedError("upload token was not issued for this round");
  }
  return absl::OkStatus();
}

std::optional<std::string> RoundEngine::DeviceForToken(const std::string& token) const {
  if (!open_) return std::nullopt;
  auto it = open_->by_token.find(TokenKey(token));
  if (it == open_->by_token.end()) return std::nullopt;
  return it->second.device_id;
}

absl::Status RoundEngine::Fail(int64_t round, const std::string& token, absl::Time) {
  if (!open_ || round != open_->stats.round) {
    return absl::NotFoundError(absl::StrCat("round ", round, " is not open"));
  }
  auto it = open_->by_token.find(TokenKey(token));
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
  if (!open_ || open_->closing) return std::nullopt;
  OpenRound& r = *open_;
  if (r.stats.reported < config_.goal && now < r.deadline) return std::nullopt;
  r.closing = true;
  ClosedRound closed;
  closed.stats = r.stats;
  closed.stats.closed = now;
  if (r.stats.reported < config_.min_reports) return closed;
  const auto opt_config = *aggregation::ParseServerOptimizer(config_.server_optimizer);
  for (auto& [cluster, delta] : r.aggregator->ReportAll()) {
    const ClusterModel& m = models_.at(cluster);
    absl::StatusOr<aggregation::ServerOptimizer> opt =
        m.optimizer_state.empty()
            ? absl::StatusOr<aggregation::ServerOptimizer>(
                  aggregation::ServerOptimizer(opt_config, config_.dim))
            : aggregation::ServerOptimizer::Restore(m.optimizer_state);
    if (!opt.ok()) continue;
    Eigen::VectorXf head = Eigen::Map<const Eigen::VectorXf>(m.head.data(), config_.dim);
    if (!opt->Apply(delta, head).ok()) continue;
    closed.heads[cluster].assign(head.data(), head.data() + head.size());
    closed.optimizer_states[cluster] = opt->Serialize();
    closed.versions[cluster] = m.version + 1;
    closed.participants[cluster] = static_cast<int>(r.aggregator->num_updates(cluster));
  }
  closed.commit = !closed.heads.empty();
  return closed;
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
  if (open_ && open_->stats.round == closed.stats.round) {
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
