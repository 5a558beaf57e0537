// FedAvg: the weighted mean of the updates (McMahan et al. 2017), streaming in
// O(dim) memory. The only method here that is a sum, hence the only one that
// composes with secure aggregation, and it merges exactly across shards.
#ifndef FEDTINY_AGGREGATION_FEDAVG_H_
#define FEDTINY_AGGREGATION_FEDAVG_H_

#include "Eigen/Core"
#include "aggregation/aggregator.h"

namespace fedtiny::aggregation {

// FedAvgAggregator keeps the running weighted mean in double, updated as
// mean += (w / total) * (update - mean): weights enter only as fractions of the
// total, so no huge example count times a large update can overflow, as a sum
// of weight * update could. Accumulate reads the update once: the NaN/Inf check
// and the blend share one pass, written to a second buffer that replaces the
// mean only on success (2 * dim doubles in all). Not thread-safe; owns both.
class FedAvgAggregator final : public Aggregator {
 public:
  explicit FedAvgAggregator(int64_t dim);

  absl::Status Accumulate(absl::Span<const float> update, double weight,
                          const ClientInfo& info) override;
  bool CanReport() const override { return count_ > 0; }
  absl::StatusOr<Eigen::VectorXf> Report() override;
  absl::Status MergeWith(Aggregator&& other) override;
  std::string Name() const override { return "fedavg"; }
  int64_t dim() const override { return mean_.size(); }
  int64_t num_updates() const override { return count_; }
  double total_weight() const { return total_weight_; }
  // The running weighted mean (aggregation/aggregator_state.h saves it).
  const Eigen::VectorXd& mean() const { return mean_; }
  // Sets the state of an empty aggregator (aggregation/aggregator_state.h):
  // kFailedPrecondition when it holds updates, kInvalidArgument for a mean of
  // another dimension, a non-finite value, or a count and weight that disagree.
  absl::Status Restore(Eigen::VectorXd mean, double total_weight, int64_t count);

 private:
  Eigen::VectorXd mean_;
  Eigen::VectorXd next_;  // Scratch for Accumulate; swapped with mean_.
  double total_weight_ = 0;
  int64_t count_ = 0;
};

}  // namespace fedtiny::aggregation

#endif  // FEDTINY_AGGREGATION_FEDAVG_H_
