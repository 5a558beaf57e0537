#include "proto/layer_codec.h"

#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "client/core/arena.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tools/base/status_matchers.h"
#include "client/platform/linux/status_bridge.h"

namespace fedtiny {
namespace {

namespace ly = client::layers;
using ::fedtiny::testing::IsOk;
using ::fedtiny::testing::StatusIs;
using ::fedtiny::testing::IsOk;
using ::fedtiny::testing::StatusIs;
using ::testing::HasSubstr;

std::vector<float> Random(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-1, 1);
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) x = u(rng);
  return v;
}

// One layer of every type, chained on a 9x7x3 input.
std::vector<ly::LayerSpec> EveryType() {
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
  dw.window.kernel_h = 3;
  dw.window.kernel_w = 3;
  dw.window.dilation_w = 2;
  dw.window.padding = ly::Padding::Symmetric(2);
  dw.activation = ly::Activation::kRelu;
  dw.params = Random(dw.num_params(), 2);
  ly::AvgPool2d avg;
  avg.window.kernel_h = 2;
  avg.window.kernel_w = 2;
  avg.window.padding = ly::Padding{1, 1, 0, 0};
  avg.count_include_pad = false;
  ly::MaxPool2d max;
  max.window.kernel_h = 2;
  max.window.kernel_w = 1;
  ly::ActivationLayer act;
  act.activation = ly::Activation::kRelu;
  ly::Dense dense;
  dense.in_features = 8;
  dense.out_features = 5;
  dense.activation = ly::Activation::kRelu6;
  dense.params = Random(dense.num_params(), 3);
  return {conv, dw, avg, max, act, ly::GlobalAvgPool2d{}, ly::Flatten{}, dense};
}

v1::Model ModelOf(const std::vector<ly::LayerSpec>& layers) {
  v1::Model m;
  SetConvBody(ly::Shape{9, 7, 3}, layers, m);
  return m;
}

std::vector<float> Forward1(const ly::Network& net, const std::vector<float>& x) {
  ly::Network bound = net;
  std::vector<unsigned char> block(static_cast<size_t>(bound.ArenaBytes()));
  client::Arena arena(block.data(), block.size());
  EXPECT_TRUE(bound.Bind(arena).ok());
  std::vector<float> y(static_cast<size_t>(bound.output().size()));
  EXPECT_TRUE(bound.Forward(x.data(), 1, y.data()).ok());
  return y;
}

TEST(LayerCodec, EveryTypeRoundTripsExactly) {
  const std::vector<ly::LayerSpec> layers = EveryType();
  const v1::Model m = ModelOf(layers);
  ASSERT_EQ(m.layers_size(), static_cast<int>(layers.size()));
  EXPECT_EQ(m.input_dim(), 9 * 7 * 3);
  for (size_t i = 0; i < layers.size(); ++i) {
    absl::StatusOr<ly::LayerSpec> back = LayerFromProto(m.layers(static_cast<int>(i)), i);
    ASSERT_THAT(back, IsOk());
    EXPECT_STREQ(ly::LayerName(*back), ly::LayerName(layers[i]));
    const client::Span<const float> a = ly::Params(*back), b = ly::Params(layers[i]);
    EXPECT_EQ(std::vector<float>(a.begin(), a.end()), std::vector<float>(b.begin(), b.end()));
    // Serialized twice, the same bytes: every field survived.
    EXPECT_EQ(LayerToProto(*back).SerializeAsString(), m.layers(i).SerializeAsString());
  }
  absl::StatusOr<ly::Network> net = NetworkFromProto(m);
  ASSERT_THAT(net, IsOk());
  absl::StatusOr<ly::Network> original = client::ToAbsl(ly::Network::Create({9, 7, 3}, layers));
  ASSERT_THAT(original, IsOk());
  const std::vector<float> x = Random(9 * 7 * 3, 4);
  EXPECT_EQ(Forward1(*net, x), Forward1(*original, x));
}

// The wire's dense weights are "outputs x inputs, column-major" (model.proto):
// element (o, i) at i * outputs + o. A naive loop over that description must
// agree with the decoded layer's forward.
TEST(LayerCodec, DenseWireLayoutIsTheProtoComment) {
  v1::Model m;
  m.set_input_dim(6);
  m.mutable_input_shape()->set_h(1);
  m.mutable_input_shape()->set_w(1);
  m.mutable_input_shape()->set_c(6);
  v1::DenseLayer* d = m.add_layers()->mutable_dense();
  d->set_inputs(6);
  d->set_outputs(4);
  const std::vector<float> w = Random(24, 5), b = Random(4, 6);
  d->mutable_weights()->mutable_values()->Add(w.begin(), w.end());
  d->mutable_bias()->mutable_values()->Add(b.begin(), b.end());
  absl::StatusOr<ly::Network> net = NetworkFromProto(m);
  ASSERT_THAT(net, IsOk());
  const std::vector<float> x = Random(6, 7);
  const std::vector<float> y = Forward1(*net, x);
  for (int o = 0; o < 4; ++o) {
    double want = b[o];
    for (int i = 0; i < 6; ++i) want += double{w[i * 4 + o]} * x[i];
    EXPECT_NEAR(y[o], want, 1e-6) << o;
  }
}

