#include "aggregation/bulyan.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "absl/strings/str_cat.h"
#include "aggregation/coordinate_median.h"
#include "aggregation/distances.h"

namespace fedtiny::aggregation {

std::string BulyanAggregator::Name() const {
  return absl::StrCat("bulyan(f=", f_, ")");
}

absl::StatusOr<Eigen::VectorXf> BulyanAggregator::Compute(
    const ConstRowMatrixMap& updates, const std::vector<double>&) {
  const int n = static_cast<int>(updates.rows());
  const int theta = n - 2 * f_;
  const int beta = theta - 2 * f_;
  const Eigen::MatrixXd d2 = PairwiseSquaredDistances(updates);
  std::vector<int> remaining(n);
  std::iota(remaining.begin(), remaining.end(), 0);
  RowMatrixXf chosen(theta, updates.cols());
  for (int t = 0; t < theta; ++t) {
    const int r = static_cast<int>(remaining.size());
    // Krum over the remaining set; near the end fall back to its nearest one.
    const int k = std::max(1, std::min(r - 1, r - f_ - 2));
    const std::vector<double> scores =
        r > 1 ? KrumScores(d2, remaining, k) : std::vector<double>{0.0};
    const int best = static_cast<int>(
        std::min_element(scores.begin(), scores.end()) - scores.begin());
    chosen.row(t) = updates.row(remaining[best]);
    remaining.erase(remaining.begin() + best);
  }
  std::vector<float> sorted(theta);
  Eigen::VectorXf out;
  ConstRowMatrixMap chosen_map(chosen.data(), theta, updates.cols());
  ForEachCoordinate(
      chosen_map,
      [&](int64_t, float* v) {
        std::copy(v, v + theta, sorted.begin());
        const float med = MedianInPlace(sorted.data(), theta);
        std::nth_element(v, v + (beta - 1), v + theta, [med](float a, float b) {
          return std::fabs(a - med) < std::fabs(b - med);
        });
        double s = 0;
        for (int i = 0; i < beta; ++i) s += v[i];
        return static_cast<float>(s / beta);
      },
      out);
  return out;
}

}  // namespace fedtiny::aggregation
