#include "proto/int8_layer_codec.h"

#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "client/core/arena.h"
#include "client/platform/linux/status_bridge.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proto/layer_codec.h"
#include "tools/base/status_matchers.h"

namespace fedtiny {
namespace {

namespace ly = client::layers;
using ::fedtiny::testing::IsOk;
using ::fedtiny::testing::StatusIs;
using ::testing::HasSubstr;

std::vector<float> Random(int64_t n, uint32_t seed, float lo = -1, float hi = 1) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(lo, hi);
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) x = u(rng);
  return v;
}

// Every layer type on 9x7x3 examples (as layer_codec_test), quantized on 40
// random examples.
ly::Int8Network Quantized() {
  ly::Conv2d conv;
  conv.in_channels = 3;
  conv.out_channels = 4;
  conv.window.kernel_h = 3;
  conv.window.kernel_w = 2;
  conv.window.stride_h = 2;
  conv.window.padding = ly::Padding{1, 0, 1, 1};
  conv.activation = ly::Activation::kRelu6;
  conv.params = Random(conv.num_params(), 1);
  ly::DepthwiseConv2d dw;
  dw.in_channels = 4;
  dw.channel_multiplier = 2;
  dw.window.kernel_h = dw.window.kernel_w = 3;
  dw.window.padding = ly::Padding::Symmetric(1);
  dw.activation = ly::Activation::kRelu;
  dw.params = Random(dw.num_params(), 2);
  ly::AvgPool2d avg;
  avg.window.kernel_h = avg.window.kernel_w = 2;
  avg.window.padding = ly::Padding{1, 1, 0, 0};
  avg.count_include_pad = false;
  ly::MaxPool2d max;
  max.window.kernel_h = 2;
  ly::ActivationLayer act;
  act.activation = ly::Activation::kRelu6;
  ly::Dense dense;
  dense.in_features = 8;
  dense.out_features = 5;
  dense.params = Random(dense.num_params(), 3);
  ly::Network net = *ly::Network::Create(
      {9, 7, 3}, {conv, dw, avg, max, act, ly::GlobalAvgPool2d{}, ly::Flatten{}, dense});
  const std::vector<float> examples = Random(40 * 9 * 7 * 3, 4, -2, 3);
  return *ly::QuantizeNetwork(net, examples.data(), 40);
}

v1::Model Encoded(const ly::Int8Network& net) {
  v1::Model m;
  EXPECT_THAT(SetInt8ConvBody(net, m), IsOk());
  return m;
}

std::vector<float> RunInt8(ly::Int8Network net, const std::vector<float>& x, int rows) {
  std::vector<unsigned char> block(static_cast<size_t>(net.ArenaBytes()));
  client::Arena arena(block.data(), block.size());
  EXPECT_TRUE(net.Bind(arena).ok());
  std::vector<float> y(static_cast<size_t>(net.output().size() * rows));
  EXPECT_TRUE(net.Forward(x.data(), rows, y.data()).ok());
  return y;
}

TEST(Int8LayerCodec, RoundTripRunsBitForBit) {
  const ly::Int8Network net = Quantized();
  const v1::Model m = Encoded(net);
  EXPECT_TRUE(HasInt8ConvBody(m));
  EXPECT_EQ(m.layers_size(), 8);
  v1::Model parsed;
  ASSERT_TRUE(parsed.ParseFromString(m.SerializeAsString()));
  absl::StatusOr<ly::Int8Network> back = Int8NetworkFromProto(parsed);
  ASSERT_THAT(back, IsOk());
  // Every field survived: encoding the decoded network gives the same bytes.
  EXPECT_EQ(Encoded(*back).SerializeAsString(), m.SerializeAsString());
  const std::vector<float> x = Random(5 * 9 * 7 * 3, 9, -2, 3);
  EXPECT_EQ(RunInt8(*back, x, 5), RunInt8(net, x, 5));
  // int8 weights are a quarter of the float body's bytes, plus scales and biases.
  EXPECT_EQ(back->weight_bytes(), net.weight_bytes());
  // The float codec refuses it rather than misreading int8 as float.
  EXPECT_THAT(NetworkFromProto(m), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(Int8LayerCodec, RefusesMalformedLayersNamingThem) {
  const v1::Model m = Encoded(Quantized());
  auto expect_refused = [](const v1::Model& bad, const std::string& words) {
    EXPECT_THAT(Int8NetworkFromProto(bad),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(words)))
        << words;
  };
  {
    v1::Model bad = m;
    bad.mutable_layers(0)->clear_output_quant();
    expect_refused(bad, "int8 layer 0 (conv2d): no output_quant");
  }
  {
    v1::Model bad = m;
    bad.mutable_layers(1)->mutable_output_quant()->set_scale(0);
    expect_refused(bad, "int8 layer 1 (depthwise_conv2d): range scale 0");
  }
  {
    v1::Model bad = m;
    bad.mutable_input_quant()->set_zero_point(200);
    expect_refused(bad, "input_quant");
  }
  {
    v1::Model bad = m;
    bad.mutable_layers(7)->mutable_dense()->mutable_weights()->mutable_int8_values()->pop_back();
    expect_refused(bad, "int8 layer 7 (dense): weights need exactly 40 int8 values");
  }
  {
    v1::Model bad = m;
    bad.mutable_layers(7)->mutable_dense()->mutable_weights()->set_channel_scales(
        2, std::numeric_limits<float>::infinity());
    expect_refused(bad, "channel 2's scale");
  }
  {
    v1::Model bad = m;
    bad.mutable_layers(0)->mutable_conv2d()->mutable_bias()->mutable_int32_values()->RemoveLast();
    expect_refused(bad, "channel scales and int32 biases");
  }
  {
    v1::Model bad = m;
    bad.mutable_layers(0)->mutable_conv2d()->mutable_bias()->add_values(1.f);
    expect_refused(bad, "float tensors in the int8 variant");
  }
  {
    v1::Model bad = m;
    bad.mutable_layers(3)->Clear();
    expect_refused(bad, "int8 layer 3: no layer type");
  }
  {  // Shapes must chain: without the global pool, the dense gets the wrong width.
    v1::Model bad = m;
    bad.mutable_layers()->DeleteSubrange(5, 1);
    expect_refused(bad, "dense");
  }
}

}  // namespace
}  // namespace fedtiny
