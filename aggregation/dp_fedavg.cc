#include "aggregation/dp_fedavg.h"

#include <cmath>
#include <utility>

#include "absl/strings/str_cat.h"
#include "aggregation/norm_bounding.h"

namespace fedtiny::aggregation {

DpFedAvgAggregator::DpFedAvgAggregator(int64_t dim, DpFedAvgOptions options,
                                       std::shared_ptr<RandomSource> noise)
    : options_(options), noise_(std::move(noise)), sum_(Eigen::VectorXd::Zero(dim)) {}

absl::Status DpFedAvgAggregator::Accumulate(absl::Span<const float> update,
                                            double weight, const ClientInfo&) {
  if (released_) {
    return absl::FailedPreconditionError("dp_fedavg: already released this round");
  }
  absl::Status valid = ValidateUpdate(update, dim(), weight);
  if (!valid.ok()) return valid;
  scratch_.assign(update.begin(), update.end());
  const double norm = ClipToNorm(absl::MakeSpan(scratch_), options_.clip_norm);
  sum_ += Eigen::Map<const Eigen::VectorXf>(scratch_.data(), dim()).cast<double>();
  ++count_;
  if (norm <= options_.clip_norm) ++below_;
  return absl::OkStatus();
}

absl::StatusOr<Eigen::VectorXf> DpFedAvgAggregator::Report() {
  if (released_) return *released_;
  if (!CanReport()) return absl::FailedPreconditionError("dp_fedavg: no updates");
  Eigen::VectorXf noise(dim());
  FillGaussian(*noise_, options_.noise_multiplier * options_.clip_norm,
               absl::MakeSpan(noise.data(), noise.size()));
  const double denom =
      options_.expected_clients > 0 ? options_.expected_clients : count_;
  Eigen::VectorXf out = ((sum_ + noise.cast<double>()) / denom).cast<float>();
  // Nothing is released on error, so a later call may draw again.
  absl::Status finite = ValidateAggregate(out, Name());
  if (!finite.ok()) return finite;
  released_ = std::move(out);
  return *released_;
}

absl::StatusOr<double> DpFedAvgAggregator::NextClipNorm() {
  if (!options_.adaptive_clipping) return options_.clip_norm;
  if (next_clip_) return *next_clip_;
  if (count_ == 0) return absl::FailedPreconditionError("dp_fedavg: no updates");
  float count_noise = 0;
  if (options_.count_noise_stddev > 0) {
    FillGaussian(*noise_, options_.count_noise_stddev,
                 absl::MakeSpan(&count_noise, 1));
  }
  const double b = (below_ + count_noise) / static_cast<double>(count_);
  next_clip_ = options_.clip_norm *
               std::exp(-options_.clip_learning_rate * (b - options_.target_quantile));
  return *next_clip_;
}

absl::Status DpFedAvgAggregator::MergeWith(Aggregator&& other) {
  auto* o = dynamic_cast<DpFedAvgAggregator*>(&other);
  if (o == nullptr || o->Name() != Name() || o->dim() != dim()) {
    return absl::InvalidArgumentError("dp_fedavg: can only merge the same dp_fedavg");
  }
  if (released_ || o->released_) {
    return absl::FailedPreconditionError("dp_fedavg: cannot merge after a release");
  }
  sum_ += o->sum_;
  count_ += std::exchange(o->count_, 0);
  below_ += std::exchange(o->below_, 0);
  o->sum_.setZero();
  return absl::OkStatus();
}

std::string DpFedAvgAggregator::Name() const {
  return absl::StrCat("dp_fedavg(c=", options_.clip_norm,
                      ",z=", options_.noise_multiplier, ")");
}

}  // namespace fedtiny::aggregation
