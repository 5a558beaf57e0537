#include "aggregation/fedavg.h"

#include <cmath>
#include <utility>

#include "aggregation/row_kernels.h"

namespace fedtiny::aggregation {

FedAvgAggregator::FedAvgAggregator(int64_t dim)
    : mean_(Eigen::VectorXd::Zero(dim)) {}

absl::Status FedAvgAggregator::Accumulate(absl::Span<const float> update,
                                          double weight, const ClientInfo&) {
  absl::Status valid = ValidateUpdateShape(update, dim(), weight);
  if (valid.ok()) valid = ValidateTotalWeight(total_weight_, weight);
  if (!valid.ok()) return valid;
  const double total = total_weight_ + weight;
  next_.resize(dim());
  if (!BlendIfFinite(weight / total, update,
                     absl::MakeConstSpan(mean_.data(), mean_.size()),
                     absl::MakeSpan(next_.data(), next_.size()))) {
    return ValidateUpdate(update, dim(), weight);  // Names the first NaN/Inf.
  }
  mean_.swap(next_);
  total_weight_ = total;
  ++count_;
  return absl::OkStatus();
}

absl::StatusOr<Eigen::VectorXf> FedAvgAggregator::Report() {
  if (!CanReport()) return absl::FailedPreconditionError("fedavg: no updates");
  Eigen::VectorXf out = mean_.cast<float>();
  absl::Status finite = ValidateAggregate(out, Name());
  if (!finite.ok()) return finite;
  return out;
}

absl::Status FedAvgAggregator::Restore(Eigen::VectorXd mean, double total_weight,
                                       int64_t count) {
  if (count_ != 0) return absl::FailedPreconditionError("fedavg: restore into a used aggregator");
  if (mean.size() != dim()) return absl::InvalidArgumentError("fedavg: state of another dim");
  if (count < 0 || (count == 0) != (total_weight == 0) || !std::isfinite(total_weight) ||
      total_weight < 0 || !mean.allFinite() || (count == 0 && !mean.isZero(0))) {
    return absl::InvalidArgumentError("fedavg: inconsistent state");
  }
  mean_ = std::move(mean);
  total_weight_ = total_weight;
  count_ = count;
  return absl::OkStatus();
}

absl::Status FedAvgAggregator::MergeWith(Aggregator&& other) {
  auto* o = dynamic_cast<FedAvgAggregator*>(&other);
  if (o == nullptr || o->dim() != dim()) {
    return absl::InvalidArgumentError("fedavg: can only merge fedavg of the same dim");
  }
  absl::Status total = ValidateTotalWeight(total_weight_, o->total_weight_);
  if (!total.ok()) return total;
  if (o->count_ > 0) {
    total_weight_ += o->total_weight_;
    mean_ += (o->total_weight_ / total_weight_) * (o->mean_ - mean_);
  }
  count_ += std::exchange(o->count_, 0);
  o->mean_.setZero();
  o->total_weight_ = 0;
  return absl::OkStatus();
}

}  // namespace fedtiny::aggregation
