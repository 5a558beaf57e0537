#include "aggregation/buffered_aggregator.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace fedtiny::aggregation {

absl::Status BufferedAggregator::Accumulate(absl::Span<const float> update,
                                            double weight, const ClientInfo&) {
  absl::Status valid = ValidateUpdate(update, dim_, weight);
  if (valid.ok()) valid = ValidateTotalWeight(total_weight_, weight);
  if (!valid.ok()) return valid;
  data_.insert(data_.end(), update.begin(), update.end());
  weights_.push_back(weight);
  total_weight_ += weight;
  return absl::OkStatus();
}

absl::StatusOr<Eigen::VectorXf> BufferedAggregator::Report() {
  if (!CanReport()) {
    return absl::FailedPreconditionError(absl::StrCat(
        Name(), ": needs at least ", MinUpdates(), " updates, has ",
        num_updates()));
  }
  absl::StatusOr<Eigen::VectorXf> out = Compute(updates(), weights_);
  if (!out.ok()) return out;
  absl::Status finite = ValidateAggregate(*out, Name());
  if (!finite.ok()) return finite;
  return out;
}

absl::Status BufferedAggregator::Restore(std::vector<float> rows, std::vector<double> weights) {
  if (!weights_.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(Name(), ": restore into a used aggregator"));
  }
  if (rows.size() != weights.size() * static_cast<size_t>(dim_)) {
    return absl::InvalidArgumentError(absl::StrCat(Name(), ": state rows do not match weights"));
  }
  double total = 0;
  for (size_t i = 0; i < weights.size(); ++i) {
    absl::Status s = ValidateUpdate(absl::MakeConstSpan(rows).subspan(i * dim_, dim_), dim_,
                                    weights[i]);
    if (s.ok()) s = ValidateTotalWeight(total, weights[i]);
    if (!s.ok()) return s;
    total += weights[i];
  }
  data_ = std::move(rows);
  weights_ = std::move(weights);
  total_weight_ = total;
  return absl::OkStatus();
}

absl::Status BufferedAggregator::MergeWith(Aggregator&& other) {
  auto* o = dynamic_cast<BufferedAggregator*>(&other);
  if (o == nullptr || o->Name() != Name() || o->dim_ != dim_) {
    return absl::InvalidArgumentError(absl::StrCat(
        Name(), ": cannot merge with ", other.Name(), " of dim ", other.dim()));
  }
  absl::Status total = ValidateTotalWeight(total_weight_, o->total_weight_);
  if (!total.ok()) return total;
  data_.insert(data_.end(), o->data_.begin(), o->data_.end());
  weights_.insert(weights_.end(), o->weights_.begin(), o->weights_.end());
  total_weight_ += std::exchange(o->total_weight_, 0);
  o->data_.clear();
  o->weights_.clear();
  return absl::OkStatus();
}

}  // namespace fedtiny::aggregation
