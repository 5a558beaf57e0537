// Int8Network against (1) the float Network, within a quantization-error bound
// propagated layer by layer, and (2) a naive reference of the same integer
// arithmetic written here (exactly). Networks with every layer type, odd
// sizes, strides, dilations and asymmetric paddings, ReLU6, a depthwise
// multiplier of 2, inputs offset so zero points are far from 0.
//
// The bound, in real units, on the calibration examples themselves (so no
// float value leaves its tensor's calibrated range): the input's rounding is
// half an input step; a convolution or dense output channel o with input
// error e, input step sx, weight step sw[o], output step sy, float weights w
// and `taps` products per output adds up to
//   e * sum|w[o]| + 0.5 * sw[o] * taps * max|x| + 0.5 * sx * sw[o] + sy
// (input error carried; weight rounding; bias rounding; the requantization's
// two roundings, within one step) plus 0.5 * sy for ReLU6's rounded 6; max
// pooling, flatten and ReLU carry e unchanged (1-Lipschitz, and the zero point
// is exactly the real 0); average and global average pooling add half a step
// (the rounded division), a standalone ReLU6 half a step (its rounded 6).
// Clamping to the int8 range moves a value toward its calibrated range, which
// holds the float value, so it adds nothing beyond half a step. The test
// carries this bound per element through the float layers themselves (on
// |w| and on the error bounds); it is rigorous and loose (tens to a thousand
// output steps after a wide dense layer), so the measured error is also held
// to 8 output steps (measured: 1.5 to 4.3).
#include "client/core/layers/int8_network.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "client/core/layers/int8_naive_reference.h"
#include "client/core/layers/network.h"
#include "client/core/testing/counting_malloc.h"
#include "gtest/gtest.h"

