// Pairwise squared L2 distances between updates through one Gram matrix product
// (||a||^2 + ||b||^2 - 2 a.b): one GEMM of n x dim by dim x n instead of n^2
// distance loops.
#ifndef FEDTINY_AGGREGATION_DISTANCES_H_
#define FEDTINY_AGGREGATION_DISTANCES_H_

#include <vector>

#include "Eigen/Core"
#include "aggregation/buffered_aggregator.h"

namespace fedtiny::aggregation {

// n x n, symmetric, zero diagonal, clamped at 0 against rounding.
Eigen::MatrixXd PairwiseSquaredDistances(const ConstRowMatrixMap& updates);

// Krum scores (Blanchard et al. 2017) of the updates listed in `active`, using the
// full distance matrix `d2`: for each active i, the sum of its `k` smallest
// distances to the other active updates. Requires k < active.size().
std::vector<double> KrumScores(const Eigen::MatrixXd& d2,
                               const std::vector<int>& active, int k);

}  // namespace fedtiny::aggregation

#endif  // FEDTINY_AGGREGATION_DISTANCES_H_
