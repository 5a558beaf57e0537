// Krum and Multi-Krum (Blanchard et al. 2017). Each update is scored by the sum of
// squared distances to its n - f - 2 nearest neighbours; Krum returns the update
// with the lowest score, Multi-Krum the unweighted mean of the m lowest. Needs
// n > 2f + 2. Tolerates f Byzantine updates. Cost: one n x n Gram product,
// O(n^2 * dim), then O(n^2 log n).
#ifndef FEDTINY_AGGREGATION_KRUM_H_
#define FEDTINY_AGGREGATION_KRUM_H_

#include <vector>

#include "aggregation/buffered_aggregator.h"

namespace fedtiny::aggregation {

// Not thread-safe.
class KrumAggregator final : public BufferedAggregator {
 public:
  // m = 1 is Krum; m > 1 is Multi-Krum.
  KrumAggregator(int64_t dim, int f, int m)
      : BufferedAggregator(dim), f_(f), m_(m) {}
  std::string Name() const override;
  // Indices (into the buffered updates) chosen by the last Report().
  const std::vector<int>& selected() const { return selected_; }

 protected:
  int64_t MinUpdates() const override;
  absl::StatusOr<Eigen::VectorXf> Compute(
      const ConstRowMatrixMap& updates,
      const std::vector<double>& weights) override;

 private:
  const int f_;
  const int m_;
  std::vector<int> selected_;
};

}  // namespace fedtiny::aggregation

#endif  // FEDTINY_AGGREGATION_KRUM_H_
