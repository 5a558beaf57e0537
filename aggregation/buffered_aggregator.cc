#include "aggregation/buffered_aggregator.h"

#include "absl/strings/str_cat.h"

namespace fedtiny::aggregation {

absl::Status BufferedAggregator::Accumulate(absl::Span<const float> update,
                                            double weight, const ClientInfo&) {
  absl::Status valid = ValidateUpdate(update, dim_, weight);
  if (!valid.ok()) return valid;
  data_.insert(data_.end(), update.begin(), update.end());
  weights_.push_back(weight);
  return absl::OkStatus();
}

absl::StatusOr<Eigen::VectorXf> BufferedAggregator::Report() {
  if (!CanReport()) {
    return absl::FailedPreconditionError(absl::StrCat(
        Name(), ": needs at least ", MinUpdates(), " updates, has ",
        num_updates()));
  }
  return Compute(updates(), weights_);
}

absl::Status BufferedAggregator::MergeWith(Aggregator&& other) {
  auto* o = dynamic_cast<BufferedAggregator*>(&other);
  if (o == nullptr || o->Name() != Name() || o->dim_ != dim_) {
    return absl::InvalidArgumentError(absl::StrCat(
        Name(), ": cannot merge with ", other.Name(), " of dim ", other.dim()));
  }
  data_.insert(data_.end(), o->data_.begin(), o->data_.end());
  weights_.insert(weights_.end(), o->weights_.begin(), o->weights_.end());
  o->data_.clear();
  o->weights_.clear();
  return absl::OkStatus();
}

}  // namespace fedtiny::aggregation
