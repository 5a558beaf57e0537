// The round engine of one task: a pure state machine. No threads, no sockets, no
// clock of its own: every call takes `now`, and tokens come from an injected
// RandomSource, so the simulator can drive it on virtual time.
//
// A round: OPEN (devices are admitted up to goal x over-selection, then upload)
// -> CLOSING (goal reached or deadline passed; TakeClosedRound() hands out the
// aggregated result) -> committed or abandoned (FinishRound(), after the caller
// persisted it). Nothing changes the model until FinishRound(committed = true):
// a round is never half-committed.
#ifndef FEDTINY_COORDINATOR_ROUND_ENGINE_H_
#define FEDTINY_COORDINATOR_ROUND_ENGINE_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "aggregation/clustering.h"
#include "aggregation/random_source.h"
#include "tools/base/eligibility.h"

namespace fedtiny::coordinator {

// Asynchronous buffered rounds (FedBuff, Nguyen et al. 2022; TaskConfig.async):
// a "round" is one buffer flush. Devices are admitted at any time while fewer
// than `concurrency` hold a live token (a token lives `deadline` from its
// admission, across rounds); an upload trained from version v of a cluster at
// version V (tau = V - v) weighs s = (1 + tau)^-staleness_exponent times its
// example count n, and tau > max_staleness is refused ("too_stale"). Once a
// cluster has `buffer` updates, the round closes with that cluster's aggregate,
// scaled by sum(n s) / sum(n): for FedAvg, sum(n s delta) / sum(n), FedBuff's
// step, so that a stale buffer moves the model less.
struct AsyncEngineConfig {
  int concurrency = 1;
  int buffer = 1;
  double staleness_exponent = 0.5;
  int max_staleness = 100;
  bool operator==(const AsyncEngineConfig& o) const {
    return concurrency == o.concurrency && buffer == o.buffer &&
           staleness_exponent == o.staleness_exponent && max_staleness == o.max_staleness;
  }
  bool operator!=(const AsyncEngineConfig& o) const { return !(*this == o); }
};

struct EngineConfig {
  std::string task;
  int rounds = 10;             // Committed rounds wanted.
  int goal = 10;               // Reports per round.
  double over_selection = 1.3;
  int min_reports = 1;         // Fewer at the deadline: abandoned.
  absl::Duration deadline = absl::Minutes(10);
  int clusters = 1;
  int64_t dim = 0;             // Head parameters.
  std::string aggregator = "fedavg";
  std::string server_optimizer = "sgd";
  EligibilityPolicy eligibility;  // Applied at check-in (thermal state is not reported).
  absl::Duration cooldown = absl::ZeroDuration();
  // Quota per device class: at most this many admitted per round (0: no quota).
  std::map<std::string, int> class_quota;
  // Uploads claiming more examples are malformed; bounds every weight.
  int64_t max_example_count = 1'000'000;
  // Metric names kept from uploads; others are dropped (rejected["unknown_metric"]).
  std::vector<std::string> accepted_metrics = {"train_loss", "loss", "accuracy"};
  // Uploads whose delta has a larger L2 norm are malformed.
  double max_update_norm = 1e4;
  // Set: asynchronous rounds; goal, over_selection, min_reports and class
  // quotas are then unused and `deadline` is each token's lifetime.
  std::optional<AsyncEngineConfig> async;
  // With clusters > 1: warm-up rounds until the heads have been started. In a
  // warm-up round devices get the shared head (cluster 0) only; at its close the
  // updates are grouped by direction (spherical k-means, k-means++ seeding,
  // aggregation/kmeans.h) and every head becomes the shared head plus its
  // group's aggregate, so each group of devices finds its own head (IFCA from
  // random heads can leave two groups on one head). false: IFCA's plain start.
  bool cluster_warmup = false;
};

// What the engine keeps of a secret (an upload token, a device secret): its
// SHA-256, so lookups and comparisons never touch the secret itself and their
// timing says nothing about it. The coordinator keys its device registry by it too.
std::string SecretKeyOf(absl::string_view secret);

// Limits on what one upload may carry besides its delta.
inline constexpr int kMaxUploadMetrics = 16;
inline constexpr int kMaxMetricNameBytes = 64;

struct DeviceCheckIn {
  std::string device_id;
  std::string device_class;
  bool charging = false, idle = false, unmetered = false;
  int battery_percent = 0;
  // What proves the device is the one that holds device_id (the coordinator
  // passes a hash of the device's secret). A re-admission and an upload must
  // carry the same key as the admission.
  std::string secret_key;
};

struct Admitted {
  int64_t round;
  std::string token;  // 32 hex characters.
  absl::Time deadline;
};

struct RetryLater {
  absl::Duration earliest;
  absl::Duration latest;
  // "ineligible", "cooling_down", "round_full", "paused", "done", "reported",
  // "device_id_taken" (another secret holds this id in the open round).
  std::string reason;
};

struct Upload {
  int64_t round = 0;
  std::string token;
  int32_t cluster = 0;
  int64_t model_version = 0;  // Version the delta was trained from.
  int64_t example_count = 0;
  std::vector<float> delta;
  std::map<std::string, double> metrics;
  std::string secret_key;  // As DeviceCheckIn::secret_key.
  // Why the delta's bytes could not be decoded (a compressed_delta the task's
  // spec refuses): the upload is refused as malformed with this message.
  std::string malformed;
};

// The checks of an upload's own fields, for a round offering `clusters`
// heads: cluster, example count in [1, max_example_count], a decodable delta
// (`malformed` empty), the metrics (CheckUploadMetrics), a finite delta whose
// L2 norm is at most max_update_norm. kInvalidArgument ("malformed") naming
// what is wrong, or OK. It does not check the delta's size against the head
// (the aggregator does). The round engine applies it, and so do the replicas
// (coordinator/replica), which accept uploads without an engine.
absl::Status CheckUploadFields(const EngineConfig& config, const Upload& u, int clusters);
// At most kMaxUploadMetrics metrics, names of 1..kMaxMetricNameBytes bytes,
// finite values: kInvalidArgument otherwise.
absl::Status CheckUploadMetrics(const Upload& u);

struct RoundStats {
  int64_t round = 0;
  absl::Time opened, closed;
  int selected = 0, reported = 0, failed = 0;
  // late, duplicate, bad_token, wrong_device, wrong_round, malformed, stale,
  // too_stale (asynchronous tasks), unknown_metric (metrics dropped from
  // accepted uploads). An asynchronous round also counts what arrived while no
  // round was open or while the previous one was being committed.
  std::map<std::string, int> rejected;
  std::map<std::string, double> metrics;  // Example-weighted means, each over the uploads that sent it.
  // The same per cluster, and each cluster's accepted uploads.
  std::map<int, std::map<std::string, double>> cluster_metrics;
  std::map<int, int> cluster_reported;
};

// The result of a closed round, to persist before FinishRound().
struct ClosedRound {
  RoundStats stats;
  bool commit = false;  // Enough reports and a finite result; the fields below are set.
  std::string reason;   // Why not, when !commit.
  std::map<int, std::vector<float>> heads;           // Cluster -> new head.
  std::map<int, std::string> optimizer_states;       // Cluster -> serialized state.
  std::map<int, int64_t> versions;                   // Cluster -> new version.
  std::map<int, int> participants;                   // Cluster -> reports.
};

// The per-cluster model state the engine starts from (from storage).
struct ClusterModel {
  std::vector<float> head;
  int64_t version = 0;
  std::string optimizer_state;  // "" = fresh.
};

// Not thread-safe: the owner serializes calls. Owns its aggregation state;
// borrows `random`, which must outlive it.
class RoundEngine {
 public:
  // kInvalidArgument for a bad configuration or cluster models that do not match.
  static absl::StatusOr<std::unique_ptr<RoundEngine>> Create(
      EngineConfig config, std::map<int, ClusterModel> models, int64_t next_round,
      int committed_rounds, aggregation::RandomSource* random);

