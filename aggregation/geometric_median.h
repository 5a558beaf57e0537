// Geometric median by smoothed Weiszfeld iterations, as in RFA (Pillutla et al.
// 2022): z minimises sum_i w_i max(nu, ||z - x_i||). Starts at the weighted mean;
// stops when the objective's relative change is below `tolerance` or after
// `max_iterations`. Breakdown point 1/2. Cost O(n * dim) per iteration.
#ifndef FEDTINY_AGGREGATION_GEOMETRIC_MEDIAN_H_
#define FEDTINY_AGGREGATION_GEOMETRIC_MEDIAN_H_

#include "aggregation/buffered_aggregator.h"

namespace fedtiny::aggregation {

struct GeometricMedianOptions {
  double nu = 1e-6;  // Smoothing: distances below nu count as nu.
  double tolerance = 1e-5;
  int max_iterations = 100;
  bool weighted = true;  // Use the update weights (example counts) as w_i.
};

// Not thread-safe.
class GeometricMedianAggregator final : public BufferedAggregator {
 public:
  GeometricMedianAggregator(int64_t dim, GeometricMedianOptions options = {})
      : BufferedAggregator(dim), options_(options) {}
  std::string Name() const override;
  // Weiszfeld iterations the last Report() ran.
  int last_iterations() const { return last_iterations_; }

 protected:
  absl::StatusOr<Eigen::VectorXf> Compute(
      const ConstRowMatrixMap& updates,
      const std::vector<double>& weights) override;

 private:
  const GeometricMedianOptions options_;
  int last_iterations_ = 0;
};

}  // namespace fedtiny::aggregation

#endif  // FEDTINY_AGGREGATION_GEOMETRIC_MEDIAN_H_
