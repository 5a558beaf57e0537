#include "aggregation/norm_bounding.h"

#include <cmath>
#include <utility>

#include "absl/strings/str_cat.h"

namespace fedtiny::aggregation {

double ClipToNorm(absl::Span<float> update, double max_norm) {
  double sq = 0;
  for (float v : update) sq += static_cast<double>(v) * v;
  const double norm = std::sqrt(sq);
  if (norm > max_norm) {
    const float scale = static_cast<float>(max_norm / norm);
    for (float& v : update) v *= scale;
  }
  return norm;
}

NormBoundingAggregator::NormBoundingAggregator(double max_norm,
                                               std::unique_ptr<Aggregator> inner)
    : max_norm_(max_norm), inner_(std::move(inner)) {}

absl::Status NormBoundingAggregator::Accumulate(absl::Span<const float> update,
                                                double weight,
                                                const ClientInfo& info) {
  absl::Status valid = ValidateUpdate(update, dim(), weight);
  if (!valid.ok()) return valid;
  scratch_.assign(update.begin(), update.end());
  const bool clipped = ClipToNorm(absl::MakeSpan(scratch_), max_norm_) > max_norm_;
  absl::Status s = inner_->Accumulate(scratch_, weight, info);
  if (s.ok() && clipped) ++num_clipped_;
  return s;
}

absl::Status NormBoundingAggregator::MergeWith(Aggregator&& other) {
  auto* o = dynamic_cast<NormBoundingAggregator*>(&other);
  if (o == nullptr || o->Name() != Name()) {
    return absl::InvalidArgumentError(
        absl::StrCat(Name(), ": cannot merge with ", other.Name()));
  }
  absl::Status s = inner_->MergeWith(std::move(*o->inner_));
  if (s.ok()) num_clipped_ += std::exchange(o->num_clipped_, 0);
  return s;
}

std::string NormBoundingAggregator::Name() const {
  return absl::StrCat("norm_bound(c=", max_norm_, ")+", inner_->Name());
}

}  // namespace fedtiny::aggregation
