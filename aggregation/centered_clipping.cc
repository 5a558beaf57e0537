#include "aggregation/centered_clipping.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace fedtiny::aggregation {

std::string CenteredClippingAggregator::Name() const {
  return absl::StrCat("centered_clipping(tau=", tau_, ",iters=", iterations_, ")");
}

absl::Status CenteredClippingAggregator::SetCenter(const Eigen::VectorXf& c) {
  absl::Status valid = ValidateUpdate(
      absl::Span<const float>(c.data(), c.size()), dim(), 1.0);
  if (!valid.ok()) return valid;
  center_ = c;
  return absl::OkStatus();
}

absl::StatusOr<Eigen::VectorXf> CenteredClippingAggregator::Compute(
    const ConstRowMatrixMap& x, const std::vector<double>&) {
  const int64_t n = x.rows();
  Eigen::VectorXf v = center_;
  Eigen::VectorXf step(x.cols());
  for (int l = 0; l < iterations_; ++l) {
    step.setZero();
    for (int64_t i = 0; i < n; ++i) {
      const Eigen::VectorXf diff = x.row(i).transpose() - v;
      const double norm = diff.norm();
      const double scale = norm > tau_ ? tau_ / norm : 1.0;
      step += static_cast<float>(scale) * diff;
    }
    v += step / static_cast<float>(n);
  }
  return v;
}

}  // namespace fedtiny::aggregation
