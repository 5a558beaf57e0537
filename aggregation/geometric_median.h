// Geometric median by Weiszfeld iterations, as in RFA (Pillutla et al. 2022):
// z minimises sum_i w_i ||z - x_i||. Breakdown point 1/2. Computed in double.
//
// Every step measures the updates' scale s as the weighted median distance from
// z (set by the majority, whatever the others send) and stops once a step moves
// z by less than `tolerance` * s. (A rule on the objective's relative change
// stopped at once when one far update dominated the objective.) Updates within
// `nu` * s of z count as at z, and a Vardi-Zhang (2000) step leaves such a
// point unless it is the median; this replaces the fixed smoothing radius,
// which swallowed updates whose whole spread was below it.
//
// It starts from the weighted mean, where ordinary rounds converge in a few
// steps. Far updates drag the mean away, and Weiszfeld closes such a gap only
// by a factor near (their weight share) / (the rest) per step, so a run that
// has not converged after 20 steps restarts from the coordinate-wise median,
// which already lies within the majority's range in every coordinate, for up to
// `max_iterations` more. Cost: O(n * dim) per step (two passes), plus the
// median (32 counting passes) when it restarts.
#ifndef FEDTINY_AGGREGATION_GEOMETRIC_MEDIAN_H_
#define FEDTINY_AGGREGATION_GEOMETRIC_MEDIAN_H_

#include "aggregation/buffered_aggregator.h"

namespace fedtiny::aggregation {

struct GeometricMedianOptions {
  // Updates within nu * s of z count as at z (nu is clamped to [1e-12, 0.5]).
  double nu = 1e-6;
  double tolerance = 1e-5;   // Stop when a step is below tolerance * s.
  int max_iterations = 100;  // Of the run from the median.
  bool weighted = true;  // Use the update weights (example counts) as w_i.
};

// Not thread-safe.
class GeometricMedianAggregator final : public BufferedAggregator {
 public:
  GeometricMedianAggregator(int64_t dim, GeometricMedianOptions options = {})
      : BufferedAggregator(dim), options_(options) {}
  std::string Name() const override;
  // Weiszfeld steps the last Report() took, both starts together.
  int last_iterations() const { return last_iterations_; }
  // Whether the last Report() restarted from the coordinate-wise median.
  bool last_restarted() const { return last_restarted_; }

 protected:
  absl::StatusOr<Eigen::VectorXf> Compute(
      const ConstRowMatrixMap& updates,
      const std::vector<double>& weights) override;

 private:
  // Up to `steps` Weiszfeld steps, moving z. True once z has converged.
  bool Iterate(const ConstRowMatrixMap& x, const Eigen::VectorXd& w, int steps,
               Eigen::VectorXd& z);

  const GeometricMedianOptions options_;
  int last_iterations_ = 0;
  bool last_restarted_ = false;
};

}  // namespace fedtiny::aggregation

#endif  // FEDTINY_AGGREGATION_GEOMETRIC_MEDIAN_H_