  // Admits the device into the open round (opening one if none is open) or
  // tells it when to come back.
  std::variant<Admitted, RetryLater> CheckIn(const DeviceCheckIn& device, absl::Time now);

  // Accepts one upload. Codes: kNotFound (round never opened: "wrong_round"),
  // kDeadlineExceeded (round closed or past its deadline: "late"),
  // kPermissionDenied (token not issued in this round: "bad_token"; token of
  // another device's secret: "wrong_device"), kAlreadyExists ("duplicate"),
  // kFailedPrecondition (trained from another version: "stale"; in an
  // asynchronous task, more than max_staleness versions behind: "too_stale"),
  // kInvalidArgument ("malformed": size, NaN/Inf, example count outside
  // [1, max_example_count], an L2 norm above max_update_norm, cluster, more
  // than kMaxUploadMetrics metrics, a long
  // name or a non-finite value). Each rejection is counted in the stats of the
  // round the upload names: the open round's, or LateRejections() for a closed one.
  // Asynchronous tasks (AsyncEngineConfig) forget a token at its accepted upload
  // (a replay is "bad_token") and count every rejection in the open round, or
  // the next one when none is open.
  absl::Status Accept(const Upload& upload, absl::Time now);

  // Uploads refused by reason for a recently closed round (the newest 64 kept).
  std::map<std::string, int> LateRejections(int64_t round) const;

