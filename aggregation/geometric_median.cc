#include "aggregation/geometric_median.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"

namespace fedtiny::aggregation {

namespace {

// Objective sum_i w_i max(nu, ||z - x_i||); fills `dist` with ||z - x_i||.
double Objective(const ConstRowMatrixMap& x, const Eigen::VectorXf& z,
                 const Eigen::VectorXd& w, double nu, Eigen::VectorXd& dist) {
  double obj = 0;
  for (int64_t i = 0; i < x.rows(); ++i) {
    dist[i] = (x.row(i).transpose() - z).norm();
    obj += w[i] * std::max(nu, dist[i]);
  }
  return obj;
}

}  // namespace

std::string GeometricMedianAggregator::Name() const {
  return absl::StrCat("geometric_median(tol=", options_.tolerance, ")");
}

absl::StatusOr<Eigen::VectorXf> GeometricMedianAggregator::Compute(
    const ConstRowMatrixMap& x, const std::vector<double>& weights) {
  const int64_t n = x.rows();
  Eigen::VectorXd w(n);
  for (int64_t i = 0; i < n; ++i) w[i] = options_.weighted ? weights[i] : 1.0;
  w /= w.sum();
  Eigen::VectorXf z = (x.transpose() * w.cast<float>());
  Eigen::VectorXd dist(n);
  double obj = Objective(x, z, w, options_.nu, dist);
  last_iterations_ = 0;
  while (last_iterations_ < options_.max_iterations) {
    ++last_iterations_;
    Eigen::VectorXd beta(n);
    for (int64_t i = 0; i < n; ++i) beta[i] = w[i] / std::max(options_.nu, dist[i]);
    beta /= beta.sum();
    z = x.transpose() * beta.cast<float>();
    const double next = Objective(x, z, w, options_.nu, dist);
    const bool converged =
        std::fabs(obj - next) <= options_.tolerance * std::max(next, 1e-30);
    obj = next;
    if (converged) break;
  }
  return z;
}

}  // namespace fedtiny::aggregation
