// Base for methods that need every update at once (median, trimmed mean, Krum,
// geometric median, centered clipping, Bulyan, NNM): it validates and buffers the
// updates as the rows of an n x dim row-major matrix; subclasses compute from it.
//
// MergeWith concatenates buffers: exact (Report() equals that of one aggregator
// fed every update) but with no memory savings, since shards ship raw updates.
// None of these compose with secure aggregation, which reveals only sums.
#ifndef FEDTINY_AGGREGATION_BUFFERED_AGGREGATOR_H_
#define FEDTINY_AGGREGATION_BUFFERED_AGGREGATOR_H_

#include <string>
#include <vector>

#include "Eigen/Core"
#include "aggregation/aggregator.h"

namespace fedtiny::aggregation {

using RowMatrixXf =
    Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using ConstRowMatrixMap = Eigen::Map<const RowMatrixXf>;

// BufferedAggregator owns a copy of every accepted update. Not thread-safe.
class BufferedAggregator : public Aggregator {
 public:
  absl::Status Accumulate(absl::Span<const float> update, double weight,
                          const ClientInfo& info) override;
  bool CanReport() const override { return num_updates() >= MinUpdates(); }
  absl::StatusOr<Eigen::VectorXf> Report() override;
  absl::Status MergeWith(Aggregator&& other) override;
  int64_t dim() const override { return dim_; }
  int64_t num_updates() const override {
    return static_cast<int64_t>(weights_.size());
  }

  // Reserve room for `n` updates up front (avoids regrowing a large buffer).
  void Reserve(int64_t n) { data_.reserve(n * dim_); }

  // The buffered updates, one per row, and their weights.
  ConstRowMatrixMap updates() const {
    return ConstRowMatrixMap(data_.data(), num_updates(), dim_);
  }
  const std::vector<double>& weights() const { return weights_; }
  // Sets the buffer of an empty aggregator (aggregation/aggregator_state.h):
  // `rows` holds weights.size() updates of dim() each. kFailedPrecondition when
  // it holds updates; kInvalidArgument as Accumulate would refuse one of them.
  absl::Status Restore(std::vector<float> rows, std::vector<double> weights);

 protected:
  explicit BufferedAggregator(int64_t dim) : dim_(dim) {}

  // The fewest updates Compute() accepts.
  virtual int64_t MinUpdates() const { return 1; }
  // Computes the aggregate from `updates` (n x dim, n >= MinUpdates()).
  virtual absl::StatusOr<Eigen::VectorXf> Compute(
      const ConstRowMatrixMap& updates,
      const std::vector<double>& weights) = 0;

 private:
  const int64_t dim_;
  std::vector<float> data_;
  std::vector<double> weights_;
  double total_weight_ = 0;  // Finite: Accumulate and MergeWith check.
};

// Calls `f(j, values)` for every coordinate j in [0, dim), where `values` points at
// the n values of coordinate j across the updates, copied to scratch that `f` may
// reorder. Writes f's result to out[j]. Works through blocks of coordinates so that
// reading row-major updates stays sequential.
template <typename F>
void ForEachCoordinate(const ConstRowMatrixMap& updates, F f,
                       Eigen::VectorXf& out) {
  constexpr int64_t kBlock = 64;
  const int64_t n = updates.rows(), d = updates.cols();
  std::vector<float> scratch(kBlock * n);
  out.resize(d);
  for (int64_t j0 = 0; j0 < d; j0 += kBlock) {
    const int64_t b = std::min(kBlock, d - j0);
    for (int64_t i = 0; i < n; ++i) {
      const float* row = updates.data() + i * d + j0;
      for (int64_t k = 0; k < b; ++k) scratch[k * n + i] = row[k];
    }
    for (int64_t k = 0; k < b; ++k) out[j0 + k] = f(j0 + k, &scratch[k * n]);
  }
}

}  // namespace fedtiny::aggregation

#endif  // FEDTINY_AGGREGATION_BUFFERED_AGGREGATOR_H_