  // Undoes the opening of `round` by the check-in that just opened it (the
  // caller could not record it): the engine is exactly as before that check-in.
  void CancelOpen(int64_t round);

  // OK when `token` was issued in the open round `round`; kNotFound when that
  // round is not open, kPermissionDenied for an unknown token.
  absl::Status CheckToken(int64_t round, const std::string& token) const;

  // The device an upload token of the open round was issued to.
  std::optional<std::string> DeviceForToken(const std::string& token) const;

  // A device gave up (kPermissionDenied for an unknown token).
  absl::Status Fail(int64_t round, const std::string& token, absl::Time now);

  // If the open round reached its goal, or its deadline passed at `now`, closes
  // it and returns the result to persist. At most one round is closing. An
  // asynchronous round closes once some cluster has `buffer` updates buffered;
  // only such clusters get a new version, the others keep their buffers.
  std::optional<ClosedRound> TakeClosedRound(absl::Time now);

  // After persisting: `committed` applies the new heads and versions; otherwise
  // the round counts as abandoned and the model stays as it was.
  void FinishRound(const ClosedRound& closed, bool committed);

  // Closes the open round (unless it is closing already) as abandoned for
  // `reason`, to persist and FinishRound(closed, false) like any other.
  std::optional<ClosedRound> AbandonOpenRound(absl::Time now, std::string reason);

  // Applies an operator's edit: `config` may differ from the current one only
  // in rounds, goal, over_selection, min_reports, deadline, eligibility,
  // cooldown and class quotas (kInvalidArgument otherwise). The open round keeps
  // its deadline; everything else applies from the next check-in.
  absl::Status Reconfigure(EngineConfig config);

  // Makes `model` current for its cluster (an operator's rollback, already
  // persisted). kFailedPrecondition while a round is open or closing, whose
  // updates were trained from the model it replaces; kInvalidArgument for an
  // unknown cluster or a head of the wrong size.
  absl::Status ReplaceModel(int cluster, ClusterModel model);

  void set_paused(bool paused) { paused_ = paused; }
  bool paused() const { return paused_; }
  // Ends the task for good (an operator's stop): done() from now on.
  void Stop() { stopped_ = true; }
  bool stopped() const { return stopped_; }
  bool done() const { return stopped_ || committed_rounds_ >= config_.rounds; }
  // How many heads devices are offered this round: 1 while warming up (see
  // EngineConfig::cluster_warmup), else every cluster. The heads are warmed up
  // once any cluster other than 0 has a committed version.
  int offered_clusters() const;
  int committed_rounds() const { return committed_rounds_; }
  const EngineConfig& config() const { return config_; }
  const std::map<int, ClusterModel>& models() const { return models_; }
  // The open (or closing) round's live stats; nullopt when none.
  std::optional<RoundStats> current() const;
  std::optional<absl::Time> open_deadline() const;

 private:
  struct Participant {
    std::string device_id;
    std::string device_class;
    std::string secret_key;
    bool reported = false;
    bool failed = false;
  };
  struct OpenRound {
    RoundStats stats;  // Asynchronous tasks: also the carry-over (see carry_).
    absl::Time deadline;
    bool closing = false;
    absl::flat_hash_map<std::string, Participant> by_token;
    absl::flat_hash_map<std::string, std::string> token_of_device;  // -> SecretKeyOf(token)
    std::map<std::string, int> per_class;
    std::unique_ptr<aggregation::ClusteredAggregator> aggregator;
    std::map<std::string, double> metric_weights;  // Example weight seen per metric.
    std::map<std::pair<int, std::string>, double> cluster_metric_weights;
    // Warm-up rounds keep the updates (up to kMaxWarmupFloats) to cluster them.
    bool warmup = false;
    std::vector<float> warmup_rows;
    std::vector<std::pair<double, aggregation::ClientInfo>> warmup_meta;
    std::map<int, int> warmup_counts;  // Updates per group, once clustered.
  };

