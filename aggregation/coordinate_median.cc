#include "aggregation/coordinate_median.h"

#include <algorithm>

namespace fedtiny::aggregation {

float MedianInPlace(float* values, int64_t n) {
  const int64_t mid = n / 2;
  std::nth_element(values, values + mid, values + n);
  const float upper = values[mid];
  if (n % 2 == 1) return upper;
  const float lower = *std::max_element(values, values + mid);
  return 0.5f * (lower + upper);
}

absl::StatusOr<Eigen::VectorXf> CoordinateMedianAggregator::Compute(
    const ConstRowMatrixMap& updates, const std::vector<double>&) {
  const int64_t n = updates.rows();
  Eigen::VectorXf out;
  ForEachCoordinate(
      updates, [n](int64_t, float* v) { return MedianInPlace(v, n); }, out);
  return out;
}

}  // namespace fedtiny::aggregation
