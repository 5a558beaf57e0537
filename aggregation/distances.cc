#include "aggregation/distances.h"

#include <algorithm>

namespace fedtiny::aggregation {

Eigen::MatrixXd PairwiseSquaredDistances(const ConstRowMatrixMap& updates) {
  const Eigen::MatrixXf gram = updates * updates.transpose();
  const Eigen::VectorXd sq = gram.diagonal().cast<double>();
  const int64_t n = updates.rows();
  Eigen::MatrixXd d2(n, n);
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 0; j < n; ++j) {
      d2(i, j) = i == j ? 0.0
                        : std::max(0.0, sq[i] + sq[j] - 2.0 * gram(i, j));
    }
  }
  return d2;
}

std::vector<double> KrumScores(const Eigen::MatrixXd& d2,
                               const std::vector<int>& active, int k) {
  std::vector<double> scores;
  scores.reserve(active.size());
  std::vector<double> row;
  for (int i : active) {
    row.clear();
    for (int j : active) {
      if (j != i) row.push_back(d2(i, j));
    }
    // The sum of the k smallest needs no order among them: selection, not sort.
    std::nth_element(row.begin(), row.begin() + (k - 1), row.end());
    double s = 0;
    for (int t = 0; t < k; ++t) s += row[t];
    scores.push_back(s);
  }
  return scores;
}

}  // namespace fedtiny::aggregation
