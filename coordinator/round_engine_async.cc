// The asynchronous (FedBuff) half of RoundEngine; see AsyncEngineConfig.
// Tokens outlive rounds, so they are kept here rather than in OpenRound, and
// updates wait in per-cluster buffers until one of them holds `buffer`.
#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "coordinator/round_engine.h"

namespace fedtiny::coordinator {

void RoundEngine::ExpireTokens(absl::Time now) {
  while (!expiries_.empty() && expiries_.begin()->first < now) {
    const std::string key = expiries_.begin()->second;
    expiries_.erase(expiries_.begin());
    auto it = async_tokens_.find(key);
    if (it == async_tokens_.end()) continue;  // Revoked by a re-admission.
    if (!it->second.p.reported && !it->second.p.failed) --in_flight_;
    auto dev = async_token_of_device_.find(it->second.p.device_id);
    if (dev != async_token_of_device_.end() && dev->second == key) {
      async_token_of_device_.erase(dev);
    }
    async_tokens_.erase(it);
  }
}

std::variant<Admitted, RetryLater> RoundEngine::AsyncCheckIn(const DeviceCheckIn& d,
                                                             absl::Time now) {
  ExpireTokens(now);
  const RetryLater full{absl::Seconds(1), absl::Seconds(60), "round_full"};
  if (auto held = async_token_of_device_.find(d.device_id);
      held != async_token_of_device_.end()) {
    auto it = async_tokens_.find(held->second);
    if (it != async_tokens_.end() && !it->second.p.reported && !it->second.p.failed) {
      if (it->second.p.secret_key != d.secret_key) {
        return RetryLater{absl::Minutes(5), absl::Minutes(10), "device_id_taken"};
      }
      // The same device lost its answer: a fresh token for the same slot, the
      // old one revoked, so no token is ever handed out twice.
      AsyncToken t = std::move(it->second);
      async_tokens_.erase(it);
      const std::string token = NewToken();
      held->second = SecretKeyOf(token);
      expiries_.emplace(t.deadline, held->second);
      Admitted a{t.round, token, t.deadline};
      async_tokens_[held->second] = std::move(t);
      return a;
    }
  }
  if (in_flight_ >= config_.async->concurrency) return full;
  if (!open_) Open(now);
  if (open_->closing) return RetryLater{absl::Seconds(1), absl::Seconds(5), "round_full"};
  AsyncToken t{Participant{d.device_id, d.device_class, d.secret_key}, open_->stats.round,
               now + config_.deadline, {}};
  for (const auto& [cluster, m] : models_) t.versions.push_back(m.version);
  const std::string token = NewToken();
  const std::string key = SecretKeyOf(token);
  expiries_.emplace(t.deadline, key);
  async_token_of_device_[d.device_id] = key;
  Admitted a{t.round, token, t.deadline};
  async_tokens_[key] = std::move(t);
  ++in_flight_;
  ++open_->stats.selected;
  return a;
}

absl::Status RoundEngine::AsyncAccept(const Upload& u, absl::Time now) {
  const int64_t round = u.round;
  if (u.round < 1 || u.round >= next_round_) {
    return Reject(round, "wrong_round",
                  absl::NotFoundError(absl::StrCat("round ", u.round, " was never opened")));
  }
  auto it = async_tokens_.find(SecretKeyOf(u.token));
  if (it == async_tokens_.end() || it->second.round != u.round) {
    return Reject(round, "bad_token", absl::PermissionDeniedError(
                                          "upload token was not issued for this round, or expired"));
  }
  AsyncToken& t = it->second;
  if (t.p.secret_key != u.secret_key) {
    return Reject(round, "wrong_device",
                  absl::PermissionDeniedError("upload token was issued to another device"));
  }
  if (now > t.deadline) {
    return Reject(round, "late", absl::DeadlineExceededError("upload token expired"));
  }
  if (absl::Status m = CheckUpload(u, config_.clusters); !m.ok()) return Reject(round, "malformed", m);
  // (Synchronous rounds learn size and finiteness from their aggregator at
  // once; a buffer would only find out at its flush, which one bad update must
  // not spoil.)
  if (static_cast<int64_t>(u.delta.size()) != config_.dim) {
    return Reject(round, "malformed", absl::InvalidArgumentError(absl::StrCat(
                                          "delta has ", u.delta.size(), " values, the head has ",
                                          config_.dim)));
  }
  if (!std::all_of(u.delta.begin(), u.delta.end(), [](float v) { return std::isfinite(v); })) {
    return Reject(round, "malformed", absl::InvalidArgumentError("delta has a non-finite value"));
  }
  // The device trained from the version it was admitted at, or a newer one it
  // downloaded later; anything else is not what it trained from.
  const int64_t current = models_.at(u.cluster).version;
  if (u.model_version < t.versions[u.cluster] || u.model_version > current) {
    return Reject(round, "malformed", absl::InvalidArgumentError(absl::StrCat(
                                          "model_version ", u.model_version, " outside [",
                                          t.versions[u.cluster], ", ", current, "]")));
  }
  const int64_t tau = current - u.model_version;
  if (tau > config_.async->max_staleness) {
    // The device's round is over (it cannot make this update fresher): its slot is free.
    if (!t.p.failed) --in_flight_;
    t.p.failed = true;
    return Reject(round, "too_stale", absl::FailedPreconditionError(absl::StrCat(
                                          "update is ", tau, " versions behind cluster ", u.cluster,
                                          " (max_staleness ", config_.async->max_staleness, ")")));
  }
  const double weight = static_cast<double>(u.example_count) *
                        std::pow(1.0 + static_cast<double>(tau), -config_.async->staleness_exponent);
  buffers_[u.cluster].push_back(
      Buffered{u.delta, weight, static_cast<double>(u.example_count), t.p.device_id});
  if (!t.p.failed) --in_flight_;
  CountMetrics(Tally(), u);
  if (config_.cooldown > absl::ZeroDuration()) {
    cooldown_until_[t.p.device_id] = now + config_.cooldown;
  }
  Forget(it);  // A replay finds no token: refused as bad_token.
  return absl::OkStatus();
}

void RoundEngine::Forget(absl::flat_hash_map<std::string, AsyncToken>::iterator it) {
  const std::string key = it->first;
  auto [first, last] = expiries_.equal_range(it->second.deadline);
  for (auto e = first; e != last; ++e) {
    if (e->second == key) {
      expiries_.erase(e);
      break;
    }
  }
  auto dev = async_token_of_device_.find(it->second.p.device_id);
  if (dev != async_token_of_device_.end() && dev->second == key) async_token_of_device_.erase(dev);
  async_tokens_.erase(it);
}

absl::Status RoundEngine::AsyncFail(int64_t round, const std::string& token) {
  auto it = async_tokens_.find(SecretKeyOf(token));
  if (it == async_tokens_.end() || it->second.round != round) {
    return absl::PermissionDeniedError("upload token was not issued for this round");
  }
  Participant& p = it->second.p;
  if (!p.failed && !p.reported) {
    p.failed = true;
    --in_flight_;
    ++Tally().stats.failed;
  }
  return absl::OkStatus();
}

std::optional<ClosedRound> RoundEngine::AsyncTakeClosedRound(absl::Time now) {
  if (!open_ || open_->closing) return std::nullopt;
  const size_t k = static_cast<size_t>(config_.async->buffer);
  aggregation::ClusteredAggregator agg(config_.clusters, config_.dim, factory_);
  std::map<int, size_t> flush;
  for (const auto& [cluster, b] : buffers_) {
    if (b.size() >= k) flush[cluster] = b.size();
  }
  if (flush.empty()) return std::nullopt;
  open_->closing = true;
  flushing_ = flush;
  ClosedRound closed;
  closed.stats = open_->stats;
  closed.stats.closed = now;
  std::map<int, double> scale;  // sum(n s) / sum(n) per cluster: FedBuff's step size.
  for (const auto& [cluster, n] : flush) {
    double weights = 0, examples = 0;
    for (size_t i = 0; i < n; ++i) {
      const Buffered& u = buffers_[cluster][i];
      weights += u.weight;
      examples += u.examples;
      absl::Status s = agg.Accumulate(u.delta, u.weight, {u.device_id, cluster});
      if (!s.ok()) {
        closed.reason = absl::StrCat("cluster ", cluster, ": ", s.message());
        return closed;
      }
    }
    scale[cluster] = weights / examples;
  }
  ApplyAggregates(agg, closed, scale);
  return closed;
}

}  // namespace fedtiny::coordinator
