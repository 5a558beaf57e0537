#include "aggregation/kmeans.h"

#include <cmath>
#include <limits>

#include "absl/strings/str_cat.h"

namespace fedtiny::aggregation {

namespace {

// A uniform double in [0, 1) from 53 random bits.
double Uniform(RandomSource& random) {
  uint64_t word = 0;
  random.Fill(absl::MakeSpan(&word, 1));
  return static_cast<double>(word >> 11) * 0x1.0p-53;
}

// Index of the nearest center and the squared distance to it.
std::pair<int, double> Nearest(const Eigen::MatrixXd& centers, const Eigen::VectorXd& point) {
  int best = 0;
  double best_d = std::numeric_limits<double>::infinity();
  for (int c = 0; c < centers.rows(); ++c) {
    const double d = (centers.row(c).transpose() - point).squaredNorm();
    if (d < best_d) {
      best_d = d;
      best = c;
    }
  }
  return {best, best_d};
}

double Inertia(const Eigen::MatrixXd& points, const Eigen::MatrixXd& centers,
               const std::vector<int>& labels) {
  double sum = 0;
  for (int i = 0; i < points.rows(); ++i) {
    sum += (points.row(i) - centers.row(labels[i])).squaredNorm();
  }
  return sum;
}

}  // namespace

Eigen::MatrixXd UnitRows(const ConstRowMatrixMap& updates) {
  Eigen::MatrixXd out = updates.cast<double>();
  for (int i = 0; i < out.rows(); ++i) {
    const double norm = out.row(i).norm();
    if (norm > 0) out.row(i) /= norm;
  }
  return out;
}

Eigen::VectorXd SquaredDistanceToNearest(const Eigen::MatrixXd& points,
                                         const Eigen::MatrixXd& centers) {
  Eigen::VectorXd out(points.rows());
  for (int i = 0; i < points.rows(); ++i) {
    out(i) = Nearest(centers, points.row(i).transpose()).second;
  }
  return out;
}

absl::StatusOr<std::vector<int>> KMeansPlusPlusSeeds(const Eigen::MatrixXd& points, int k,
                                                     RandomSource& random) {
  const int n = static_cast<int>(points.rows());
  if (k < 1 || n < k) {
    return absl::FailedPreconditionError(absl::StrCat("k-means: ", n, " points for ", k, " clusters"));
  }
  std::vector<int> seeds = {std::min(n - 1, static_cast<int>(Uniform(random) * n))};
  Eigen::MatrixXd centers = points.row(seeds[0]);
  while (static_cast<int>(seeds.size()) < k) {
    const Eigen::VectorXd d2 = SquaredDistanceToNearest(points, centers);
    const double total = d2.sum();
    if (!(total > 0)) {
      return absl::FailedPreconditionError(
          absl::StrCat("k-means: fewer than ", k, " distinct points"));
    }
    // Inverse CDF; the last point with d2 > 0 absorbs rounding at the top.
    const double target = Uniform(random) * total;
    double acc = 0;
    int pick = -1;
    for (int i = 0; i < n; ++i) {
      if (d2(i) <= 0) continue;
      pick = i;
      acc += d2(i);
      if (acc > target) break;
    }
    seeds.push_back(pick);
    centers.conservativeResize(centers.rows() + 1, Eigen::NoChange);
    centers.row(centers.rows() - 1) = points.row(pick);
  }
  return seeds;
}

bool LloydStep(const Eigen::MatrixXd& points, Eigen::MatrixXd& centers, std::vector<int>& labels) {
  const int n = static_cast<int>(points.rows()), k = static_cast<int>(centers.rows());
  bool changed = static_cast<int>(labels.size()) != n;
  labels.resize(n, -1);
  for (int i = 0; i < n; ++i) {
    const int c = Nearest(centers, points.row(i).transpose()).first;
    changed |= labels[i] != c;
    labels[i] = c;
  }
  std::vector<int> count(k, 0);
  for (int l : labels) ++count[l];
  for (int c = 0; c < k; ++c) {
    if (count[c] > 0) continue;
    // An empty cluster takes the worst-served point of a cluster that can spare one.
    int far = -1;
    double far_d = -1;
    for (int i = 0; i < n; ++i) {
      const double d = (points.row(i) - centers.row(labels[i])).squaredNorm();
      if (count[labels[i]] > 1 && d > far_d) {
        far_d = d;
        far = i;
      }
    }
    if (far < 0) break;  // n < k: nothing to spare.
    --count[labels[far]];
    labels[far] = c;
    count[c] = 1;
    changed = true;
  }
  centers.setZero();
  for (int i = 0; i < n; ++i) centers.row(labels[i]) += points.row(i);
  for (int c = 0; c < k; ++c) {
    if (count[c] > 0) centers.row(c) /= count[c];
  }
  return changed;
}

absl::StatusOr<KMeansResult> SphericalKMeans(const ConstRowMatrixMap& updates,
                                             const KMeansOptions& options, RandomSource& random) {
  if (options.k < 1 || options.lloyd_steps < 1 || options.restarts < 1) {
    return absl::InvalidArgumentError("k-means: k, lloyd_steps and restarts must be >= 1");
  }
  if (!updates.allFinite()) return absl::InvalidArgumentError("k-means: non-finite update");
  const Eigen::MatrixXd points = UnitRows(updates);
  KMeansResult best;
  best.inertia = std::numeric_limits<double>::infinity();
  for (int r = 0; r < options.restarts; ++r) {
    absl::StatusOr<std::vector<int>> seeds = KMeansPlusPlusSeeds(points, options.k, random);
    if (!seeds.ok()) return seeds.status();
    Eigen::MatrixXd centers(options.k, points.cols());
    for (int c = 0; c < options.k; ++c) centers.row(c) = points.row((*seeds)[c]);
    std::vector<int> labels;
    for (int step = 0; step < options.lloyd_steps; ++step) {
      if (!LloydStep(points, centers, labels)) break;
    }
    const double inertia = Inertia(points, centers, labels);
    if (inertia < best.inertia) best = KMeansResult{std::move(labels), std::move(centers), inertia};
  }
  return best;
}

}  // namespace fedtiny::aggregation
