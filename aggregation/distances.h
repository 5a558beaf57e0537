// Pairwise squared L2 distances between updates through one Gram matrix product
// (||a||^2 + ||b||^2 - 2 a.b) instead of n^2 distance loops.
//
// Updates often share a large common component (a bias every client moves the
// same way), and then the three terms are large and nearly cancel: in float,
// the nearest neighbours of [1000, 1000.01, 1000.03, 1000.06] come out wrong.
// So the updates are first centred on their coordinate-wise mean, and the Gram
// matrix of the centred updates is accumulated in double, a block of
// coordinates at a time: a symmetric rank-k update (half the multiplications of
// the full product) by OpenBLAS's dsyrk, at the speed of numpy's float64
// product. OpenBLAS may use several threads (OPENBLAS_NUM_THREADS). The first
// call logs a warning when OpenBLAS fell back to generic kernels on a CPU with
// AVX2 (it does not recognise every recent model; OPENBLAS_CORETYPE fixes it).
// What remains is a relative error of about 1e-16 * (distance from the mean /
// distance between the pair)^2.
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
