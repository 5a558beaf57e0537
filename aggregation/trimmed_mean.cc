#include "aggregation/trimmed_mean.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "aggregation/order_statistics.h"

namespace fedtiny::aggregation {

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
  return CoordinateTrimmedMean(updates, k);
}

}  // namespace fedtiny::aggregation
