#include "aggregation/nnm.h"

#include <cblas.h>

#include <algorithm>
#include <numeric>
#include <tuple>
#include <utility>

#include "absl/strings/str_cat.h"
#include "aggregation/distances.h"

namespace fedtiny::aggregation {

RowMatrixXf NearestNeighborMix(const ConstRowMatrixMap& updates, int f) {
  const int n = static_cast<int>(updates.rows());
  const int k = n - f;
  const Eigen::MatrixXd d2 = PairwiseSquaredDistances(updates);
  // Mixing is one product: row i of `select` holds 1/k at row i's k nearest.
  RowMatrixXf select = RowMatrixXf::Zero(n, n);
  std::vector<int> order(n);
  for (int i = 0; i < n; ++i) {
    std::iota(order.begin(), order.end(), 0);
    std::nth_element(order.begin(), order.begin() + (k - 1), order.end(),
                     [&](int a, int b) {
                       // Nearest first; on ties the update itself, then by index.
                       return std::make_tuple(d2(i, a), a != i, a) <
                              std::make_tuple(d2(i, b), b != i, b);
                     });
    for (int t = 0; t < k; ++t) select(i, order[t]) = 1.0f / k;
  }
  // One sgemm through OpenBLAS (run-time AVX2/AVX-512 kernels), as the Gram.
  RowMatrixXf mixed(n, updates.cols());
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n,
              static_cast<int>(updates.cols()), n, 1.0f, select.data(), n,
              updates.data(), static_cast<int>(updates.cols()), 0.0f,
              mixed.data(), static_cast<int>(updates.cols()));
  // Near the float limit the float sum can overflow where the mean does not:
  // redo those rows in double (rare, so the fast product stays the rule).
  if (AllFinite(absl::MakeConstSpan(mixed.data(), mixed.size()))) return mixed;
  for (int i = 0; i < n; ++i) {
    if (AllFinite(absl::MakeConstSpan(mixed.row(i).data(), mixed.cols()))) {
      continue;
    }
    Eigen::VectorXd sum = Eigen::VectorXd::Zero(updates.cols());
    for (int j = 0; j < n; ++j) {
      if (select(i, j) != 0) sum += updates.row(j).transpose().cast<double>();
    }
    mixed.row(i) = (sum / k).cast<float>().transpose();
  }
  return mixed;
}

NnmAggregator::NnmAggregator(int64_t dim, int f, AggregatorFactory inner)
    : BufferedAggregator(dim), f_(f), inner_factory_(std::move(inner)) {
  inner_name_ = inner_factory_(dim)->Name();
}

std::string NnmAggregator::Name() const {
  return absl::StrCat("nnm(f=", f_, ")+", inner_name_);
}

absl::StatusOr<Eigen::VectorXf> NnmAggregator::Compute(
    const ConstRowMatrixMap& updates, const std::vector<double>& weights) {
  const RowMatrixXf mixed = NearestNeighborMix(updates, f_);
  std::unique_ptr<Aggregator> inner = inner_factory_(dim());
  for (int64_t i = 0; i < mixed.rows(); ++i) {
    absl::Status s = inner->Accumulate(
        absl::Span<const float>(mixed.row(i).data(), mixed.cols()), weights[i],
        {});
    if (!s.ok()) return s;
  }
  return inner->Report();
}

}  // namespace fedtiny::aggregation