TEST(LayerCodec, RefusesMalformedLayersNamingThem) {
  v1::Model m = ModelOf(EveryType());
  {
    v1::Model bad = m;
    bad.mutable_layers(1)->Clear();
    EXPECT_THAT(NetworkFromProto(bad),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("layer 1: no layer type")));
  }
  {
    v1::Model bad = m;
    bad.mutable_layers(0)->mutable_conv2d()->mutable_weights()->mutable_values()->RemoveLast();
    EXPECT_THAT(NetworkFromProto(bad), StatusIs(absl::StatusCode::kInvalidArgument,
                                                HasSubstr("layer 0 (conv2d): weights need")));
  }
  {
    v1::Model bad = m;
    bad.mutable_layers(1)->mutable_depthwise_conv2d()->mutable_bias()->set_values(
        0, std::numeric_limits<float>::quiet_NaN());
    EXPECT_THAT(NetworkFromProto(bad), StatusIs(absl::StatusCode::kInvalidArgument,
                                                HasSubstr("layer 1 (depthwise_conv2d): non-finite")));
  }
  {
    v1::Model bad = m;
    bad.mutable_layers(7)->mutable_dense()->mutable_weights()->set_int8_values("x");
    EXPECT_THAT(NetworkFromProto(bad),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("int8 tensors")));
  }
  {
    v1::Model bad = m;
    bad.mutable_layers(7)->mutable_dense()->set_relu(true);
    EXPECT_THAT(NetworkFromProto(bad),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("`activation`, not `relu`")));
  }
  {
    v1::Model bad = m;
    bad.mutable_layers(4)->mutable_activation()->set_activation(static_cast<v1::Activation>(9));
    EXPECT_THAT(NetworkFromProto(bad),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("unknown activation 9")));
  }
  {  // Four dimensions of 2^16 would wrap an int64 product.
    v1::Model bad = m;
    v1::Conv2dLayer* c = bad.mutable_layers(0)->mutable_conv2d();
    c->set_in_channels(1 << 16);
    c->set_out_channels(1 << 16);
    c->mutable_window()->set_kernel_h(1 << 16);
    c->mutable_window()->set_kernel_w(1 << 16);
    EXPECT_THAT(NetworkFromProto(bad),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("over the limit")));
  }
  {  // Valid sizes, too much work: a 256x256 depthwise kernel over 512x512 is
     // 2^34 multiply-adds per example.
    v1::Model heavy;
    ly::DepthwiseConv2d dw;
    dw.window.kernel_h = dw.window.kernel_w = 256;
    dw.window.padding = ly::Padding{128, 128, 127, 127};
    dw.params.assign(static_cast<size_t>(dw.num_params()), 0.f);
    SetConvBody({512, 512, 1}, {dw}, heavy);
    EXPECT_THAT(NetworkFromProto(heavy),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("multiply-adds per example")));
    dw.window.kernel_h = dw.window.kernel_w = 3;  // The same body, light: accepted.
    dw.window.padding = ly::Padding::Symmetric(1);
    dw.params.assign(static_cast<size_t>(dw.num_params()), 0.f);
    SetConvBody({512, 512, 1}, {dw}, heavy);
    EXPECT_THAT(NetworkFromProto(heavy), IsOk());
  }
  {  // Shapes are checked in order: a dense that does not take the flattened width.
    v1::Model bad = m;
    bad.mutable_layers(7)->mutable_dense()->set_inputs(9);
    bad.mutable_layers(7)->mutable_dense()->mutable_weights()->mutable_values()->Resize(45, 0.f);
    EXPECT_THAT(NetworkFromProto(bad),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("7")));
  }
  {
    v1::Model bad = m;
    bad.set_input_dim(10);
    EXPECT_THAT(NetworkFromProto(bad),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("input_dim 10")));
  }
  {
    v1::Model bad = m;
    bad.add_body();
    EXPECT_THAT(NetworkFromProto(bad),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not both")));
  }
  {
    v1::Model bad = m;
    bad.mutable_input_shape()->set_h(0);
    EXPECT_THAT(NetworkFromProto(bad), StatusIs(absl::StatusCode::kInvalidArgument,
                                                HasSubstr("input_shape 0x7x3")));
  }
}

}  // namespace
}  // namespace fedtiny