namespace fedtiny::client::layers {
namespace {

using ::fedtiny::testing::AllocationCounter;

std::vector<float> Random(int64_t n, float sigma, float offset, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> g(offset, sigma);
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) x = g(rng);
  return v;
}

Window Win(int32_t kh, int32_t kw, int32_t sh, int32_t sw, Padding p, int32_t dh = 1,
           int32_t dw = 1) {
  return Window{kh, kw, sh, sw, dh, dw, p};
}
Window Square(int32_t k, int32_t s, int32_t p) { return Win(k, k, s, s, Padding::Symmetric(p)); }

// Fills every layer's params with N(0, sigma^2 / fan-in) weights and N(0, 0.1)
// biases (sigma^2 = 2: activations neither vanish nor explode).
Network Build(Shape input, std::vector<LayerSpec> layers, uint32_t seed) {
  for (LayerSpec& l : layers) {
    std::visit(
        [&](auto& layer) {
          using T = std::decay_t<decltype(layer)>;
          if constexpr (layer_spec_internal::HasParams<T>::value) {
            int64_t fan_in = 0, channels = 0;
            if constexpr (std::is_same_v<T, Conv2d>) {
              fan_in = int64_t{layer.window.kernel_h} * layer.window.kernel_w * layer.in_channels;
              channels = layer.out_channels;
            } else if constexpr (std::is_same_v<T, DepthwiseConv2d>) {
              fan_in = int64_t{layer.window.kernel_h} * layer.window.kernel_w;
              channels = layer.out_channels();
            } else {
              fan_in = layer.in_features;
              channels = layer.out_features;
            }
            layer.params = Random(layer.num_params(), std::sqrt(2.f / fan_in), 0.f, seed++);
            const std::vector<float> bias = Random(channels, 0.1f, 0.f, seed++);
            std::copy(bias.begin(), bias.end(), layer.params.end() - channels);
          }
        },
        l);
  }
  StatusOr<Network> net = Network::Create(input, std::move(layers));
  EXPECT_TRUE(net.ok()) << net.status().message();
  return *std::move(net);
}

// ---- The float-versus-int8 bound (see the file comment), per output element:
// the float layers themselves carry it, run on error bounds and magnitudes.

// f with every weight replaced by its magnitude times `scale` (per output
// channel, or 1) and zero bias, no activation: applied to an elementwise
// error bound or to |x|, it bounds the layer's linear part.
template <typename Float>
Float AbsLayer(const Float& f, int64_t channels, const std::vector<float>* per_channel) {
  Float a = f;
  a.activation = Activation::kNone;
  const size_t weights = a.params.size() - static_cast<size_t>(channels);
  for (size_t k = 0; k < a.params.size(); ++k) {
    const size_t o = k % static_cast<size_t>(channels);
    a.params[k] = k >= weights ? 0.f
                  : per_channel ? (*per_channel)[o] : std::fabs(a.params[k]);
  }
  return a;
}

// The weighted layer's output bound from its input bound `e` and its int8
// input `xq`.
template <typename Float>
std::vector<float> WeightedBound(const Float& f, const Int8ChannelQuant& q, int64_t channels,
                                 Shape in, Shape out, const std::vector<float>& e,
                                 const std::vector<int8_t>& xq) {
  std::vector<float> half_step(static_cast<size_t>(channels)), x_abs(xq.size());
  for (size_t o = 0; o < half_step.size(); ++o) half_step[o] = 0.5f * q.weight_scales[o];
  for (size_t k = 0; k < xq.size(); ++k) {
    x_abs[k] = std::fabs(q.input.scale * static_cast<float>(xq[k] - q.input.zero_point));
  }
  std::vector<float> carried(static_cast<size_t>(out.size())), rounding(carried.size());
  AbsLayer(f, channels, nullptr).Forward(in, e.data(), carried.data());
  AbsLayer(f, channels, &half_step).Forward(in, x_abs.data(), rounding.data());
  const double requant = f.activation == Activation::kRelu6 ? 1.5 : 1.0;
  for (size_t k = 0; k < carried.size(); ++k) {
    const size_t o = k % static_cast<size_t>(channels);
    carried[k] += rounding[k] + 0.5 * q.input.scale * q.weight_scales[o] +
                  requant * q.output.scale;
  }
  return carried;
}

// Layer i's output bound from its input's `e`; `xq` is its int8 input.
std::vector<float> LayerBound(const Network& f, const Int8Network& q, size_t i,
                              const std::vector<float>& e, const std::vector<int8_t>& xq) {
  const LayerSpec& l = f.layers()[i];
  const Int8LayerSpec& ql = q.layers()[i];
  const Shape in = f.shapes()[i], out = f.shapes()[i + 1];
  const float half = 0.5f * q.quants()[i].scale;
  if (const auto* c = std::get_if<Conv2d>(&l)) {
    return WeightedBound(*c, std::get<Int8Conv2d>(ql).quant, c->out_channels, in, out, e, xq);
  }
  if (const auto* d = std::get_if<DepthwiseConv2d>(&l)) {
    return WeightedBound(*d, std::get<Int8DepthwiseConv2d>(ql).quant, d->out_channels(), in, out,
                         e, xq);
  }
  if (const auto* fc = std::get_if<Dense>(&l)) {
    return WeightedBound(*fc, std::get<Int8Dense>(ql).quant, fc->out_features, in, out, e, xq);
  }
  std::vector<float> y(static_cast<size_t>(out.size()));
  Forward(l, in, e.data(), y.data());  // Pooling, flatten: of the bounds; ReLU: unchanged.
  const auto* a = std::get_if<ActivationLayer>(&l);
  if (std::holds_alternative<AvgPool2d>(l) || std::holds_alternative<GlobalAvgPool2d>(l) ||
      (a != nullptr && a->activation == Activation::kRelu6)) {
    for (float& v : y) v += half;
  }
  return y;
}

// The bound of every output of one example, and the naive reference's output
// on the way (`xq` is the example's int8 input).
std::vector<float> ErrorBound(const Network& f, const Int8Network& q, std::vector<int8_t> xq,
                              std::vector<int8_t>* ref) {
  std::vector<float> e(xq.size(), 0.5f * q.quants()[0].scale);
  for (size_t i = 0; i < f.layers().size(); ++i) {
    e = LayerBound(f, q, i, e, xq);
    xq = RefLayer(q.layers()[i], q.shapes()[i], q.shapes()[i + 1], xq);
  }
  *ref = std::move(xq);
  return e;
}

// ---- The networks.

Padding Pad(int32_t t, int32_t l, int32_t b, int32_t r) { return Padding{t, l, b, r}; }

struct NetCase {
  const char* name;
  Shape input;
  std::vector<LayerSpec> layers;
  float x_offset;
};

std::vector<NetCase> Cases() {
  std::vector<NetCase> cases;
  // Conv (asymmetric padding, stride 2, ReLU6), depthwise x2 (5x3, strides
  // 1 and 2, dilation 2), average pooling counting padding, standalone ReLU6,
  // max pooling (padded), flatten, dense ReLU, standalone ReLU, dense.
  cases.push_back(
      {"every_type", Shape{11, 9, 3},
       {Conv2d{3, 5, Win(3, 3, 2, 2, Pad(1, 0, 1, 1)), Activation::kRelu6, {}},
        DepthwiseConv2d{5, 2, Win(5, 3, 1, 2, Pad(2, 1, 2, 1), 2, 1), Activation::kNone, {}},
        AvgPool2d{Square(3, 1, 1), true}, ActivationLayer{Activation::kRelu6},
        MaxPool2d{Win(2, 3, 1, 2, Pad(1, 1, 0, 0))}, Flatten{},
        Dense{0, 7, Activation::kRelu, {}}, ActivationLayer{Activation::kRelu},
        Dense{7, 5, Activation::kNone, {}}},
       2.5f});
  // Average pooling without counting padding first, pointwise conv, strided
  // depthwise with ReLU6, global average, dense.
  cases.push_back({"pool_first", Shape{13, 7, 2},
                   {AvgPool2d{Square(3, 1, 1), false}, Conv2d{2, 6, Square(1, 1, 0), Activation::kRelu, {}},
                    DepthwiseConv2d{6, 1, Win(3, 3, 3, 2, Pad(1, 1, 0, 1)), Activation::kRelu6, {}},
                    GlobalAvgPool2d{}, Dense{6, 4, Activation::kNone, {}}},
                   -1.5f});
  // Max pooling, flatten, dense with ReLU6, standalone ReLU, dense.
  cases.push_back({"dense_body", Shape{5, 5, 1},
                   {MaxPool2d{Square(3, 2, 1)}, Flatten{}, Dense{9, 6, Activation::kRelu6, {}},
                    ActivationLayer{Activation::kRelu}, Dense{6, 3, Activation::kNone, {}}},
                   1.5f});
  // A convolution whose receptive field (3x3x37 = 333) spans the kernel's
  // 256-element chunks mid-tap and whose 70 outputs span its 64-channel blocks.
  cases.push_back({"wide_conv", Shape{6, 5, 37},
                   {Conv2d{37, 70, Win(3, 3, 1, 2, Pad(1, 0, 1, 2)), Activation::kRelu, {}},
                    GlobalAvgPool2d{}, Dense{70, 3, Activation::kNone, {}}},
                   -0.5f});
  return cases;
}

// Sets the dense in_features after a flatten from the shapes (the case lists
// 0 where it is the flattened size).
std::vector<LayerSpec> FixFeatures(Shape input, std::vector<LayerSpec> layers) {
  Shape s = input;
  for (LayerSpec& l : layers) {
    if (auto* d = std::get_if<Dense>(&l)) {
      if (d->in_features == 0) d->in_features = static_cast<int32_t>(s.size());
      d->params.assign(static_cast<size_t>(d->num_params()), 0.f);
    }
    if (auto* c = std::get_if<Conv2d>(&l)) c->params.assign(static_cast<size_t>(c->num_params()), 0.f);
    if (auto* c = std::get_if<DepthwiseConv2d>(&l)) {
      c->params.assign(static_cast<size_t>(c->num_params()), 0.f);
    }
    StatusOr<Shape> out = OutputShape(l, s);
    EXPECT_TRUE(out.ok()) << out.status().message();
    s = *out;
  }
  return layers;
}

// A bound copy of `net` (its arena in the returned block).
Int8Network BoundCopy(const Int8Network& net, std::vector<unsigned char>& block) {
  block.assign(static_cast<size_t>(net.ArenaBytes()), 0);
  Int8Network n = net;
  Arena arena(block.data(), block.size());
  EXPECT_TRUE(n.Bind(arena).ok());
  return n;
}

TEST(Int8NetworkTest, MatchesFloatWithinBoundAndNaiveReferenceExactly) {
  const int64_t rows = 12;
  uint32_t seed = 100;
  for (NetCase& c : Cases()) {
    SCOPED_TRACE(c.name);
    const Network f = Build(c.input, FixFeatures(c.input, c.layers), seed);
    seed += 50;
    const std::vector<float> x = Random(rows * c.input.size(), 1.f, c.x_offset, seed++);
    StatusOr<Int8Network> q = QuantizeNetwork(f, x.data(), rows);
    ASSERT_TRUE(q.ok()) << q.status().message();
    EXPECT_EQ(q->output(), f.output());
    EXPECT_NE(q->input_quant().zero_point, 0);
    std::vector<unsigned char> block;
    const Int8Network n = BoundCopy(*q, block);

    const int64_t out = f.output().size(), in = c.input.size();
    std::vector<float> want(static_cast<size_t>(rows * out)), got(want.size());
    std::vector<unsigned char> fblock(static_cast<size_t>(f.ArenaBytes()));
    Network fb = f;
    Arena farena(fblock.data(), fblock.size());
    ASSERT_TRUE(fb.Bind(farena).ok());
    ASSERT_TRUE(fb.Forward(x.data(), rows, want.data()).ok());
    ASSERT_TRUE(n.Forward(x.data(), rows, got.data()).ok());

    // The naive integer reference, exactly; Forward is ForwardInt8 between
    // QuantizeInput and DequantizeOutput; the float network within the bound.
    std::vector<int8_t> qx(x.size()), qy(static_cast<size_t>(rows * out));
    QuantizeInput(x.data(), static_cast<int64_t>(x.size()), n.input_quant(), qx.data());
    ASSERT_TRUE(n.ForwardInt8(qx.data(), rows, qy.data()).ok());
    double worst = 0, worst_ratio = 0, loosest = 0;
    for (int64_t r = 0; r < rows; ++r) {
      std::vector<int8_t> ref;
      const std::vector<float> bound = ErrorBound(
          f, n, std::vector<int8_t>(qx.begin() + r * in, qx.begin() + (r + 1) * in), &ref);
      for (int64_t k = 0; k < out; ++k) {
        const size_t at = static_cast<size_t>(r * out + k), kk = static_cast<size_t>(k);
        ASSERT_EQ(int{qy[at]}, int{ref[kk]}) << "row " << r << " output " << k;
        EXPECT_EQ(got[at], n.output_quant().scale * (qy[at] - n.output_quant().zero_point));
        const double err = std::fabs(double{got[at]} - want[at]);
        EXPECT_LE(err, bound[kk] * (1 + 1e-4) + 1e-6) << "row " << r << " output " << k;
        worst = std::max(worst, err);
        worst_ratio = std::max(worst_ratio, err / bound[kk]);
        loosest = std::max(loosest, double{bound[kk]});
      }
    }
    // The worst-case bound above is loose (every rounding at its worst, with
    // aligned signs); in practice a few output steps (measured 1.5 to 4.3).
    EXPECT_LE(worst, 8 * n.output_quant().scale);
    std::printf("%s: max |int8 - float| %.4g (%.2f output steps), largest bound %.4g (%.2f "
                "steps), largest error / bound %.2f\n",
                c.name, worst, worst / n.output_quant().scale, loosest,
                loosest / n.output_quant().scale, worst_ratio);
  }
}

// The reference's requantization against the kernels' on random and tie cases
// (the reference's own double check runs inside RefMultiply).
TEST(Int8NetworkTest, ReferenceRequantizationAgreesWithTheKernels) {
  std::mt19937 rng(3);
  std::uniform_int_distribution<int32_t> any(INT32_MIN, INT32_MAX), small(-70000, 70000);
  std::uniform_int_distribution<int32_t> mult(1 << 30, INT32_MAX);
  std::uniform_int_distribution<int> shift(-31, 30);
  for (int k = 0; k < 20000; ++k) {
    const int32_t x = k % 2 ? any(rng) : small(rng), m = mult(rng);
    const int s = k % 3 ? shift(rng) : -(k % 12);
    ASSERT_EQ(RefMultiply(x, m, s), MultiplyByQuantizedMultiplier(x, m, s)) << x << " " << m << " " << s;
  }
  // Ties: 1/2 rounds up in the high multiply, +-3/2 away from zero in the shift.
  EXPECT_EQ(RefMultiply(1, 1 << 30, 0), 1);
  EXPECT_EQ(RefMultiply(-1, 1 << 30, 0), 0);
  EXPECT_EQ(RefMultiply(3, 1 << 30, -1), 1);    // 3/2 -> 2 (high), 2/2 = 1.
  EXPECT_EQ(RefMultiply(6, 1 << 30, -2), 1);    // 3 / 4 -> 1.
  EXPECT_EQ(RefMultiply(-6, 1 << 30, -2), -1);  // -3 / 4 -> -1.
  EXPECT_EQ(RefMultiply(-12, 1 << 30, -3), -1);  // -6 / 8 -> -1 (-0.75).
  EXPECT_EQ(RefMultiply(-4, 1 << 30, -2), -1);   // -2 / 4 = -0.5 -> -1, away from zero.
  EXPECT_EQ(RefMultiply(4, 1 << 30, -2), 1);     // 0.5 -> 1.
}

// A valid quantized network to break: conv, depthwise, pooling, ReLU6,
// global average, dense.
Int8Network Valid() {
  const Shape in{9, 7, 2};
  const Network f = Build(in,
                          FixFeatures(in, {Conv2d{2, 4, Square(3, 2, 1), Activation::kRelu, {}},
                                           DepthwiseConv2d{4, 2, Square(3, 1, 1), Activation::kNone, {}},
                                           MaxPool2d{Square(2, 1, 0)}, ActivationLayer{Activation::kRelu6},
                                           AvgPool2d{Square(2, 1, 1), false}, GlobalAvgPool2d{},
                                           Flatten{}, Dense{8, 3, Activation::kNone, {}}}),
                          7);
  const std::vector<float> x = Random(4 * in.size(), 1.f, 1.f, 3);
  StatusOr<Int8Network> q = QuantizeNetwork(f, x.data(), 4);
  EXPECT_TRUE(q.ok()) << q.status().message();
  return *std::move(q);
}

TEST(Int8NetworkTest, CreateRefusesEachMalformedPart) {
  const Int8Network good = Valid();
  const Shape in = good.input();
  const Int8Params iq = good.input_quant();
  ASSERT_TRUE(Int8Network::Create(in, iq, good.layers()).ok());
  using Breaker = void (*)(std::vector<Int8LayerSpec>&);
  struct Broken {
    const char* what;
    Breaker breaker;
    const char* where;  // In the message.
    StatusCode code;
  };
  const Broken cases[] = {
      {"conv weights short", [](auto& l) { std::get<Int8Conv2d>(l[0]).weights.pop_back(); },
       "layer 0 (conv2d)", StatusCode::kInvalidArgument},
      {"conv bias short", [](auto& l) { std::get<Int8Conv2d>(l[0]).quant.bias.pop_back(); },
       "layer 0 (conv2d)", StatusCode::kInvalidArgument},
      {"weight scales short",
       [](auto& l) { std::get<Int8Conv2d>(l[0]).quant.weight_scales.pop_back(); },
       "layer 0 (conv2d)", StatusCode::kInvalidArgument},
      {"shifts short", [](auto& l) { std::get<Int8Conv2d>(l[0]).quant.shifts.pop_back(); },
       "layer 0 (conv2d)", StatusCode::kInvalidArgument},
      {"zero weight scale",
       [](auto& l) { std::get<Int8DepthwiseConv2d>(l[1]).quant.weight_scales[3] = 0.f; },
       "layer 1 (depthwise_conv2d)", StatusCode::kInvalidArgument},
      {"NaN weight scale",
       [](auto& l) { std::get<Int8DepthwiseConv2d>(l[1]).quant.weight_scales[0] = NAN; },
       "layer 1 (depthwise_conv2d)", StatusCode::kInvalidArgument},
      {"multiplier overflowing int32 channels",
       [](auto& l) { std::get<Int8DepthwiseConv2d>(l[1]).channel_multiplier = 1 << 30; },
       "layer 1 (depthwise_conv2d)", StatusCode::kInvalidArgument},
      {"multiplier off by one",
       [](auto& l) { std::get<Int8DepthwiseConv2d>(l[1]).quant.multipliers[2] += 1; },
       "layer 1 (depthwise_conv2d)", StatusCode::kInvalidArgument},
      {"shift off by one", [](auto& l) { std::get<Int8Dense>(l[7]).quant.shifts[1] += 1; },
       "layer 7 (dense)", StatusCode::kInvalidArgument},
      {"output scale infinite",
       [](auto& l) { std::get<Int8Dense>(l[7]).quant.output.scale = INFINITY; }, "layer 7 (dense)",
       StatusCode::kInvalidArgument},
      {"dense input params differ",
       [](auto& l) { std::get<Int8Dense>(l[7]).quant.input.zero_point += 1; }, "layer 7 (dense)",
       StatusCode::kInvalidArgument},
      {"dense features", [](auto& l) { std::get<Int8Dense>(l[7]).in_features = 7; },
       "layer 7 (dense)", StatusCode::kInvalidArgument},
      {"pool params differ", [](auto& l) { std::get<Int8MaxPool2d>(l[2]).quant.scale *= 2; },
       "layer 2 (max_pool2d)", StatusCode::kInvalidArgument},
      {"pool zero point 128", [](auto& l) { std::get<Int8MaxPool2d>(l[2]).quant.zero_point = 128; },
       "layer 2 (max_pool2d)", StatusCode::kInvalidArgument},
      {"pool padding = kernel",
       [](auto& l) { std::get<Int8AvgPool2d>(l[4]).window.padding = Padding::Symmetric(2); },
       "layer 4 (avg_pool2d)", StatusCode::kInvalidArgument},
      {"zero stride", [](auto& l) { std::get<Int8Conv2d>(l[0]).window.stride_w = 0; },
       "layer 0 (conv2d)", StatusCode::kInvalidArgument},
      {"empty clamp", [](auto& l) { std::get<Int8Activation>(l[3]).activation_min = 100,
                                    std::get<Int8Activation>(l[3]).activation_max = 99; },
       "layer 3 (activation)", StatusCode::kInvalidArgument},
      {"clamp past 127", [](auto& l) { std::get<Int8Conv2d>(l[0]).quant.activation_max = 128; },
       "layer 0 (conv2d)", StatusCode::kInvalidArgument},
      {"accumulator overflow", [](auto& l) { std::get<Int8Conv2d>(l[0]).quant.bias[1] = INT32_MAX - 5; },
       "layer 0 (conv2d)", StatusCode::kOutOfRange},
  };
  for (const Broken& b : cases) {
    SCOPED_TRACE(b.what);
    std::vector<Int8LayerSpec> layers = good.layers();
    b.breaker(layers);
    StatusOr<Int8Network> n = Int8Network::Create(in, iq, layers);
    ASSERT_FALSE(n.ok());
    EXPECT_EQ(n.status().code(), b.code) << n.status().message();
    EXPECT_NE(n.status().message().find(b.where), std::string::npos) << n.status().message();
  }
  EXPECT_FALSE(Int8Network::Create(in, iq, {}).ok());
  EXPECT_FALSE(Int8Network::Create(Shape{0, 7, 2}, iq, good.layers()).ok());
  EXPECT_FALSE(Int8Network::Create(Shape{9, 7, 3}, iq, good.layers()).ok());
  for (Int8Params p : {Int8Params{0.f, 0}, Int8Params{-1.f, 0}, Int8Params{NAN, 0},
                       Int8Params{iq.scale, -129}}) {
    EXPECT_EQ(Int8Network::Create(in, p, good.layers()).status().code(),
              StatusCode::kInvalidArgument);
  }
}

TEST(Int8NetworkTest, QuantizeNetworkRefusesBadCalibrationAndParameters) {
  const Shape in{5, 5, 1};
  const Network f = Build(in, FixFeatures(in, {Conv2d{1, 2, Square(3, 1, 1), Activation::kRelu, {}},
                                               Flatten{}, Dense{0, 2, Activation::kNone, {}}}),
                          1);
  std::vector<float> x = Random(2 * in.size(), 1.f, 0.f, 2);
  EXPECT_EQ(QuantizeNetwork(f, x.data(), 0).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(QuantizeNetwork(f, nullptr, 2).status().code(), StatusCode::kInvalidArgument);
  x[7] = NAN;
  EXPECT_EQ(QuantizeNetwork(f, x.data(), 2).status().code(), StatusCode::kInvalidArgument);
  x[7] = 0.f;
  ASSERT_TRUE(QuantizeNetwork(f, x.data(), 2).ok());
  // A bias that does not fit int32 at the scale input_scale * weight_scale.
  std::vector<LayerSpec> layers = f.layers();
  Conv2d& conv = std::get<Conv2d>(layers[0]);
  for (size_t k = 0; k + 2 < conv.params.size(); ++k) conv.params[k] *= 1e-6f;
  conv.params.back() = 1e6f;
  StatusOr<Int8Network> q =
      QuantizeNetwork(*Network::Create(in, layers), x.data(), 2);
  EXPECT_EQ(q.status().code(), StatusCode::kOutOfRange);
  EXPECT_NE(q.status().message().find("layer 0 (conv2d)"), std::string::npos);
  // Activations overflowing float.
  conv.params.assign(conv.params.size(), 3e38f);
  q = QuantizeNetwork(*Network::Create(in, layers), x.data(), 2);
  EXPECT_EQ(q.status().code(), StatusCode::kInvalidArgument);
}

TEST(Int8NetworkTest, ArenaIsEnoughAndForwardAllocatesNothing) {
  const Int8Network q = Valid();
  // Tensors 0, 2, 4, ... land in buffer 0, the odd ones in buffer 1.
  int64_t even = 0, odd = 0;
  for (size_t t = 0; t < q.shapes().size(); ++t) {
    (t % 2 ? odd : even) = std::max(t % 2 ? odd : even, q.shapes()[t].size());
  }
  const int64_t bytes = q.ArenaBytes();
  EXPECT_GE(bytes, even + odd);
  EXPECT_LE(bytes, even + odd + 2 * static_cast<int64_t>(Arena::kMinAlign));
  std::vector<unsigned char> block(static_cast<size_t>(bytes) + 1);
  std::vector<float> x = Random(3 * q.input().size(), 1.f, 1.f, 9), y(3 * 3), alone(3);
  std::vector<int8_t> qx(x.size()), qy(y.size());
  Int8Network unbound = q;
  EXPECT_EQ(unbound.Forward(x.data(), 1, y.data()).code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(unbound.ForwardInt8(qx.data(), 1, qy.data()).code(), StatusCode::kFailedPrecondition);
  Arena too_small(block.data(), static_cast<size_t>(even + odd - 1));
  EXPECT_EQ(unbound.Bind(too_small).code(), StatusCode::kResourceExhausted);
  EXPECT_FALSE(unbound.bound());
  EXPECT_EQ(too_small.used(), 0u);
  for (size_t offset : {0, 1}) {
    Int8Network n = q;
    Arena arena(block.data() + offset, static_cast<size_t>(bytes));
    ASSERT_TRUE(n.Bind(arena).ok());
    int64_t allocations = -1;
    {
      AllocationCounter counter;
      const Status a = n.Forward(x.data(), 3, y.data());
      const Status b = n.ForwardInt8(qx.data(), 3, qy.data());
      allocations = counter.count();
      EXPECT_TRUE(a.ok() && b.ok());
    }
    EXPECT_EQ(allocations, 0);
    ASSERT_TRUE(n.Forward(x.data() + 2 * q.input().size(), 1, alone.data()).ok());
    for (int k = 0; k < 3; ++k) EXPECT_EQ(alone[k], y[6 + k]);  // Rows are independent.
    EXPECT_EQ(n.Forward(nullptr, 1, y.data()).code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(n.Forward(x.data(), 0, y.data()).code(), StatusCode::kInvalidArgument);
  }
  // weight_bytes: int8 weights, then an int32 bias and a float scale per channel.
  EXPECT_EQ(q.weight_bytes(), (9 * 2 * 4 + 8 * 4) + (9 * 8 + 8 * 8) + (8 * 3 + 3 * 8));
}

// A DS-CNN-like body on 28x28x1: conv 3x3/2 to 14x14x8, dw 3x3 + pw to 16,
// dw 3x3/2 (ReLU6) + pw to 16, global average, dense to 10.
Network DsCnn(uint32_t seed) {
  const Shape in{28, 28, 1};
  return Build(in,
               FixFeatures(in, {Conv2d{1, 8, Square(3, 2, 1), Activation::kRelu, {}},
                                DepthwiseConv2d{8, 1, Square(3, 1, 1), Activation::kRelu, {}},
                                Conv2d{8, 16, Square(1, 1, 0), Activation::kRelu, {}},
                                DepthwiseConv2d{16, 1, Square(3, 2, 1), Activation::kRelu6, {}},
                                Conv2d{16, 16, Square(1, 1, 0), Activation::kRelu, {}},
                                GlobalAvgPool2d{}, Dense{16, 10, Activation::kNone, {}}}),
               seed);
}

TEST(Int8NetworkTest, DsCnnTopOneAgreesWithFloat) {
  const Network f = DsCnn(11);
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> u(0.f, 1.f);  // Pixel-like inputs.
  const int64_t calib = 32, eval = 200;
  // Each example its own contrast and brightness, so the logits differ
  // between examples (uniform noise alone averages out in the pooling).
  std::vector<float> x(static_cast<size_t>((calib + eval) * 784));
  for (size_t r = 0; r < x.size() / 784; ++r) {
    const float gain = 2 * u(rng), bias = u(rng) - 0.5f;
    for (size_t k = 0; k < 784; ++k) x[r * 784 + k] = bias + gain * u(rng);
  }
  StatusOr<Int8Network> q = QuantizeNetwork(f, x.data(), calib);
  ASSERT_TRUE(q.ok()) << q.status().message();
  std::vector<unsigned char> block;
  const Int8Network n = BoundCopy(*q, block);
  std::vector<unsigned char> fblock(static_cast<size_t>(f.ArenaBytes()));
  Network fb = f;
  Arena farena(fblock.data(), fblock.size());
  ASSERT_TRUE(fb.Bind(farena).ok());
  std::vector<float> want(static_cast<size_t>(eval * 10)), got(want.size());
  const float* held_out = x.data() + calib * 784;  // Not calibrated on.
  ASSERT_TRUE(fb.Forward(held_out, eval, want.data()).ok());
  ASSERT_TRUE(n.Forward(held_out, eval, got.data()).ok());
  int agree = 0;
  double worst = 0;
  std::vector<int> votes(10, 0);  // Float's top-1 classes.
  for (int64_t r = 0; r < eval; ++r) {
    const auto w = want.begin() + r * 10, g = got.begin() + r * 10;
    ++votes[static_cast<size_t>(std::max_element(w, w + 10) - w)];
    agree += std::max_element(w, w + 10) - w == std::max_element(g, g + 10) - g;
    for (int k = 0; k < 10; ++k) worst = std::max(worst, double{std::fabs(w[k] - g[k])});
  }
  std::printf("DS-CNN: int8 top-1 = float top-1 on %d of %lld held-out inputs; max logit error "
              "%.4g (%.2f output steps); weights %lld bytes int8, %lld float\n",
              agree, static_cast<long long>(eval), worst, worst / n.output_quant().scale,
              static_cast<long long>(n.weight_bytes()), static_cast<long long>(f.num_params() * 4));
  const int common = *std::max_element(votes.begin(), votes.end());
  std::printf("DS-CNN: float's most common class on %d inputs\n", common);
  EXPECT_GE(agree, 180);
}

}  // namespace
}  // namespace fedtiny::client::layers
