// Coordinate-wise trimmed mean (Yin et al. 2018): per coordinate, drop the k
// largest and k smallest values, average the rest; k = floor(beta * n). Unweighted.
// Tolerates a fraction beta < 1/2 of Byzantine updates. Cost O(n * dim) expected.
#ifndef FEDTINY_AGGREGATION_TRIMMED_MEAN_H_
#define FEDTINY_AGGREGATION_TRIMMED_MEAN_H_

#include "aggregation/buffered_aggregator.h"

namespace fedtiny::aggregation {

// Not thread-safe.
class TrimmedMeanAggregator final : public BufferedAggregator {
 public:
  // beta in [0, 0.5).
  TrimmedMeanAggregator(int64_t dim, double beta)
      : BufferedAggregator(dim), beta_(beta) {}
  std::string Name() const override;
  // How many values are trimmed on each side with n updates.
  int64_t TrimCount(int64_t n) const;

 protected:
  int64_t MinUpdates() const override;
  absl::StatusOr<Eigen::VectorXf> Compute(
      const ConstRowMatrixMap& updates,
      const std::vector<double>& weights) override;

 private:
  const double beta_;
};

}  // namespace fedtiny::aggregation

#endif  // FEDTINY_AGGREGATION_TRIMMED_MEAN_H_
