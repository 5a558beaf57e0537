#include "client/core/int8_bundle.h"

#include <atomic>
#include <cfloat>
#include <cmath>
#include <cstdlib>
#include <new>
#include <random>
#include <vector>

#include "Eigen/SVD"
#include "client/core/int8_inference.h"
#include "client/core/model.h"
#include "client/platform/linux/status_bridge.h"
#include "gtest/gtest.h"
#include "tools/base/status_matchers.h"

// Counts heap allocations, so a test can check that FeaturesInto makes none.
static std::atomic<long> g_allocations{0};
void* operator new(size_t n) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }

namespace fedtiny::client {
namespace {

using ::fedtiny::testing::IsOk;
using ::fedtiny::testing::StatusIs;

// MNIST-like inputs: pixels in [0, 1], about 80% of them 0.
RowMatrixXf Pixels(int64_t rows, int64_t cols, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(0, 1);
  RowMatrixXf x(rows, cols);
  for (int64_t i = 0; i < x.size(); ++i) x.data()[i] = u(rng) < 0.8f ? 0.f : u(rng);
  return x;
}

// A relu body of int8 layers of the given widths, quantized as the
// coordinator's bundles are (Quantize), with small nonzero biases.
Body BundleBody(const std::vector<int64_t>& widths, uint64_t seed) {
  Head h = MakeHead(widths, seed);
  std::vector<BodyLayer> layers;
  for (DenseLayer& l : h.layers) {
    l.relu = true;
    for (int64_t o = 0; o < l.out(); ++o) l.b(o) = 0.01f * static_cast<float>(o % 7 - 3);
    layers.push_back(Quantize(l));
  }
  return Body(std::move(layers));
}

// The documented error bound (docs/client.md, "Integer inference"; the same
// model as int8_inference_test's, for the bundle's weights): each rounding is
// an independent error, uniform over one step (RMS step / sqrt(12)), and
// propagates through the layers above it. The reference is the float forward
// of the bundle's own (dequantized) weights, so weights add no error; into
// layer l's outputs come
//   its input's error through the weights:  max_o |W_o|^2 * e_l^2,
//   its bias's rounding:                    (input step * weight step)^2 / 12,
//   its own output rounding:                output step^2 / 12,
// with e_0^2 = input step^2 / 12; ReLU is 1-Lipschitz. The bound is 6 RMS
// errors: statistical, not a worst case, and for inputs inside the calibrated
// ranges (past them the int8 values saturate). Returns the RMS; bound = 6 RMS.
double ModelledRms(const Body& body) {
  const Int8Run& run = body.int8_runs().at(0);
  double e2 = std::pow(run.body.input().scale, 2) / 12;
  for (size_t l = 0; l < body.layers().size(); ++l) {
    const auto& q = std::get<QuantizedDenseLayer>(body.layers()[l]);
    const Int8DenseLayer& k = run.body.layers[l];
    const Eigen::MatrixXd w =
        q.scale * (q.q.cast<double>().array() - static_cast<double>(q.zero_point)).matrix();
    const double norm2 = w.rowwise().squaredNorm().maxCoeff();
    e2 = norm2 * e2 + std::pow(double{k.input.scale} * q.scale, 2) / 12 +
         std::pow(k.output.scale, 2) / 12;
  }
  return std::sqrt(e2);
}

// The largest singular value of `w`: how far it can move a vector's 2-norm.
double SpectralNorm(const Eigen::MatrixXf& w) {
  return Eigen::JacobiSVD<Eigen::MatrixXd>(w.cast<double>()).singularValues()(0);
}

TEST(Int8BundleTest, LayerMatchesExactIntegerArithmetic) {
  // 40 -> 12, weight zero point -9: the kernel's folded sums against
  // sum (x - zx)(q - zw) + bias computed in int64, requantized in double.
  std::mt19937 rng(3);
  std::uniform_int_distribution<int> byte(-128, 127);
  const int32_t in = 40, out = 12;
  std::vector<int8_t> q(in * out), x(3 * in);
  for (int8_t& v : q) v = static_cast<int8_t>(byte(rng));
  for (int8_t& v : x) v = static_cast<int8_t>(byte(rng));
  std::vector<float> bias(out);
  for (int32_t o = 0; o < out; ++o) bias[o] = 0.3f * static_cast<float>(o) - 1.5f;
  AffineInt8LayerView v{in, out, q.data(), 0.01f, -9, bias.data(), true};
  const Int8Params pin{0.02f, 5}, pout{0.5f, -100};
  Int8DenseLayer layer;
  ASSERT_TRUE(Int8LayerFromAffine(v, pin, pout, &layer).ok());
  std::vector<int8_t> y(3 * out);
  std::vector<int16_t> widened(in);
  Int8DenseForward(layer, x.data(), 3, y.data(), widened.data());
  for (int r = 0; r < 3; ++r) {
    for (int32_t o = 0; o < out; ++o) {
      int64_t acc = std::llround(bias[o] / (double{pin.scale} * v.scale));
      for (int32_t i = 0; i < in; ++i)
        acc += int64_t{x[r * in + i] - pin.zero_point} * (q[i * out + o] - v.zero_point);
      const double want = std::clamp(
          acc * (double{pin.scale} * v.scale / pout.scale) + pout.zero_point, -100.0, 127.0);
      EXPECT_LE(std::abs(y[r * out + o] - want), 1.0) << r << " " << o;
    }
  }
}

TEST(Int8BundleTest, RefusesWhatDoesNotFit) {
  std::vector<int8_t> q(4, 1);
  const float huge_bias[2] = {1e30f, 0};
  AffineInt8LayerView v{2, 2, q.data(), 1e-3f, 0, huge_bias, false};
  Int8DenseLayer layer;
  EXPECT_EQ(Int8LayerFromAffine(v, {1e-3f, 0}, {1, 0}, &layer).code, Int8Code::kOutOfRange);
  v.bias = nullptr;
  v.zero_point = 200;
  EXPECT_EQ(Int8LayerFromAffine(v, {1, 0}, {1, 0}, &layer).code, Int8Code::kInvalidArgument);
  EXPECT_EQ(layer.outputs, 0);  // Unchanged on error.
}

class Int8BodyTest : public ::testing::TestWithParam<std::vector<int64_t>> {};

TEST_P(Int8BodyTest, IntegerFeaturesAreWithinTheBoundOfTheFloatReference) {
  Body body = BundleBody(GetParam(), 21);
  const RowMatrixXf x = Pixels(200, GetParam().front(), 4);
  ASSERT_THAT(body.Calibrate(x), IsOk());
  ASSERT_EQ(body.int8_runs().size(), 1u);
  const RowMatrixXf ref = *body.FloatReferenceFeatures(x);
  const RowMatrixXf got = *body.Features(x);
  const double rms_model = ModelledRms(body), bound = 6 * rms_model;
  const double err = (got - ref).cwiseAbs().maxCoeff();
  const double rms = std::sqrt((got - ref).squaredNorm() / static_cast<double>(ref.size()));
  EXPECT_LE(err, bound);
  EXPECT_LE(rms, rms_model);
  // The bound means something: a few output steps, not the whole range.
  const double step = body.int8_runs()[0].body.output().scale;
  EXPECT_LT(bound, 20 * step);
  EXPECT_GT(err, 0.25 * step);  // The integer path is not the float one.
  std::printf("max |int8 - float| %.5f = %.2f output steps, RMS %.2f steps (modelled %.2f), "
              "bound %.2f steps; max feature %.3f\n",
              err, err / step, rms / step, rms_model / step, bound / step, ref.maxCoeff());

  // Through a 128-64-10 head: a row's feature error can move its logits by at
  // most the product of the head layers' spectral norms times its 2-norm
  // (ReLU is 1-Lipschitz), a logit difference by sqrt(2) times that; wherever
  // the float logits' margin exceeds it, the prediction is the same.
  const Head head = MakeHead({body.output_dim(0), 64, 10}, 8);
  double gain = std::sqrt(2.0);
  for (const DenseLayer& l : head.layers) gain *= SpectralNorm(l.w);
  RowMatrixXf lf = ref, li = got;
  for (const DenseLayer& l : head.layers) lf = DenseForward(l, lf), li = DenseForward(l, li);
  int checked = 0, agree = 0;
  for (int64_t r = 0; r < lf.rows(); ++r) {
    Eigen::Index af, ai;
    const float top = lf.row(r).maxCoeff(&af);
    li.row(r).maxCoeff(&ai);
    agree += af == ai;
    RowMatrixXf rest = lf.row(r);
    rest(0, af) = -INFINITY;
    // 1e-4: the float rounding of the head's own forward passes.
    if (top - rest.maxCoeff() > gain * (got.row(r) - ref.row(r)).norm() + 1e-4) {
      ++checked;
      EXPECT_EQ(af, ai) << "row " << r;
    }
  }
  EXPECT_GT(checked, lf.rows() / 2);
  std::printf("head argmax: agrees on %d of %ld rows; guaranteed and checked on %d\n", agree,
              static_cast<long>(lf.rows()), checked);
}

INSTANTIATE_TEST_SUITE_P(Shapes, Int8BodyTest,
                         ::testing::Values(std::vector<int64_t>{784, 128},
                                           std::vector<int64_t>{784, 128, 64}));

TEST(Int8BodyTest, FeaturesRunTheIntegerKernels) {
  Body body = BundleBody({784, 128, 64}, 5);
  const RowMatrixXf x = Pixels(32, 784, 6);
  ASSERT_THAT(body.Calibrate(x), IsOk());
  const Int8Body& k = body.int8_runs().at(0).body;
  ASSERT_EQ(k.layers.size(), 2u);
  EXPECT_NE(k.layers[0].weight_zero_point, 0);  // The bundle's own integers.
  // Bit for bit what Int8BodyForward gives when called directly.
  std::vector<int8_t> qx(x.size()), qy(32 * 64), scratch(Int8ScratchBytes(k, 32));
  QuantizeInput(x.data(), x.size(), k.input(), qx.data());
  ASSERT_TRUE(Int8BodyForward(k, qx.data(), x.size(), 32, qy.data(), qy.size(), scratch.data(),
                              scratch.size()).ok());
  RowMatrixXf want(32, 64);
  DequantizeOutput(qy.data(), qy.size(), k.output(), want.data());
  const RowMatrixXf got = *body.Features(x);
  EXPECT_EQ(got, want);
  EXPECT_NE(got, *body.FloatReferenceFeatures(x));
  // The device's path: the same values, and no allocation.
  std::vector<int8_t> arena(body.FeaturesArenaBytes(32));
  RowMatrixXf into(32, 64);
  const long before = g_allocations.load();
  const Status s = body.FeaturesInto(x.data(), 32, into.data(), arena);
  EXPECT_EQ(g_allocations.load(), before);
  ASSERT_THAT(s, IsOk());
  EXPECT_EQ(into, want);
}

TEST(Int8BodyTest, UncalibratedCallsCalibrateOnTheirOwnInputs) {
  Body body = BundleBody({50, 20}, 2);
  const RowMatrixXf x = Pixels(10, 50, 1);
  const RowMatrixXf implicit = *body.Features(x);
  EXPECT_FALSE(body.calibrated());
  ASSERT_THAT(body.Calibrate(x), IsOk());
  EXPECT_EQ(*body.Features(x), implicit);
}

TEST(Int8BodyTest, ReportsMisuse) {
  Body body = BundleBody({50, 20}, 2);
  std::vector<int8_t> arena(1 << 16);
  RowMatrixXf x = Pixels(4, 50, 1), y(4, 20);
  EXPECT_THAT(body.FeaturesInto(x.data(), 4, y.data(), arena),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(body.Calibrate(RowMatrixXf(0, 50)), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(body.Calibrate(RowMatrixXf(2, 49)), StatusIs(absl::StatusCode::kInvalidArgument));
  RowMatrixXf bad = x;
  bad(1, 3) = NAN;
  EXPECT_THAT(body.Calibrate(bad), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_FALSE(body.calibrated());
  ASSERT_THAT(body.Calibrate(x), IsOk());
  EXPECT_THAT(body.FeaturesInto(x.data(), 4, y.data(), Span<int8_t>(arena.data(), 10)),
              StatusIs(absl::StatusCode::kResourceExhausted));
  EXPECT_THAT(body.FeaturesInto(nullptr, 4, y.data(), arena),
              StatusIs(absl::StatusCode::kInvalidArgument));
  // A float layer after the int8 one: Features mixes, FeaturesInto refuses.
  std::vector<BodyLayer> layers = body.layers();
  layers.push_back(MakeHead({20, 5}, 1).layers[0]);
  Body mixed(layers);
  ASSERT_THAT(mixed.Calibrate(x), IsOk());
  EXPECT_EQ(mixed.int8_runs().size(), 1u);
  EXPECT_EQ(mixed.FeaturesArenaBytes(4), 0);
  EXPECT_THAT(mixed.Features(x), IsOk());
}

}  // namespace
}  // namespace fedtiny::client
