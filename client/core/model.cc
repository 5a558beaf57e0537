#include "client/core/model.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>

#include "client/core/str_cat.h"
#include "tools/base/int8_quant.h"

namespace fedtiny::client {

QuantizedDenseLayer Quantize(const DenseLayer& layer) {
  const Span<const float> w(layer.w.data(), static_cast<size_t>(layer.w.size()));
  const Int8Affine affine = ChooseInt8Affine(w);
  QuantizedDenseLayer q;
  q.scale = affine.scale;
  q.zero_point = affine.zero_point;
  q.q.resize(layer.w.rows(), layer.w.cols());
  QuantizeInt8(w, affine, Span<int8_t>(q.q.data(), static_cast<size_t>(q.q.size())));
  q.b = layer.b;
  q.relu = layer.relu;
  return q;
}

namespace {

void Activate(RowMatrixXf& z, const Eigen::VectorXf& b, bool relu) {
  z.rowwise() += b.transpose();
  if (relu) z = z.cwiseMax(0.f);
}

}  // namespace

RowMatrixXf DenseForward(const DenseLayer& l, const RowMatrixXf& x) {
  RowMatrixXf z = x * l.w.transpose();
  Activate(z, l.b, l.relu);
  return z;
}

namespace {

// acc[k] += a * q[k], converting int8 to float in vector registers. On x86-64
// an AVX2 clone is picked at run time; target_clones exists only there, so other
// targets (aarch64, Cortex-M) get the one vectorized function.
#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target_clones("avx2", "default"), optimize("tree-vectorize")))
#elif defined(__GNUC__)
__attribute__((optimize("tree-vectorize")))
#endif
void AxpyInt8(float a, const int8_t* __restrict q, float* __restrict acc, int64_t n) {
  for (int64_t k = 0; k < n; ++k) acc[k] += a * static_cast<float>(q[k]);
}

}  // namespace

RowMatrixXf DenseForward(const QuantizedDenseLayer& l, const RowMatrixXf& x) {
  // W x = scale * (Q x - zero_point * sum(x)). Q is converted to float one tile of
  // input columns at a time: bounded extra memory (out x kTile floats) instead of
  // a full float copy of the weights, and the products stay in Eigen's GEMM.
  constexpr int64_t kTile = 64;
  RowMatrixXf z = RowMatrixXf::Zero(x.rows(), l.out());
  if (x.rows() <= 4) {
    // A few examples: one scaled column per input, converted on the fly, no buffer.
    Eigen::VectorXf acc(l.out());
    for (int64_t r = 0; r < x.rows(); ++r) {
      acc.setZero();
      for (int64_t i = 0; i < l.in(); ++i) {
        const float xi = x(r, i);
        if (xi != 0.f) AxpyInt8(xi, l.q.col(i).data(), acc.data(), l.out());
      }
      z.row(r) = acc.transpose();
    }
  }
  Eigen::MatrixXf tile(l.out(), kTile);
  for (int64_t j = 0; x.rows() > 4 && j < l.in(); j += kTile) {
    const int64_t w = std::min(kTile, l.in() - j);
    tile.leftCols(w) = l.q.middleCols(j, w).cast<float>();
    z.noalias() += x.middleCols(j, w) * tile.leftCols(w).transpose();
  }
  const Eigen::VectorXf row_sums = x.rowwise().sum();
  z.colwise() -= static_cast<float>(l.zero_point) * row_sums;
  z *= l.scale;
  Activate(z, l.b, l.relu);
  return z;
}

Status Head::Validate() const {
  if (layers.empty()) return InvalidArgumentError("head has no layers");
  for (size_t i = 0; i < layers.size(); ++i) {
    const DenseLayer& l = layers[i];
    if (l.b.size() != l.out() || l.out() == 0 || l.in() == 0) {
      return InvalidArgumentError(StrCat("head layer ", i, " is malformed"));
    }
    if (i > 0 && layers[i - 1].out() != l.in()) {
      return InvalidArgumentError(
          StrCat("head layer ", i, " input width differs from layer ", i - 1));
    }
  }
  if (layers.back().relu) {
    return InvalidArgumentError("the head's last layer must be linear (logits)");
  }
  return OkStatus();
}

int64_t Head::num_params() const {
  int64_t n = 0;
  for (const DenseLayer& l : layers) n += l.w.size() + l.b.size();
  return n;
}

std::vector<float> Head::Flatten() const {
  std::vector<float> flat;
  flat.reserve(num_params());
  for (const DenseLayer& l : layers) {
    flat.insert(flat.end(), l.w.data(), l.w.data() + l.w.size());
    flat.insert(flat.end(), l.b.data(), l.b.data() + l.b.size());
  }
  return flat;
}

Status Head::Unflatten(Span<const float> flat) {
  if (static_cast<int64_t>(flat.size()) != num_params()) {
    return InvalidArgumentError(StrCat(
        "head has ", num_params(), " parameters, got ", flat.size()));
  }
  const float* p = flat.data();
  for (DenseLayer& l : layers) {
    std::copy(p, p + l.w.size(), l.w.data());
    p += l.w.size();
    std::copy(p, p + l.b.size(), l.b.data());
    p += l.b.size();
  }
  return OkStatus();
}

Head MakeHead(const std::vector<int64_t>& widths, uint64_t seed) {
  std::mt19937_64 rng(seed);
  Head head;
  for (size_t i = 0; i + 1 < widths.size(); ++i) {
    const float limit = std::sqrt(6.f / static_cast<float>(widths[i] + widths[i + 1]));
    std::uniform_real_distribution<float> u(-limit, limit);
    DenseLayer l;
    l.w.resize(widths[i + 1], widths[i]);
    for (int64_t k = 0; k < l.w.size(); ++k) l.w.data()[k] = u(rng);
    l.b = Eigen::VectorXf::Zero(widths[i + 1]);
    l.relu = i + 2 < widths.size();
    head.layers.push_back(std::move(l));
  }
  return head;
}

StatusOr<Evaluation> Evaluate(const Head& head, const RowMatrixXf& features,
                                    Span<const int32_t> labels) {
  if (static_cast<size_t>(features.rows()) != labels.size() ||
      features.cols() != head.input_dim()) {
    return InvalidArgumentError("evaluate: features and labels disagree with the head");
  }
  RowMatrixXf x = features;
  for (const DenseLayer& l : head.layers) x = DenseForward(l, x);
  Evaluation e;
  e.examples = x.rows();
  for (int64_t i = 0; i < x.rows(); ++i) {
    const int32_t y = labels[i];
    if (y < 0 || y >= x.cols()) return InvalidArgumentError("label out of range");
    Eigen::Index arg;
    const float m = x.row(i).maxCoeff(&arg);
    const double lse = m + std::log((x.row(i).array() - m).exp().sum());
    e.loss += lse - x(i, y);
    e.accuracy += arg == y ? 1 : 0;
  }
  if (e.examples > 0) {
    e.loss /= e.examples;
    e.accuracy /= e.examples;
  }
  return e;
}

}  // namespace fedtiny::client
