// Bulyan (El Mhamdi et al. 2018): iterated Krum selects theta = n - 2f updates;
// then, per coordinate, the mean of the beta = theta - 2f values closest to the
// coordinate's median among the selected. Needs n >= 4f + 3. Tolerates f Byzantine
// updates with a per-coordinate guarantee Krum lacks. Cost: one Gram product plus
// O(n^3) selection and O(n * dim) coordinate work.
#ifndef FEDTINY_AGGREGATION_BULYAN_H_
#define FEDTINY_AGGREGATION_BULYAN_H_

#include "aggregation/buffered_aggregator.h"

namespace fedtiny::aggregation {

// Not thread-safe.
class BulyanAggregator final : public BufferedAggregator {
 public:
  BulyanAggregator(int64_t dim, int f) : BufferedAggregator(dim), f_(f) {}
  std::string Name() const override;

 protected:
  int64_t MinUpdates() const override { return 4 * f_ + 3; }
  absl::StatusOr<Eigen::VectorXf> Compute(
      const ConstRowMatrixMap& updates,
      const std::vector<double>& weights) override;

 private:
  const int f_;
};

}  // namespace fedtiny::aggregation

#endif  // FEDTINY_AGGREGATION_BULYAN_H_
