// The cross targets' self-test (tools/cross/cross_targets_test.sh): a small dense
// forward pass and a few SGD steps of a linear softmax head on deterministic data,
// with Eigen and with client/core/dense_kernels, the SDK's trainer loops. C++17,
// Eigen and the C library's printf only, so it runs unchanged on the host, aarch64
// Linux and bare-metal Cortex-M (newlib-nano, output through semihosting).
//
// Output: one `v <name> <index> <hex of the float's bits>` line per result (the
// test compares these across targets: `exact_*` bit for bit, the rest within
// 1e-6 of the tensor's largest magnitude), `#` lines for people (target, losses in
// decimal, checksum). Exit status 0; 1 when a result is wrong on this target
// itself (the loss does not fall, or the kernels disagree with Eigen).
#include <cinttypes>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <vector>

#include <Eigen/Core>

#include "client/core/dense_kernels.h"

namespace {

using RowMatrixXf = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

constexpr int kExamples = 10;  // one batch, as the SDK's default plan
constexpr int kIn = 16;
constexpr int kHidden = 8;
constexpr int kClasses = 4;
constexpr int kSteps = 5;
constexpr float kLearningRate = 0.5f;

// Deterministic inputs: a 32-bit LCG; 24 bits scaled by 2^-23 then minus 1 is exact
// in float, so every target starts from the same bits.
struct Lcg {
  uint32_t state;
  float Next() {
    state = state * 1664525u + 1013904223u;
    return static_cast<float>(state >> 8) * (1.0f / 8388608.0f) - 1.0f;
  }
};

uint32_t Bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
}

uint32_t checksum = 2166136261u;  // FNV-1a over the bits of every value printed

void Print(const char* name, int index, float value) {
  const uint32_t u = Bits(value);
  std::printf("v %s %d %08" PRIx32 "\n", name, index, u);
  for (int b = 0; b < 4; ++b) {
    checksum ^= (u >> (8 * b)) & 0xffu;
    checksum *= 16777619u;
  }
}

template <typename M>
void PrintAll(const char* name, const M& m) {
  // Row-major order whatever the storage, so names and indices mean the same.
  for (Eigen::Index r = 0; r < m.rows(); ++r)
    for (Eigen::Index c = 0; c < m.cols(); ++c) Print(name, static_cast<int>(r * m.cols() + c), m(r, c));
}

std::vector<const float*> RowPointers(const RowMatrixXf& m) {
  std::vector<const float*> rows(static_cast<size_t>(m.rows()));
  for (Eigen::Index r = 0; r < m.rows(); ++r) rows[static_cast<size_t>(r)] = m.row(r).data();
  return rows;
}

float MaxRelativeDiff(const Eigen::MatrixXf& a, const Eigen::MatrixXf& b) {
  float worst = 0.f;
  for (Eigen::Index i = 0; i < a.size(); ++i) {
    const float scale = std::fmax(std::fmax(std::fabs(a(i)), std::fabs(b(i))), 1e-3f);
    worst = std::fmax(worst, std::fabs(a(i) - b(i)) / scale);
  }
  return worst;
}

const char* Target() {
#if defined(__x86_64__)
  return "x86_64";
#elif defined(__aarch64__)
  return "aarch64";
#elif defined(__ARM_ARCH_7EM__) && defined(__ARM_FP) && (__ARM_FP & 8)
  return "armv7e-m+fp.dp (Cortex-M7)";
#elif defined(__ARM_ARCH_7EM__) && defined(__ARM_FP)
  return "armv7e-m+fp (Cortex-M4F)";
#else
  return "other";
#endif
}

}  // namespace

