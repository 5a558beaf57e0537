// Client-level differential privacy: DP-FedAvg (McMahan et al. 2018). Each update
// is clipped to L2 norm C; the unweighted sum gets N(0, (z C)^2) noise per
// coordinate; the result is divided by the expected number of clients. Optional
// adaptive clipping (Andrew et al. 2021) moves C geometrically towards the
// `target_quantile` of update norms, from a noised count of updates below C.
// A sum, so it composes with secure aggregation (noise added after unmasking).
// Account for the privacy spent with RdpAccountant (q = clients per round /
// population, sigma = noise_multiplier).
#ifndef FEDTINY_AGGREGATION_DP_FEDAVG_H_
#define FEDTINY_AGGREGATION_DP_FEDAVG_H_

#include <memory>
#include <optional>

#include "aggregation/aggregator.h"
#include "aggregation/random_source.h"

namespace fedtiny::aggregation {

struct DpFedAvgOptions {
  double clip_norm = 1.0;
  double noise_multiplier = 1.0;  // z: noise stddev on the sum is z * clip_norm.
  // Denominator: the expected clients per round (fixed, as the DP analysis needs).
  // <= 0 divides by the number of updates received instead.
  double expected_clients = 0;
  bool adaptive_clipping = false;
  double target_quantile = 0.5;     // gamma
  double clip_learning_rate = 0.2;  // eta_C
  double count_noise_stddev = 0;    // sigma_b, noise on the below-C count
};

// Not thread-safe. Shares the random source with its creator.
class DpFedAvgAggregator final : public Aggregator {
 public:
  DpFedAvgAggregator(int64_t dim, DpFedAvgOptions options,
                     std::shared_ptr<RandomSource> noise);

  absl::Status Accumulate(absl::Span<const float> update, double weight,
                          const ClientInfo& info) override;
  bool CanReport() const override { return count_ > 0; }
  // The noised mean. Computed once: later calls return the same release, as a
  // second independent release would spend privacy twice.
  absl::StatusOr<Eigen::VectorXf> Report() override;
  // Merges clipped sums of shards not yet reported; kFailedPrecondition after a
  // Report() on either side.
  absl::Status MergeWith(Aggregator&& other) override;
  std::string Name() const override;
  int64_t dim() const override { return sum_.size(); }
  int64_t num_updates() const override { return count_; }

  // The clip norm for the next round: unchanged without adaptive clipping,
  // otherwise C * exp(-eta_C * (b - gamma)) with b the noised fraction of updates
  // whose norm was <= C. kFailedPrecondition before any update.
  absl::StatusOr<double> NextClipNorm();

 private:
  const DpFedAvgOptions options_;
  std::shared_ptr<RandomSource> noise_;
  Eigen::VectorXd sum_;
  int64_t count_ = 0;
  int64_t below_ = 0;
  std::vector<float> scratch_;
  std::optional<Eigen::VectorXf> released_;
  std::optional<double> next_clip_;
};

}  // namespace fedtiny::aggregation

#endif  // FEDTINY_AGGREGATION_DP_FEDAVG_H_
