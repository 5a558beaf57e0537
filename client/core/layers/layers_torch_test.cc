// Every layer type's forward against PyTorch's (issue 16's bar): the cases in
// testdata/torch_cases.txt (torch_cases.py: random inputs and parameters, odd
// sizes, strides, dilations, asymmetric paddings; PyTorch's output in float64)
// run through the core's layers, each output within 1e-5, relative above 1.
// Prints the largest error per type (docs/models.md quotes them).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "client/core/layers/batch_norm.h"
#include "client/core/layers/layer_spec.h"
#include "client/core/layers/network.h"
#include "client/core/layers/torch_cases.h"
#include "gtest/gtest.h"

namespace fedtiny::client::layers {
namespace {

constexpr float kTolerance = 1e-5f;

std::string CasesPath() {
  const char* srcdir = std::getenv("TEST_SRCDIR");
  const char* ws = std::getenv("TEST_WORKSPACE");
  std::string root = srcdir ? std::string(srcdir) + "/" + (ws ? ws : "__main__") + "/" : "";
  return root + "client/core/layers/testdata/torch_cases.txt";
}

// The layer a single-layer case describes (its batch norm folded in).
LayerSpec LayerOf(const TorchCase& c) {
  const std::string& t = c.type;
  if (t == "conv2d") return ConvOf(c);
  if (t == "depthwise_conv2d") return DepthwiseOf(c);
  if (t == "dense") return DenseOf(c);
  if (t == "avg_pool2d") return AvgPool2d{WindowOf(c), c.i("count_include_pad")[0] != 0};
  if (t == "max_pool2d") return MaxPool2d{WindowOf(c)};
  if (t == "global_avg_pool2d") return GlobalAvgPool2d{};
  if (t == "flatten") return Flatten{};
  if (t == "activation") return ActivationLayer{ActOf(c)};
  if (t == "conv2d_bn") {
    Conv2d l = ConvOf(c);
    EXPECT_TRUE(FoldBatchNorm(BnOf(c), l).ok());
    return l;
  }
  if (t == "depthwise_conv2d_bn") {
    DepthwiseConv2d l = DepthwiseOf(c);
    EXPECT_TRUE(FoldBatchNorm(BnOf(c), l).ok());
    return l;
  }
  Dense l = DenseOf(c);  // dense_bn
  EXPECT_EQ(t, "dense_bn");
  EXPECT_TRUE(FoldBatchNorm(BnOf(c), l).ok());
  return l;
}

// The small DS-CNN of torch_cases.py's network_case.
Network NetworkOf(const TorchCase& c) {
  auto window = [](int32_t k, int32_t s, int32_t p) {
    Window w;
    w.kernel_h = w.kernel_w = k;
    w.stride_h = w.stride_w = s;
    w.padding = Padding::Symmetric(p);
    return w;
  };
  Conv2d conv{1, 4, window(3, 2, 1), Activation::kRelu, c.f("p0")};
  DepthwiseConv2d dw{4, 1, window(3, 1, 1), Activation::kRelu6, c.f("p1")};
  Conv2d pw{4, 6, window(1, 1, 0), Activation::kRelu, c.f("p2")};
  Dense fc{6, 5, Activation::kNone, c.f("p3")};
  EXPECT_TRUE(FoldBatchNorm(BnOf(c, "0"), conv).ok());
  EXPECT_TRUE(FoldBatchNorm(BnOf(c, "1"), dw).ok());
  EXPECT_TRUE(FoldBatchNorm(BnOf(c, "2"), pw).ok());
  StatusOr<Network> net =
      Network::Create(InShape(c), {conv, dw, pw, MaxPool2d{window(3, 2, 1)},
                                   AvgPool2d{window(2, 1, 0), true}, GlobalAvgPool2d{}, fc});
  EXPECT_TRUE(net.ok()) << net.status().message();
  return *std::move(net);
}

// The largest |got - want| / max(1, |want|).
double MaxError(const std::vector<float>& got, const std::vector<float>& want) {
  double worst = 0;
  for (size_t k = 0; k < got.size(); ++k) {
    const double d =
        std::fabs(double{got[k]} - want[k]) / std::max(1.0, std::fabs(double{want[k]}));
    worst = std::max(worst, std::isnan(d) ? 1e30 : d);
  }
  return worst;
}

std::vector<float> RunNetwork(const TorchCase& c) {
  Network net = NetworkOf(c);
  std::vector<unsigned char> block(static_cast<size_t>(net.ArenaBytes()));
  Arena arena(block.data(), block.size());
  EXPECT_TRUE(net.Bind(arena).ok());
  const int32_t rows = c.i("rows")[0];
  std::vector<float> y(static_cast<size_t>(rows * net.output().size()));
  EXPECT_TRUE(net.Forward(c.f("x").data(), rows, y.data()).ok());
  return y;
}

std::vector<float> RunLayer(const TorchCase& c) {
  const LayerSpec layer = LayerOf(c);
  StatusOr<Shape> out = OutputShape(layer, InShape(c));
  EXPECT_TRUE(out.ok()) << c.name << ": " << out.status().message();
  if (!out.ok()) return {};
  EXPECT_EQ(static_cast<int64_t>(c.f("x").size()), InShape(c).size()) << c.name;
  std::vector<float> y(static_cast<size_t>(out->size()), -12345.f);
  Forward(layer, InShape(c), c.f("x").data(), y.data());
  return y;
}

TEST(LayersTorchTest, EveryCaseMatchesPyTorch) {
  std::string error;
  const std::vector<TorchCase> cases = ReadTorchCases(CasesPath(), &error);
  ASSERT_TRUE(error.empty()) << error;
  ASSERT_GE(cases.size(), 20u);
  std::map<std::string, double> worst;  // By type.
  for (const TorchCase& c : cases) {
    const std::vector<float> y = c.type == "network" ? RunNetwork(c) : RunLayer(c);
    ASSERT_EQ(y.size(), c.f("y").size()) << c.name;
    const double err = MaxError(y, c.f("y"));
    EXPECT_LE(err, kTolerance) << c.name;
    worst[c.type] = std::max(worst[c.type], err);
  }
  for (const char* type :
       {"conv2d", "depthwise_conv2d", "avg_pool2d", "max_pool2d", "global_avg_pool2d", "flatten",
        "activation", "dense", "conv2d_bn", "depthwise_conv2d_bn", "dense_bn", "network"}) {
    ASSERT_EQ(worst.count(type), 1u) << "no case of type " << type;
    std::printf("max error vs PyTorch, %-20s %.3g\n", type, worst[type]);
  }
}

}  // namespace
}  // namespace fedtiny::client::layers
