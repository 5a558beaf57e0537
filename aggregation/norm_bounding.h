// L2 norm bounding, a pre-aggregation step that composes with any method: every
// update whose L2 norm exceeds `max_norm` is scaled down to it before it reaches
// the inner aggregator. Streaming, O(dim) extra memory; merges when the inner
// aggregator does. Composes with secure aggregation (clipping happens on device).
#ifndef FEDTINY_AGGREGATION_NORM_BOUNDING_H_
#define FEDTINY_AGGREGATION_NORM_BOUNDING_H_

#include <memory>

#include "aggregation/aggregator.h"

namespace fedtiny::aggregation {

// Scales `update` in place so that its L2 norm is at most `max_norm`; returns the
// norm before scaling.
double ClipToNorm(absl::Span<float> update, double max_norm);

// Owns its inner aggregator. Not thread-safe.
class NormBoundingAggregator final : public Aggregator {
 public:
  NormBoundingAggregator(double max_norm, std::unique_ptr<Aggregator> inner);

  absl::Status Accumulate(absl::Span<const float> update, double weight,
                          const ClientInfo& info) override;
  bool CanReport() const override { return inner_->CanReport(); }
  absl::StatusOr<Eigen::VectorXf> Report() override { return inner_->Report(); }
  absl::Status MergeWith(Aggregator&& other) override;
  std::string Name() const override;
  int64_t dim() const override { return inner_->dim(); }
  int64_t num_updates() const override { return inner_->num_updates(); }
  // How many updates were scaled down.
  int64_t num_clipped() const { return num_clipped_; }
  // The inner aggregator, and the count of clipped updates to restore with it
  // (aggregation/aggregator_state.h).
  const Aggregator& inner() const { return *inner_; }
  Aggregator& mutable_inner() { return *inner_; }
  void set_num_clipped(int64_t n) { num_clipped_ = n; }

 private:
  const double max_norm_;
  std::unique_ptr<Aggregator> inner_;
  std::vector<float> scratch_;
  int64_t num_clipped_ = 0;
};

}  // namespace fedtiny::aggregation

#endif  // FEDTINY_AGGREGATION_NORM_BOUNDING_H_
