#include "aggregation/centered_clipping.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "aggregation/row_kernels.h"

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
  // In double: differences of updates near the float limit overflow float, and
  // a float norm overflows from about 1e19 on (and would drop the update).
  const int64_t n = x.rows();
  Eigen::VectorXd v = center_.cast<double>();
  Eigen::VectorXd pulled(x.cols());
  for (int l = 0; l < iterations_; ++l) {
    // v += mean_i s_i (x_i - v) = (sum_i s_i x_i - (sum_i s_i) v) / n.
    pulled.setZero();
    double total_scale = 0;
    for (int64_t i = 0; i < n; ++i) {
      const absl::Span<const float> xi(x.data() + i * x.cols(), x.cols());
      const double norm = std::sqrt(
          SquaredDistance(xi, absl::MakeConstSpan(v.data(), v.size())));
      const double s = norm > tau_ ? tau_ / norm : 1.0;
      AddScaled(s, xi, absl::MakeSpan(pulled.data(), pulled.size()));
      total_scale += s;
    }
    v += (pulled - total_scale * v) / static_cast<double>(n);
  }
  return Eigen::VectorXf(v.cast<float>());
}

}  // namespace fedtiny::aggregation
