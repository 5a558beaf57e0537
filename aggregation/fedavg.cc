#include "aggregation/fedavg.h"

namespace fedtiny::aggregation {

FedAvgAggregator::FedAvgAggregator(int64_t dim)
    : sum_(Eigen::VectorXd::Zero(dim)) {}

absl::Status FedAvgAggregator::Accumulate(absl::Span<const float> update,
                                          double weight, const ClientInfo&) {
  absl::Status valid = ValidateUpdate(update, dim(), weight);
  if (!valid.ok()) return valid;
  Eigen::Map<const Eigen::VectorXf> u(update.data(), update.size());
  sum_ += weight * u.cast<double>();
  total_weight_ += weight;
  ++count_;
  return absl::OkStatus();
}

absl::StatusOr<Eigen::VectorXf> FedAvgAggregator::Report() {
  if (!CanReport()) return absl::FailedPreconditionError("fedavg: no updates");
  return (sum_ / total_weight_).cast<float>();
}

absl::Status FedAvgAggregator::MergeWith(Aggregator&& other) {
  auto* o = dynamic_cast<FedAvgAggregator*>(&other);
  if (o == nullptr || o->dim() != dim()) {
    return absl::InvalidArgumentError("fedavg: can only merge fedavg of the same dim");
  }
  sum_ += o->sum_;
  total_weight_ += o->total_weight_;
  count_ += o->count_;
  o->sum_.setZero();
  o->total_weight_ = 0;
  o->count_ = 0;
  return absl::OkStatus();
}

}  // namespace fedtiny::aggregation
