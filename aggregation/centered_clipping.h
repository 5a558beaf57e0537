// Centered clipping (Karimireddy, He & Jaggi 2021): starting from a center v
// (the previous round's aggregate, or zero), repeat L times
//   v <- v + (1/n) sum_i clip_tau(x_i - v),  clip_tau(u) = u * min(1, tau/||u||).
// Unweighted. Tolerates a Byzantine fraction below about 1/10 with the paper's
// guarantees. Cost O(L * n * dim).
#ifndef FEDTINY_AGGREGATION_CENTERED_CLIPPING_H_
#define FEDTINY_AGGREGATION_CENTERED_CLIPPING_H_

#include "aggregation/buffered_aggregator.h"

namespace fedtiny::aggregation {

// Not thread-safe.
class CenteredClippingAggregator final : public BufferedAggregator {
 public:
  CenteredClippingAggregator(int64_t dim, double tau, int iterations)
      : BufferedAggregator(dim),
        tau_(tau),
        iterations_(iterations),
        center_(Eigen::VectorXf::Zero(dim)) {}
  std::string Name() const override;
  // The starting point; kInvalidArgument for a wrong size or non-finite values.
  absl::Status SetCenter(const Eigen::VectorXf& center);

 protected:
  absl::StatusOr<Eigen::VectorXf> Compute(
      const ConstRowMatrixMap& updates,
      const std::vector<double>& weights) override;

 private:
  const double tau_;
  const int iterations_;
  Eigen::VectorXf center_;
};

}  // namespace fedtiny::aggregation

#endif  // FEDTINY_AGGREGATION_CENTERED_CLIPPING_H_
