// Spherical k-means with k-means++ seeding (Arthur & Vassilvitskii 2007), for
// starting cluster heads from client updates: a warm-up round's updates, all
// trained from one shared head, are grouped by direction, and each head starts
// from its group's aggregate (docs/aggregation.md, "Cluster warm-up").
//
// Rows are scaled to unit length first: an update's direction says which data
// it was trained on, its length mostly how many examples and steps it took, and
// cosine distance is what CFL's split uses too (clustering.h).
#ifndef FEDTINY_AGGREGATION_KMEANS_H_
#define FEDTINY_AGGREGATION_KMEANS_H_

#include <vector>

#include "Eigen/Core"
#include "absl/status/statusor.h"
#include "aggregation/buffered_aggregator.h"
#include "aggregation/random_source.h"

namespace fedtiny::aggregation {

struct KMeansResult {
  std::vector<int> labels;  // Cluster in [0, k) per row; every cluster has a row.
  Eigen::MatrixXd centers;  // k x dim, in the unit-scaled space.
  double inertia = 0;       // Sum of squared distances of rows to their centers.
};

struct KMeansOptions {
  int k = 2;
  int lloyd_steps = 20;  // At most; stops early once no label changes.
  int restarts = 8;      // Independent k-means++ starts; the lowest inertia wins.
};

// Clusters the rows of `updates`, each scaled to unit L2 norm (zero rows stay
// zero). Deterministic for a given `random` stream. kInvalidArgument for k < 1,
// lloyd_steps or restarts < 1, or a NaN/Inf entry; kFailedPrecondition when the
// scaled rows hold fewer than k distinct points (no k clusters exist).
absl::StatusOr<KMeansResult> SphericalKMeans(const ConstRowMatrixMap& updates,
                                             const KMeansOptions& options, RandomSource& random);

// Rows scaled to unit L2 norm (zero rows stay zero), in double.
Eigen::MatrixXd UnitRows(const ConstRowMatrixMap& updates);

// The squared distance of each row of `points` to its nearest row of `centers`
// (k-means++ samples the next center with probability proportional to it).
Eigen::VectorXd SquaredDistanceToNearest(const Eigen::MatrixXd& points,
                                         const Eigen::MatrixXd& centers);

// k-means++ seeding: k rows of `points`, the first uniformly at random, each
// next one with probability proportional to SquaredDistanceToNearest. Returns
// their row indices; kFailedPrecondition when fewer than k distinct points exist.
absl::StatusOr<std::vector<int>> KMeansPlusPlusSeeds(const Eigen::MatrixXd& points, int k,
                                                     RandomSource& random);

// One Lloyd step: labels each point with its nearest center (ties: the lower
// index), then moves each center to its points' mean. A center left without
// points is moved to the point farthest from its own center, which then joins
// it, so no cluster ends empty. Returns whether any label changed.
bool LloydStep(const Eigen::MatrixXd& points, Eigen::MatrixXd& centers, std::vector<int>& labels);

}  // namespace fedtiny::aggregation

#endif  // FEDTINY_AGGREGATION_KMEANS_H_
