#include "aggregation/distances.h"

#include <cblas.h>

#include <algorithm>
#include <string>

#include "aggregation/row_kernels.h"
#include "tools/base/logging.h"

// OpenBLAS's own, not part of CBLAS: the name of the kernel set it chose.
extern "C" char* openblas_get_corename(void);

namespace fedtiny::aggregation {

namespace {

// OpenBLAS (0.3.21 in Debian 12) picks its kernels from the CPU model and falls
// back to generic SSE3 ones on a model it does not know (Emerald Rapids, say),
// which makes this product 4-5x slower. Said once per process, with the fix.
void WarnIfGenericBlasKernels() {
  static const bool once = [] {
    const std::string core = openblas_get_corename();
    const bool generic = core == "Prescott" || core == "Core2" ||
                         core == "Penryn" || core == "Nehalem";
    if (generic && __builtin_cpu_supports("avx2")) {
      FT_LOG(WARNING) << "OpenBLAS chose its generic '" << core
                      << "' kernels on a CPU with AVX2: distance-based "
                         "aggregation (Krum, Bulyan, NNM) runs 4-5x slower. Set "
                         "OPENBLAS_CORETYPE=Haswell (AVX2) or SkylakeX (AVX-512) "
                         "in this process's environment.";
    }
    return true;
  }();
  (void)once;
}

using RowMatrixXd =
    Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// Coordinates per block: large enough that each rank update amortises its
// packing and its pass over the n x n result, small enough that the centred
// block (n x kBlock doubles) stays in the last-level cache for moderate n.
constexpr int64_t kBlock = 1024;

absl::Span<const float> Row(const ConstRowMatrixMap& x, int64_t i, int64_t j0,
                            int64_t b) {
  return absl::MakeConstSpan(x.data() + i * x.cols() + j0, b);
}

Eigen::VectorXd CoordinateMean(const ConstRowMatrixMap& x) {
  Eigen::VectorXd mean = Eigen::VectorXd::Zero(x.cols());
  for (int64_t i = 0; i < x.rows(); ++i) {
    AddScaled(1.0 / x.rows(), Row(x, i, 0, x.cols()),
              absl::MakeSpan(mean.data(), mean.size()));
  }
  return mean;
}

// Lower triangle of the Gram matrix of the rows of x minus `center`, in double.
Eigen::MatrixXd CenteredGram(const ConstRowMatrixMap& x,
                             const Eigen::VectorXd& center) {
  WarnIfGenericBlasKernels();
  const int64_t n = x.rows(), d = x.cols();
  Eigen::MatrixXd gram = Eigen::MatrixXd::Zero(n, n);
  RowMatrixXd block(n, std::min(kBlock, d));
  for (int64_t j0 = 0; j0 < d; j0 += kBlock) {
    const int64_t b = std::min(kBlock, d - j0);
    for (int64_t i = 0; i < n; ++i) {
      Difference(Row(x, i, j0, b), absl::MakeConstSpan(center.data() + j0, b),
                 absl::MakeSpan(block.row(i).data(), b));
    }
    // gram += block * block^T on the lower triangle: OpenBLAS's dsyrk, which
    // picks AVX2/AVX-512 kernels at run time (Eigen's own product is limited
    // to the portable build's SSE2). Row-major n x b is column-major b x n,
    // hence the transpose.
    cblas_dsyrk(CblasColMajor, CblasLower, CblasTrans, static_cast<int>(n),
                static_cast<int>(b), 1.0, block.data(),
                static_cast<int>(block.cols()), 1.0, gram.data(),
                static_cast<int>(n));
  }
  return gram;
}

}  // namespace

Eigen::MatrixXd PairwiseSquaredDistances(const ConstRowMatrixMap& updates) {
  const Eigen::MatrixXd gram = CenteredGram(updates, CoordinateMean(updates));
  const int64_t n = updates.rows();
  Eigen::MatrixXd d2(n, n);
  for (int64_t j = 0; j < n; ++j) {
    d2(j, j) = 0.0;
    for (int64_t i = j + 1; i < n; ++i) {
      d2(i, j) = d2(j, i) =
          std::max(0.0, gram(i, i) + gram(j, j) - 2.0 * gram(i, j));
    }
  }
  return d2;
}

std::vector<double> KrumScores(const Eigen::MatrixXd& d2,
                               const std::vector<int>& active, int k) {
  std::vector<double> scores;
  scores.reserve(active.size());
  std::vector<double> row;
  for (int i : active) {
    row.clear();
    for (int j : active) {
      if (j != i) row.push_back(d2(i, j));
    }
    // The sum of the k smallest needs no order among them: selection, not sort.
    std::nth_element(row.begin(), row.begin() + (k - 1), row.end());
    double s = 0;
    for (int t = 0; t < k; ++t) s += row[t];
    scores.push_back(s);
  }
  return scores;
}

}  // namespace fedtiny::aggregation