  RoundEngine(EngineConfig config, std::map<int, ClusterModel> models, int64_t next_round,
              int committed_rounds, aggregation::RandomSource* random,
              aggregation::AggregatorFactory factory);
  void Open(absl::Time now);
  bool Eligible(const DeviceCheckIn& d) const;
  RetryLater Pace(absl::Time now, std::string reason) const;
  absl::Status Reject(int64_t round, const char* reason, absl::Status status);
  std::optional<std::variant<Admitted, RetryLater>> Readmit(const DeviceCheckIn& d);
  absl::Status CheckMetrics(const Upload& u) const;
  std::string NewToken();
  // Counts an accepted upload's metrics in `r` (example-weighted running means).
  void CountMetrics(OpenRound& r, const Upload& u);
  // Validity of an upload's fields, for a round offering `clusters` heads:
  // kInvalidArgument ("malformed") or OK.
  absl::Status CheckUpload(const Upload& u, int clusters) const;
  // Aggregates `agg` per cluster (a warm-up round `warmup`: its updates grouped
  // by WarmupDeltas), multiplies each cluster's aggregate by its `scale`
  // (absent: 1), applies the server optimizer and fills the new heads into
  // `closed` (closed.commit when every cluster's result is finite).
  void ApplyAggregates(aggregation::ClusteredAggregator& agg, ClosedRound& closed,
                       const std::map<int, double>& scale = {}, OpenRound* warmup = nullptr);

  // Asynchronous tasks (round_engine_async.cc).
  struct AsyncToken {
    Participant p;
    int64_t round = 0;
    absl::Time deadline;
    std::vector<int64_t> versions;  // Each cluster's version at admission.
  };
  struct Buffered {
    std::vector<float> delta;
    double weight = 0;     // example_count x (1 + tau)^-a.
    double examples = 0;
    std::string device_id;
  };
  bool async() const { return config_.async.has_value(); }
  std::variant<Admitted, RetryLater> AsyncCheckIn(const DeviceCheckIn& d, absl::Time now);
  absl::Status AsyncAccept(const Upload& u, absl::Time now);
  absl::Status AsyncFail(int64_t round, const std::string& token);
  std::optional<ClosedRound> AsyncTakeClosedRound(absl::Time now);
  // Drops the tokens whose lifetime ended before `now`, freeing their slots.
  void ExpireTokens(absl::Time now);
  // Drops a token that uploaded: what is kept stays bounded by the devices in
  // flight (and those that failed, until their tokens expire).
  void Forget(absl::flat_hash_map<std::string, AsyncToken>::iterator it);
  // Where uploads count: the open round, or carry_ while none is open.
  OpenRound& Tally() { return open_ && !open_->closing ? *open_ : carry_; }
  bool WarmingUp() const;
  // The warm-up round's per-cluster aggregates: its updates grouped by
  // k-means into config_.clusters groups, each group aggregated by the task's
  // method. Falls back to the round's own aggregator (cluster 0 only) when the
  // updates hold fewer than `clusters` distinct directions.
  absl::StatusOr<std::map<int, Eigen::VectorXf>> WarmupDeltas(OpenRound& r);

  EngineConfig config_;
  std::map<int, ClusterModel> models_;
  int64_t next_round_;
  int committed_rounds_;
  aggregation::RandomSource* random_;
  aggregation::AggregatorFactory factory_;
  bool paused_ = false;
  bool stopped_ = false;
  std::optional<OpenRound> open_;
  absl::flat_hash_map<std::string, absl::Time> cooldown_until_;
  std::map<int64_t, std::map<std::string, int>> late_rejections_;  // Closed rounds.
  // Check-in rate estimate for pace steering (devices per second, EWMA).
  double checkin_rate_ = 0;
  absl::Time last_checkin_ = absl::InfinitePast();

  // Asynchronous tasks only. Tokens live across rounds, by SecretKeyOf(token).
  absl::flat_hash_map<std::string, AsyncToken> async_tokens_;
  absl::flat_hash_map<std::string, std::string> async_token_of_device_;
  std::multimap<absl::Time, std::string> expiries_;  // Token deadline -> key.
  int in_flight_ = 0;  // Live tokens that have neither uploaded nor failed.
  std::map<int, std::vector<Buffered>> buffers_;  // Per cluster, arrival order.
  std::map<int, size_t> flushing_;  // Buffered updates the closing round took.
  // Counts of what arrived while no round was open (or one was committing);
  // the next round opened starts from them.
  OpenRound carry_;
};

}  // namespace fedtiny::coordinator

#endif  // FEDTINY_COORDINATOR_ROUND_ENGINE_H_
