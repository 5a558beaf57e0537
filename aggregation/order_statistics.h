// Exact coordinate-wise order statistics over row-major updates, without sorting.
//
// Each float maps to an int32 key whose signed order is the float order. The k-th
// smallest key of a coordinate is found bit by bit from the top: a candidate bit
// stays when fewer than k + 1 keys lie below the candidate. Every step is one
// branch-free counting pass over the n rows of a block of contiguous coordinates,
// which vectorizes across coordinates, unlike per-coordinate selection.
// Cost: 32 passes over n * dim keys; memory: n * block keys.
#ifndef FEDTINY_AGGREGATION_ORDER_STATISTICS_H_
#define FEDTINY_AGGREGATION_ORDER_STATISTICS_H_

#include "Eigen/Core"
#include "aggregation/buffered_aggregator.h"

namespace fedtiny::aggregation {

// Per coordinate: the median (mean of the two middle values when n is even).
Eigen::VectorXf CoordinateMedian(const ConstRowMatrixMap& updates);

// Per coordinate: the mean without the k smallest and k largest values (2k < n).
Eigen::VectorXf CoordinateTrimmedMean(const ConstRowMatrixMap& updates, int64_t k);

}  // namespace fedtiny::aggregation

#endif  // FEDTINY_AGGREGATION_ORDER_STATISTICS_H_
