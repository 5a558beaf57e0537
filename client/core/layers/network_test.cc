// The layer types' shapes, parameter counts and refusals, batch-norm folding's
// checks, and the Network's arena: ArenaBytes() is enough and not more than the
// two ping-pong buffers plus alignment, a smaller arena is kResourceExhausted,
// and Forward() makes no heap allocation (the C allocator itself interposed).
#include "client/core/layers/network.h"

#include <random>
#include <vector>

#include "client/core/layers/batch_norm.h"
#include "client/core/layers/layer_spec.h"
#include "client/core/testing/counting_malloc.h"
#include "gtest/gtest.h"

namespace fedtiny::client::layers {
namespace {

using ::fedtiny::testing::AllocationCounter;

std::vector<float> Random(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> g(0.f, 0.5f);
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) x = g(rng);
  return v;
}

Window Square(int32_t k, int32_t s, int32_t p) {
  Window w;
  w.kernel_h = w.kernel_w = k;
  w.stride_h = w.stride_w = s;
  w.padding = Padding::Symmetric(p);
  return w;
}

// A DS-CNN-like body on 28x28x1: conv 3x3/2 -> 14x14x8, dw 3x3 + pw to 16,
// dw 3x3/2 -> 7x7, pw to 32, global average, dense to 10.
std::vector<LayerSpec> DsCnn() {
  Conv2d conv{1, 8, Square(3, 2, 1), Activation::kRelu, {}};
  DepthwiseConv2d dw1{8, 1, Square(3, 1, 1), Activation::kRelu, {}};
  Conv2d pw1{8, 16, Square(1, 1, 0), Activation::kRelu, {}};
  DepthwiseConv2d dw2{16, 1, Square(3, 2, 1), Activation::kRelu6, {}};
  Conv2d pw2{16, 32, Square(1, 1, 0), Activation::kRelu, {}};
  Dense fc{32, 10, Activation::kNone, {}};
  std::vector<LayerSpec> layers = {conv, dw1, pw1, dw2, pw2, GlobalAvgPool2d{}, Flatten{}, fc};
  uint32_t seed = 1;
  for (LayerSpec& l : layers) {
    std::visit(
        [&](auto& layer) {
          if constexpr (layer_spec_internal::HasParams<std::decay_t<decltype(layer)>>::value) {
            layer.params = Random(layer.num_params(), seed++);
          }
        },
        l);
  }
  return layers;
}

TEST(NetworkTest, ShapesAndParameterCounts) {
  StatusOr<Network> net = Network::Create(Shape{28, 28, 1}, DsCnn());
  ASSERT_TRUE(net.ok()) << net.status().message();
  const std::vector<Shape>& s = net->shapes();
  EXPECT_EQ(s[1], (Shape{14, 14, 8}));
  EXPECT_EQ(s[2], (Shape{14, 14, 8}));
  EXPECT_EQ(s[3], (Shape{14, 14, 16}));
  EXPECT_EQ(s[4], (Shape{7, 7, 16}));
  EXPECT_EQ(s[5], (Shape{7, 7, 32}));
  EXPECT_EQ(net->output(), (Shape{1, 1, 10}));
  // conv 9*8+8, dw 9*8+8, pw 8*16+16, dw 9*16+16, pw 16*32+32, dense 32*10+10.
  EXPECT_EQ(net->num_params(), 80 + 80 + 144 + 160 + 544 + 330);
  EXPECT_EQ(NumParams(net->layers()[0]), 80);
  EXPECT_EQ(Params(net->layers()[0]).size(), 80u);
  EXPECT_TRUE(Params(net->layers()[5]).empty());
  EXPECT_STREQ(LayerName(net->layers()[1]), "depthwise_conv2d");
}

TEST(NetworkTest, RefusesMismatchedLayers) {
  std::vector<LayerSpec> layers = DsCnn();
  std::get<Conv2d>(layers[2]).in_channels = 7;
  StatusOr<Network> net = Network::Create(Shape{28, 28, 1}, layers);
  ASSERT_FALSE(net.ok());
  EXPECT_EQ(net.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(net.status().message().find("layer 2 (conv2d)"), std::string::npos);

  layers = DsCnn();
  std::get<Conv2d>(layers[0]).params.pop_back();
  EXPECT_FALSE(Network::Create(Shape{28, 28, 1}, layers).ok());
  EXPECT_FALSE(Network::Create(Shape{28, 28, 1}, {}).ok());
  EXPECT_FALSE(Network::Create(Shape{0, 28, 1}, DsCnn()).ok());
  // A window larger than the padded input, a zero stride.
  EXPECT_FALSE(MaxPool2d{Square(5, 1, 0)}.OutputShape(Shape{4, 9, 1}).ok());
  EXPECT_FALSE(AvgPool2d{Square(3, 0, 1)}.OutputShape(Shape{4, 9, 1}).ok());
  // Pooling padding must stay under the kernel, and pooling has no dilation.
  EXPECT_FALSE(MaxPool2d{Square(2, 1, 2)}.OutputShape(Shape{9, 9, 1}).ok());
  Window dilated = Square(3, 1, 1);
  dilated.dilation_h = 2;
  EXPECT_FALSE(AvgPool2d{dilated}.OutputShape(Shape{9, 9, 1}).ok());
  EXPECT_FALSE((Dense{5, 2, Activation::kNone, Random(12, 1)}.OutputShape(Shape{1, 2, 3}).ok()));
  EXPECT_TRUE((Dense{6, 2, Activation::kNone, Random(14, 1)}.OutputShape(Shape{1, 2, 3}).ok()));
}

TEST(NetworkTest, SamePaddingKeepsCeilOfInputOverStride) {
  for (int32_t in : {5, 6, 7, 28}) {
    for (int32_t k : {1, 3, 5}) {
      for (int32_t s : {1, 2, 3}) {
        const AxisPadding p = SamePadding(in, k, s);
        EXPECT_EQ(WindowOutput(in, p.before, p.after, k, s, 1), (in + s - 1) / s);
        EXPECT_LE(p.before, p.after);
      }
    }
  }
  EXPECT_EQ(SamePadding(28, 3, 2).before, 0);  // TensorFlow: the odd cell after.
  EXPECT_EQ(SamePadding(28, 3, 2).after, 1);
}

TEST(NetworkTest, ArenaIsEnoughAndNotMore) {
  StatusOr<Network> net = Network::Create(Shape{28, 28, 1}, DsCnn());
  ASSERT_TRUE(net.ok());
  // The ping buffer holds the even layers' outputs (largest 14x14x16 = 3136
  // floats), the pong buffer the odd ones' (14x14x8 = 1568).
  const int64_t buffers = (3136 + 1568) * 4;
  const int64_t bytes = net->ArenaBytes();
  EXPECT_GE(bytes, buffers);
  EXPECT_LE(bytes, buffers + 2 * static_cast<int64_t>(Arena::kMinAlign));

  std::vector<unsigned char> block(static_cast<size_t>(bytes) + 1);
  for (size_t offset : {0, 1}) {  // Any alignment of the block.
    Network n = *net;
    Arena arena(block.data() + offset, static_cast<size_t>(bytes));
    EXPECT_TRUE(n.Bind(arena).ok());
    EXPECT_LE(arena.used(), static_cast<size_t>(bytes));
  }
  Network small = *net;
  Arena too_small(block.data(), static_cast<size_t>(buffers - 4));
  const Status s = small.Bind(too_small);
  EXPECT_EQ(s.code(), StatusCode::kResourceExhausted);
  EXPECT_FALSE(small.bound());
  EXPECT_EQ(too_small.used(), 0u);  // Unchanged on error.
  std::vector<float> x(784), y(10);
  EXPECT_EQ(small.Forward(x.data(), 1, y.data()).code(), StatusCode::kFailedPrecondition);
}

TEST(NetworkTest, ForwardAllocatesNothingAndRowsAreIndependent) {
  StatusOr<Network> net = Network::Create(Shape{28, 28, 1}, DsCnn());
  ASSERT_TRUE(net.ok());
  std::vector<unsigned char> block(static_cast<size_t>(net->ArenaBytes()));
  Arena arena(block.data(), block.size());
  ASSERT_TRUE(net->Bind(arena).ok());
  const int64_t rows = 3;
  const std::vector<float> x = Random(rows * 784, 7);
  std::vector<float> y(rows * 10);
  int64_t allocations = -1;
  {
    AllocationCounter counter;
    const Status s = net->Forward(x.data(), rows, y.data());
    allocations = counter.count();
    EXPECT_TRUE(s.ok());
  }
  EXPECT_EQ(allocations, 0);
  // Row 2 alone gives the same as within the batch (no state between rows).
  std::vector<float> alone(10);
  ASSERT_TRUE(net->Forward(x.data() + 2 * 784, 1, alone.data()).ok());
  for (int k = 0; k < 10; ++k) EXPECT_EQ(alone[k], y[20 + k]);
  EXPECT_EQ(net->Forward(nullptr, 1, y.data()).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(net->Forward(x.data(), 0, y.data()).code(), StatusCode::kInvalidArgument);
}

TEST(BatchNormTest, FoldRefusesMismatchedStatisticsAndLeavesTheLayer) {
  Conv2d conv{2, 3, Square(3, 1, 1), Activation::kNone, Random(57, 3)};
  const std::vector<float> before = conv.params;
  const std::vector<float> one(3, 1.f), zero(3, 0.f), two(2, 1.f), negative(3, -1.f);
  EXPECT_EQ(FoldBatchNorm(BatchNorm{two, zero, zero, one, 1e-5f}, conv).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(FoldBatchNorm(BatchNorm{one, zero, zero, negative, 1e-5f}, conv).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(conv.params, before);
  // The identity norm (gamma 1, beta 0, mean 0, var 1 - eps) changes nothing.
  const std::vector<float> var(3, 1.f - 1e-3f);
  ASSERT_TRUE(FoldBatchNorm(BatchNorm{one, zero, zero, var, 1e-3f}, conv).ok());
  for (size_t k = 0; k < before.size(); ++k) EXPECT_NEAR(conv.params[k], before[k], 1e-6f);
}

}  // namespace
}  // namespace fedtiny::client::layers
