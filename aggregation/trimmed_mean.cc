#include "aggregation/trimmed_mean.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"

namespace fedtiny::aggregation {

float TrimmedMeanInPlace(float* values, int64_t n, int64_t k) {
  if (k > 0) {
    std::nth_element(values, values + k, values + n);
    std::nth_element(values + k, values + (n - k - 1), values + n);
  }
  double sum = 0;
  for (int64_t i = k; i < n - k; ++i) sum += values[i];
  return static_cast<float>(sum / static_cast<double>(n - 2 * k));
}

std::string TrimmedMeanAggregator::Name() const {
  return absl::StrCat("trimmed_mean(beta=", beta_, ")");
}

int64_t TrimmedMeanAggregator::TrimCount(int64_t n) const {
  // The epsilon keeps beta = 1/3 with n = 3 at k = 1 despite rounding.
  return static_cast<int64_t>(std::floor(beta_ * n + 1e-9));
}

int64_t TrimmedMeanAggregator::MinUpdates() const {
  int64_t n = 1;
  while (2 * TrimCount(n) >= n) ++n;
  return n;
}

absl::StatusOr<Eigen::VectorXf> TrimmedMeanAggregator::Compute(
    const ConstRowMatrixMap& updates, const std::vector<double>&) {
  const int64_t n = updates.rows();
  const int64_t k = TrimCount(n);
  if (2 * k >= n) {
    return absl::FailedPreconditionError(
        absl::StrCat(Name(), ": trims all ", n, " updates"));
  }
  Eigen::VectorXf out;
  ForEachCoordinate(
      updates, [n, k](int64_t, float* v) { return TrimmedMeanInPlace(v, n, k); },
      out);
  return out;
}

}  // namespace fedtiny::aggregation
