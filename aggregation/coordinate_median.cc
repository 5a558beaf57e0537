#include "aggregation/coordinate_median.h"

#include <algorithm>

#include "aggregation/order_statistics.h"

namespace fedtiny::aggregation {

float MedianInPlace(float* values, int64_t n) {
  const int64_t mid = n / 2;
  std::nth_element(values, values + mid, values + n);
  const float upper = values[mid];
  if (n % 2 == 1) return upper;
  const float lower = *std::max_element(values, values + mid);
  // The midpoint in double: lower + upper overflows float near its limit.
  return static_cast<float>(0.5 * (static_cast<double>(lower) + upper));
}

absl::StatusOr<Eigen::VectorXf> CoordinateMedianAggregator::Compute(
    const ConstRowMatrixMap& updates, const std::vector<double>&) {
  return CoordinateMedian(updates);
}

}  // namespace fedtiny::aggregation
