#include "aggregation/krum.h"

#include <algorithm>
#include <numeric>

#include "absl/strings/str_cat.h"
#include "aggregation/distances.h"

namespace fedtiny::aggregation {

std::string KrumAggregator::Name() const {
  return m_ == 1 ? absl::StrCat("krum(f=", f_, ")")
                 : absl::StrCat("multi_krum(f=", f_, ",m=", m_, ")");
}

int64_t KrumAggregator::MinUpdates() const {
  return std::max<int64_t>(2 * f_ + 3, m_);
}

absl::StatusOr<Eigen::VectorXf> KrumAggregator::Compute(
    const ConstRowMatrixMap& updates, const std::vector<double>&) {
  const int n = static_cast<int>(updates.rows());
  const Eigen::MatrixXd d2 = PairwiseSquaredDistances(updates);
  std::vector<int> all(n);
  std::iota(all.begin(), all.end(), 0);
  const std::vector<double> scores = KrumScores(d2, all, n - f_ - 2);
  std::vector<int> order = all;
  std::stable_sort(order.begin(), order.end(),
                   [&](int a, int b) { return scores[a] < scores[b]; });
  selected_.assign(order.begin(), order.begin() + m_);
  // In double: a float sum of m updates near the float limit would overflow.
  Eigen::VectorXd sum = Eigen::VectorXd::Zero(updates.cols());
  for (int i : selected_) sum += updates.row(i).transpose().cast<double>();
  return (sum / m_).cast<float>();
}

}  // namespace fedtiny::aggregation
