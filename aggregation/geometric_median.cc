#include "aggregation/geometric_median.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "absl/strings/str_cat.h"
#include "aggregation/order_statistics.h"
#include "aggregation/row_kernels.h"

namespace fedtiny::aggregation {

namespace {

constexpr int kMeanStartSteps = 20;

absl::Span<const float> Row(const ConstRowMatrixMap& x, int64_t i) {
  return absl::MakeConstSpan(x.data() + i * x.cols(), x.cols());
}

// dist[i] = ||x_i - z||.
void Distances(const ConstRowMatrixMap& x, const Eigen::VectorXd& z,
               Eigen::VectorXd& dist) {
  for (int64_t i = 0; i < x.rows(); ++i) {
    dist[i] = std::sqrt(
        SquaredDistance(Row(x, i), absl::MakeConstSpan(z.data(), z.size())));
  }
}

// The smallest distance with at least half of the weight `w` within it.
double WeightedMedian(const Eigen::VectorXd& dist, const Eigen::VectorXd& w) {
  std::vector<int64_t> order(dist.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(),
            [&](int64_t a, int64_t b) { return dist[a] < dist[b]; });
  const double half = 0.5 * w.sum();
  double seen = 0;
  for (int64_t i : order) {
    seen += w[i];
    if (seen >= half) return dist[i];
  }
  return dist[order.back()];
}

// sum_i coef[i] * x_i over the rows with coef[i] != 0.
Eigen::VectorXd Combine(const ConstRowMatrixMap& x,
                        const Eigen::VectorXd& coef) {
  Eigen::VectorXd out = Eigen::VectorXd::Zero(x.cols());
  for (int64_t i = 0; i < x.rows(); ++i) {
    if (coef[i] != 0) {
      AddScaled(coef[i], Row(x, i), absl::MakeSpan(out.data(), out.size()));
    }
  }
  return out;
}

}  // namespace

std::string GeometricMedianAggregator::Name() const {
  return absl::StrCat("geometric_median(tol=", options_.tolerance, ")");
}

bool GeometricMedianAggregator::Iterate(const ConstRowMatrixMap& x,
                                        const Eigen::VectorXd& w, int steps,
                                        Eigen::VectorXd& z) {
  const double nu = std::clamp(options_.nu, 1e-12, 0.5);
  Eigen::VectorXd dist(x.rows()), beta(x.rows());
  for (int t = 0; t < steps; ++t) {
    Distances(x, z, dist);
    const double scale = WeightedMedian(dist, w);
    if (scale == 0) return true;  // Half of the weight is at z: the median.
    ++last_iterations_;
    // Weiszfeld over the updates away from z; those at z weigh `at_z`.
    double at_z = 0;
    for (int64_t i = 0; i < x.rows(); ++i) {
      const bool here = dist[i] <= nu * scale;
      if (here) at_z += w[i];
      beta[i] = here ? 0.0 : w[i] / dist[i];
    }
    const double total = beta.sum();  // > 0: half of the weight is farther.
    Eigen::VectorXd move = Combine(x, beta / total) - z;
    if (at_z > 0) {
      // Vardi-Zhang: the others pull with force r, which wins only if > at_z.
      const double r = total * move.norm();
      if (r <= at_z) return true;
      move *= 1.0 - at_z / r;
    }
    z += move;
    if (move.norm() <= options_.tolerance * scale) return true;
  }
  return false;
}

absl::StatusOr<Eigen::VectorXf> GeometricMedianAggregator::Compute(
    const ConstRowMatrixMap& x, const std::vector<double>& weights) {
  const int64_t n = x.rows();
  Eigen::VectorXd w(n);
  for (int64_t i = 0; i < n; ++i) w[i] = options_.weighted ? weights[i] : 1.0;
  w /= w.maxCoeff();  // In (0, 1]: the sums below cannot overflow.
  last_iterations_ = 0;
  Eigen::VectorXd z = Combine(x, w / w.sum());
  last_restarted_ =
      !Iterate(x, w, std::min(kMeanStartSteps, options_.max_iterations), z);
  if (last_restarted_) {
    z = CoordinateMedian(x).cast<double>();
    Iterate(x, w, options_.max_iterations, z);
  }
  return Eigen::VectorXf(z.cast<float>());
}

}  // namespace fedtiny::aggregation
