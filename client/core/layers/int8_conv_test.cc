// The int8 convolutions against the float layers (which layers_torch_test
// checks against PyTorch) within the quantization error, on random inputs
// for odd sizes, strides, dilations and asymmetric paddings, with inputs
// whose zero point is far from 0 (so a padded cell taken as q = 0 instead of
// the zero point would show at the borders).
//
// Two checks per output: (1) against the float layer run on the dequantized
// input, weights and bias, the integer result is that value requantized, within
// one output step (the fixed-point multiply rounds twice): this checks the
// integer arithmetic itself (zero points, padding, per-channel scales); (2)
// against the float layer on the real values, within the quantization error.
// The bound for (2) per output channel o, in real units: the output's rounding
// and requantization (1 step, plus half a step where ReLU6's 6 is rounded),
// half an input step times sum |w[., o]|, half a weight step times max |x| per
// tap, their product, and the bias's rounding.
#include "client/core/layers/int8_conv.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "client/core/layers/torch_cases.h"
#include "gtest/gtest.h"

namespace fedtiny::client::layers {
namespace {

struct Case {
  Shape in;
  int32_t out_channels;  // Conv2d; the multiplier for depthwise.
  int32_t kh, kw, sh, sw, dh, dw;
  Padding pad;
  Activation act;
  float x_offset;  // Added to N(0, 1) inputs.
};

const Case kCases[] = {
    {{7, 5, 3}, 4, 3, 3, 1, 1, 1, 1, {1, 1, 1, 1}, Activation::kNone, 0.f},
    {{9, 7, 2}, 5, 3, 3, 2, 2, 1, 1, {0, 1, 1, 0}, Activation::kRelu, 2.5f},
    {{11, 9, 3}, 3, 5, 3, 3, 2, 2, 1, {2, 1, 1, 2}, Activation::kRelu6, -1.5f},
    {{5, 7, 6}, 8, 1, 1, 1, 1, 1, 1, {0, 0, 0, 0}, Activation::kRelu, 3.f},
    {{13, 11, 4}, 1, 5, 5, 3, 2, 2, 2, {2, 0, 3, 1}, Activation::kRelu6, 1.f},
};

Window WindowOf(const Case& c) { return Window{c.kh, c.kw, c.sh, c.sw, c.dh, c.dw, c.pad}; }

std::vector<float> Random(int64_t n, float sigma, float offset, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> g(offset, sigma);
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) x = g(rng);
  return v;
}

std::pair<float, float> Range(const std::vector<float>& v) {
  auto [lo, hi] = std::minmax_element(v.begin(), v.end());
  return {*lo, *hi};
}

// The error bound for output channel o (see the file comment); `taps` weights
// per output channel, their absolute sum `w_abs`.
double Bound(const Int8ChannelQuant& q, size_t o, double w_abs, double x_max, int64_t taps,
             Activation act) {
  const double sx = q.input.scale, sw = q.weight_scales[o], sy = q.output.scale;
  return sy * (act == Activation::kRelu6 ? 1.5 : 1.0) + 0.5 * sx * w_abs + 0.5 * sw * x_max * taps +
         0.25 * sx * sw * taps + 0.5 * sx * sw + 1e-6;
}

// The int8 weight at index k of the float layer's weight layout.
int8_t QWeight(const Int8Conv2d& q, size_t k) {  // HWIO -> OHWI.
  const size_t co = static_cast<size_t>(q.out_channels), per_output = q.weights.size() / co;
  return q.weights[(k % co) * per_output + k / co];
}
int8_t QWeight(const Int8DepthwiseConv2d& q, size_t k) { return q.weights[k]; }

// Runs the float layer and its int8 version on one random example and checks
// every output within the bounds; returns the largest error against the float
// layer in output steps, and raises *worst_int to the largest difference (in
// steps) from the requantized dequantized reference.
template <typename FloatLayer, typename QuantizeFn>
double CheckAgainstFloat(const FloatLayer& layer, const Case& c, int64_t taps, QuantizeFn quantize,
                         uint32_t seed, double* worst_int) {
  const std::vector<float> x = Random(c.in.size(), 1.f, c.x_offset, seed);
  StatusOr<Shape> out = layer.OutputShape(c.in);
  EXPECT_TRUE(out.ok()) << out.status().message();
  std::vector<float> want(static_cast<size_t>(out->size()));
  layer.Forward(c.in, x.data(), want.data());
  const auto [xlo, xhi] = Range(x);
  const auto [ylo, yhi] = Range(want);
  const Int8Params in_params = Int8ParamsForRange(xlo, xhi);
  auto q = quantize(layer, in_params, Int8ParamsForRange(ylo, yhi));
  EXPECT_TRUE(q.ok()) << q.status().message();
  EXPECT_TRUE(q->OutputShape(c.in).ok());
  EXPECT_EQ(*q->OutputShape(c.in), *out);
  std::vector<int8_t> qx(x.size()), qy(want.size());
  QuantizeInput(x.data(), static_cast<int64_t>(x.size()), in_params, qx.data());
  q->Forward(c.in, qx.data(), qy.data());
  std::vector<float> got(qy.size());
  DequantizeOutput(qy.data(), static_cast<int64_t>(qy.size()), q->quant.output, got.data());

  const size_t channels = static_cast<size_t>(out->c);
  const size_t weight_count = layer.params.size() - channels;
  // (1) The float layer on the dequantized values, requantized.
  FloatLayer dequantized = layer;
  dequantized.activation = Activation::kNone;  // The clamp below is the int8 activation.
  for (size_t k = 0; k < weight_count; ++k) {
    dequantized.params[k] = QWeight(*q, k) * q->quant.weight_scales[k % channels];
  }
  for (size_t o = 0; o < channels; ++o) {
    dequantized.params[weight_count + o] =
        static_cast<float>(double{q->quant.bias[o]} * in_params.scale * q->quant.weight_scales[o]);
  }
  std::vector<float> dx(x.size()), ref(want.size());
  DequantizeOutput(qx.data(), static_cast<int64_t>(qx.size()), in_params, dx.data());
  dequantized.Forward(c.in, dx.data(), ref.data());
  for (size_t k = 0; k < ref.size(); ++k) {
    const Int8ChannelQuant& qq = q->quant;
    const double r = std::round(ref[k] / qq.output.scale) + qq.output.zero_point;
    const double expected =
        std::min<double>(qq.activation_max, std::max<double>(qq.activation_min, r));
    EXPECT_LE(std::fabs(qy[k] - expected), 1.0) << "output " << k << ": integer arithmetic";
    *worst_int = std::max(*worst_int, std::fabs(qy[k] - expected));
  }
  // (2) Against the float layer on the real values.
  std::vector<double> w_abs(channels, 0);
  for (size_t k = 0; k < weight_count; ++k) w_abs[k % channels] += std::fabs(layer.params[k]);
  const double x_max = std::max(std::fabs(xlo), std::fabs(xhi));
  double worst_steps = 0;
  for (size_t k = 0; k < got.size(); ++k) {
    const size_t o = k % channels;
    const double err = std::fabs(double{got[k]} - want[k]);
    EXPECT_LE(err, Bound(q->quant, o, w_abs[o], x_max, taps, layer.activation))
        << "output " << k << " channel " << o;
    worst_steps = std::max(worst_steps, err / q->quant.output.scale);
  }
  return worst_steps;
}

TEST(Int8ConvTest, Conv2dWithinQuantizationErrorOfFloat) {
  uint32_t seed = 1;
  double worst = 0, worst_int = 0;
  for (const Case& c : kCases) {
    Conv2d layer{c.in.c, c.out_channels, WindowOf(c), c.act, {}};
    layer.params = Random(layer.num_params(), 0.4f, 0.f, seed++);
    const int64_t taps = int64_t{c.kh} * c.kw * c.in.c;
    worst = std::max(worst, CheckAgainstFloat(layer, c, taps, QuantizeConv2d, seed++, &worst_int));
  }
  std::printf(
      "int8 conv2d: vs float %.2f output steps, vs dequantized reference "
      "%.0f\n",
      worst, worst_int);
}

TEST(Int8ConvTest, DepthwiseWithinQuantizationErrorOfFloat) {
  uint32_t seed = 100;
  double worst = 0, worst_int = 0;
  for (const Case& c : kCases) {
    const int32_t multiplier = c.out_channels % 2 == 0 ? 2 : 1;
    DepthwiseConv2d layer{c.in.c, multiplier, WindowOf(c), c.act, {}};
    layer.params = Random(layer.num_params(), 0.4f, 0.f, seed++);
    const int64_t taps = int64_t{c.kh} * c.kw;
    worst = std::max(
        worst, CheckAgainstFloat(layer, c, taps, QuantizeDepthwiseConv2d, seed++, &worst_int));
  }
  std::printf(
      "int8 depthwise_conv2d: vs float %.2f output steps, vs dequantized "
      "reference %.0f\n",
      worst, worst_int);
}

// The int8 output, dequantized, against PyTorch's float64 output within the
// quantization error (the ranges from the case's input and PyTorch's output);
// returns the largest error in output steps.
template <typename FloatLayer, typename QuantizeFn>
double CheckAgainstTorch(const TorchCase& c, const FloatLayer& layer, int64_t taps,
                         QuantizeFn quantize) {
  const std::vector<float>& x = c.f("x");
  const std::vector<float>& want = c.f("y");
  const auto [xlo, xhi] = Range(x);
  const auto [ylo, yhi] = Range(want);
  const Int8Params in_params = Int8ParamsForRange(xlo, xhi);
  auto q = quantize(layer, in_params, Int8ParamsForRange(ylo, yhi));
  EXPECT_TRUE(q.ok()) << c.name << ": " << q.status().message();
  if (!q.ok()) return 0;
  EXPECT_EQ(q->OutputShape(InShape(c))->size(), static_cast<int64_t>(want.size())) << c.name;
  std::vector<int8_t> qx(x.size()), qy(want.size());
  QuantizeInput(x.data(), static_cast<int64_t>(x.size()), in_params, qx.data());
  q->Forward(InShape(c), qx.data(), qy.data());
  std::vector<float> got(qy.size());
  DequantizeOutput(qy.data(), static_cast<int64_t>(qy.size()), q->quant.output, got.data());
  const size_t channels = q->quant.bias.size(), weight_count = layer.params.size() - channels;
  std::vector<double> w_abs(channels, 0);
  for (size_t k = 0; k < weight_count; ++k) w_abs[k % channels] += std::fabs(layer.params[k]);
  const double x_max = std::max(std::fabs(xlo), std::fabs(xhi));
  double worst = 0;
  for (size_t k = 0; k < got.size(); ++k) {
    const size_t o = k % channels;
    const double err = std::fabs(double{got[k]} - want[k]);
    EXPECT_LE(err, Bound(q->quant, o, w_abs[o], x_max, taps, layer.activation))
        << c.name << " output " << k;
    worst = std::max(worst, err / q->quant.output.scale);
  }
  return worst;
}

TEST(Int8ConvTest, TorchCasesWithinQuantizationError) {
  const char* srcdir = std::getenv("TEST_SRCDIR");
  const char* ws = std::getenv("TEST_WORKSPACE");
  const std::string root = srcdir ? std::string(srcdir) + "/" + (ws ? ws : "__main__") + "/" : "";
  std::string error;
  const std::vector<TorchCase> cases =
      ReadTorchCases(root + "client/core/layers/testdata/torch_cases.txt", &error);
  ASSERT_TRUE(error.empty()) << error;
  double worst_conv = 0, worst_dw = 0;
  int checked = 0;
  for (const TorchCase& c : cases) {
    if (c.type == "conv2d") {
      const Conv2d layer = ConvOf(c);
      const int64_t taps =
          int64_t{layer.window.kernel_h} * layer.window.kernel_w * layer.in_channels;
      worst_conv = std::max(worst_conv, CheckAgainstTorch(c, layer, taps, QuantizeConv2d));
      ++checked;
    } else if (c.type == "depthwise_conv2d") {
      const DepthwiseConv2d layer = DepthwiseOf(c);
      const int64_t taps = int64_t{layer.window.kernel_h} * layer.window.kernel_w;
      worst_dw = std::max(worst_dw, CheckAgainstTorch(c, layer, taps, QuantizeDepthwiseConv2d));
      ++checked;
    }
  }
  EXPECT_GE(checked, 8);
  std::printf("int8 vs PyTorch: conv2d %.2f output steps, depthwise_conv2d %.2f\n", worst_conv,
              worst_dw);
}

TEST(Int8ConvTest, RefusesBadParameters) {
  Conv2d layer{2, 3, Window{3, 3, 1, 1, 1, 1, Padding::Symmetric(1)}, Activation::kNone, {}};
  layer.params = Random(layer.num_params(), 0.4f, 0.f, 9);
  const Int8Params ok{0.05f, 0};
  EXPECT_EQ(QuantizeConv2d(layer, Int8Params{0.f, 0}, ok).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(QuantizeConv2d(layer, ok, Int8Params{0.05f, 200}).status().code(),
            StatusCode::kInvalidArgument);
  // A bias far past what int32 holds at this scale.
  layer.params.back() = 1e30f;
  EXPECT_EQ(QuantizeConv2d(layer, Int8Params{1e-20f, 0}, ok).status().code(),
            StatusCode::kOutOfRange);
  layer.params.back() = NAN;
  EXPECT_EQ(QuantizeConv2d(layer, ok, ok).status().code(), StatusCode::kInvalidArgument);
  layer.params.pop_back();
  EXPECT_EQ(QuantizeConv2d(layer, ok, ok).status().code(), StatusCode::kInvalidArgument);
}

TEST(Int8ConvTest, WeightsArePerChannelSymmetric) {
  DepthwiseConv2d layer{
      2, 1, Window{1, 1, 1, 1, 1, 1, Padding{}}, Activation::kNone, {0.5f, -2.f, 0.f, 0.f}};
  StatusOr<Int8DepthwiseConv2d> q = QuantizeDepthwiseConv2d(layer, {0.1f, 0}, {0.1f, 0});
  ASSERT_TRUE(q.ok());
  EXPECT_EQ(q->weights, (std::vector<int8_t>{127, -127}));
  // Conv2d's weights go to OHWI: HWIO (1x1, in 2, out 3) w[i][o] = 10 * i + o.
  Conv2d conv{2, 3, Window{}, Activation::kNone, {0, 1, 2, 10, 11, 12, 0, 0, 0}};
  StatusOr<Int8Conv2d> qc = QuantizeConv2d(conv, {0.1f, 0}, {0.1f, 0});
  ASSERT_TRUE(qc.ok());
  for (int o = 0; o < 3; ++o) {
    for (int i = 0; i < 2; ++i) {
      EXPECT_NEAR(qc->weights[o * 2 + i] * qc->quant.weight_scales[o], 10.f * i + o, 0.05f);
    }
  }
  EXPECT_FLOAT_EQ(q->quant.weight_scales[0], 0.5f / 127);
  EXPECT_FLOAT_EQ(q->quant.weight_scales[1], 2.f / 127);
}

}  // namespace
}  // namespace fedtiny::client::layers