int main() {
  std::printf("# fedtiny cross selftest: target %s, Eigen %d.%d.%d, SIMD %s\n", Target(),
              EIGEN_WORLD_VERSION, EIGEN_MAJOR_VERSION, EIGEN_MINOR_VERSION,
              Eigen::SimdInstructionSetsInUse());
  Lcg rng{12345u};
  RowMatrixXf x(kExamples, kIn);
  for (Eigen::Index i = 0; i < x.size(); ++i) x.data()[i] = rng.Next();
  // Weights as the SDK stores them: Eigen column-major out x in.
  Eigen::MatrixXf w1(kHidden, kIn);
  for (Eigen::Index i = 0; i < w1.size(); ++i) w1.data()[i] = 0.25f * rng.Next();
  Eigen::VectorXf b1(kHidden);
  for (Eigen::Index i = 0; i < b1.size(); ++i) b1(i) = 0.1f * rng.Next();
  Eigen::MatrixXf w2(kClasses, kHidden);
  for (Eigen::Index i = 0; i < w2.size(); ++i) w2.data()[i] = 0.1f * rng.Next();
  Eigen::VectorXf b2 = Eigen::VectorXf::Zero(kClasses);
  std::vector<int> labels(kExamples);
  for (int r = 0; r < kExamples; ++r) labels[static_cast<size_t>(r)] = r % kClasses;

  bool ok = true;

  // Body: a dense ReLU layer, with Eigen's GEMM and with DenseForward.
  RowMatrixXf h_eigen = x * w1.transpose();
  h_eigen.rowwise() += b1.transpose();
  h_eigen = h_eigen.cwiseMax(0.f);
  RowMatrixXf h(kExamples, kHidden);
  const std::vector<const float*> x_rows = RowPointers(x);
  fedtiny::client::DenseForward(x_rows.data(), kExamples, kIn, w1.data(), kHidden, b1.data(),
                                /*relu=*/true, h.data());
  const float body_diff = MaxRelativeDiff(h_eigen, h);
  std::printf("# body: DenseForward vs Eigen max relative difference %.3g\n", body_diff);
  if (body_diff > 1e-5f) ok = false;
  // The same layer as a plain loop in a fixed order, each product and sum rounded
  // once (this file is compiled with -ffp-contract=off): IEEE binary32 gives the
  // same bits on every target, so the test requires exact equality here.
  RowMatrixXf h_exact(kExamples, kHidden);
  for (int r = 0; r < kExamples; ++r) {
    for (int o = 0; o < kHidden; ++o) {
      float z = b1(o);
      for (int i = 0; i < kIn; ++i) z += x(r, i) * w1(o, i);
      h_exact(r, o) = z > 0.f ? z : 0.f;
    }
  }
  PrintAll("exact_hidden", h_exact);
  PrintAll("hidden_eigen", h_eigen);
  PrintAll("hidden", h);

  // Head: softmax regression on the hidden features, plain SGD on the mean
  // cross-entropy. Gradients with AccumulateOuter/AccumulateColumnSums (the
  // trainer's calls), and a reference update with Eigen.
  const std::vector<const float*> h_rows = RowPointers(h);
  Eigen::MatrixXf w2_eigen = w2;
  Eigen::VectorXf b2_eigen = b2;
  RowMatrixXf logits(kExamples, kClasses), d(kExamples, kClasses);
  float first_loss = 0.f, loss = 0.f;
  for (int step = 0; step <= kSteps; ++step) {
    fedtiny::client::DenseForward(h_rows.data(), kExamples, kHidden, w2.data(), kClasses,
                                  b2.data(), /*relu=*/false, logits.data());
    loss = 0.f;
    for (int r = 0; r < kExamples; ++r) {
      const float m = logits.row(r).maxCoeff();
      Eigen::RowVectorXf p = (logits.row(r).array() - m).exp().matrix();
      const float sum = p.sum();
      p /= sum;
      const int y = labels[static_cast<size_t>(r)];
      loss -= std::log(p(y));
      p(y) -= 1.f;
      d.row(r) = p / static_cast<float>(kExamples);
    }
    loss /= static_cast<float>(kExamples);
    Print("loss", step, loss);
    std::printf("# step %d: loss %.6f\n", step, static_cast<double>(loss));
    if (step == 0) first_loss = loss;
    if (step == kSteps) break;
    // w2 is column-major classes x hidden: the row-major hidden x classes operand.
    fedtiny::client::AccumulateOuter(h_rows.data(), kExamples, kHidden, d.data(), kClasses,
                                     -kLearningRate, w2.data());
    fedtiny::client::AccumulateColumnSums(d.data(), kExamples, kClasses, -kLearningRate,
                                          b2.data());
    w2_eigen.noalias() -= kLearningRate * (d.transpose() * h);
    b2_eigen -= kLearningRate * d.colwise().sum().transpose();
  }
  PrintAll("logits", logits);
  PrintAll("w2", w2);
  PrintAll("b2", b2);
  PrintAll("w2_eigen", w2_eigen);
  const float head_diff = std::fmax(MaxRelativeDiff(w2, w2_eigen), MaxRelativeDiff(b2, b2_eigen));
  std::printf("# head: kernels vs Eigen SGD max relative difference %.3g\n", head_diff);
  if (head_diff > 1e-5f) ok = false;
  if (!(loss < first_loss)) {
    std::printf("# error: the loss did not fall (%.6f -> %.6f)\n", static_cast<double>(first_loss),
                static_cast<double>(loss));
    ok = false;
  }
  std::printf("# checksum %08" PRIx32 "\n", checksum);
  std::printf("# %s\n", ok ? "ok" : "FAILED");
  return ok ? 0 : 1;
}
