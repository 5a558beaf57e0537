// Nearest-neighbour mixing (Allouah et al. 2023), a pre-aggregation step that
// composes with any method: each update is replaced by the mean of its n - f
// nearest updates (itself included), then the inner method aggregates the mixed
// updates. It lowers the variance the inner method sees and raises the Byzantine
// fraction it tolerates towards its optimum. Cost: one Gram product plus
// O(n^2 * dim) mixing; memory O(n * dim).
#ifndef FEDTINY_AGGREGATION_NNM_H_
#define FEDTINY_AGGREGATION_NNM_H_

#include <functional>
#include <memory>

#include "aggregation/buffered_aggregator.h"

namespace fedtiny::aggregation {

using AggregatorFactory = std::function<std::unique_ptr<Aggregator>(int64_t dim)>;

// Mixed updates: row i is the mean of the n - f rows nearest to row i.
RowMatrixXf NearestNeighborMix(const ConstRowMatrixMap& updates, int f);

// Not thread-safe. Builds a fresh inner aggregator on every Report().
class NnmAggregator final : public BufferedAggregator {
 public:
  NnmAggregator(int64_t dim, int f, AggregatorFactory inner);
  std::string Name() const override;

 protected:
  int64_t MinUpdates() const override { return f_ + 1; }
  absl::StatusOr<Eigen::VectorXf> Compute(
      const ConstRowMatrixMap& updates,
      const std::vector<double>& weights) override;

 private:
  const int f_;
  AggregatorFactory inner_factory_;
  std::string inner_name_;
};

}  // namespace fedtiny::aggregation

#endif  // FEDTINY_AGGREGATION_NNM_H_
