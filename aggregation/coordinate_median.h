// Coordinate-wise median (Yin et al. 2018): each coordinate of the result is the
// median of that coordinate over the updates (mean of the two middle values when n
// is even). Unweighted. Tolerates up to half Byzantine updates per coordinate.
// Cost O(n * dim) expected (nth_element), memory O(n * dim).
#ifndef FEDTINY_AGGREGATION_COORDINATE_MEDIAN_H_
#define FEDTINY_AGGREGATION_COORDINATE_MEDIAN_H_

#include "aggregation/buffered_aggregator.h"

namespace fedtiny::aggregation {

// Median of values[0, n); reorders them.
float MedianInPlace(float* values, int64_t n);

// Not thread-safe.
class CoordinateMedianAggregator final : public BufferedAggregator {
 public:
  explicit CoordinateMedianAggregator(int64_t dim) : BufferedAggregator(dim) {}
  std::string Name() const override { return "median"; }

 protected:
  absl::StatusOr<Eigen::VectorXf> Compute(
      const ConstRowMatrixMap& updates,
      const std::vector<double>& weights) override;
};

}  // namespace fedtiny::aggregation

#endif  // FEDTINY_AGGREGATION_COORDINATE_MEDIAN_H_
