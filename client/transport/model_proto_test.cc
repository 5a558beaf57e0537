#include "client/transport/model_proto.h"

#include <cmath>

#include "gtest/gtest.h"
#include "client/platform/linux/status_bridge.h"
#include "proto/model_codec.h"
#include "tools/base/status_matchers.h"

namespace fedtiny::client {
namespace {

using ::fedtiny::testing::IsOk;
using ::fedtiny::testing::StatusIs;

Body SampleBody() {
  Head body_as_head = MakeHead({6, 5}, 1);
  body_as_head.layers[0].relu = true;
  return Body({body_as_head.layers[0]});
}

v1::Model Sample() { return ModelToProto(SampleBody(), MakeHead({5, 4, 3}, 2)); }

TEST(ModelProtoTest, RoundTripsThroughBytes) {
  v1::Model parsed;
  ASSERT_TRUE(parsed.ParseFromString(Sample().SerializeAsString()));
  EXPECT_THAT(ValidateModel(parsed), IsOk());
  EXPECT_EQ(parsed.input_dim(), 6);
  absl::StatusOr<Head> head = HeadFromProto(parsed);
  ASSERT_THAT(head, IsOk());
  EXPECT_EQ(head->Flatten(), MakeHead({5, 4, 3}, 2).Flatten());
  EXPECT_FALSE(head->layers.back().relu);
  absl::StatusOr<Body> body = BodyFromProto(parsed);
  ASSERT_THAT(body, IsOk());
  ASSERT_EQ(body->layers().size(), 1u);
  EXPECT_EQ(std::get<DenseLayer>(body->layers()[0]).w,
            std::get<DenseLayer>(SampleBody().layers()[0]).w);
}

// The flat layout is defined once (proto/model_codec.h); Head::Flatten and
// Unflatten must be the same layout on the SDK's side. The head has layers of
// different shapes and distinct values, so a transposed or reordered layout
// fails.
TEST(ModelProtoTest, HeadLayoutAgreesWithTheWire) {
  const Head head = MakeHead({5, 4, 3}, 2);
  v1::Model m = ModelToProto(Body(), head);
  EXPECT_EQ(*HeadParams(m), head.Flatten());
  std::vector<float> flat(head.num_params());
  for (size_t i = 0; i < flat.size(); ++i) flat[i] = static_cast<float>(i);
  ASSERT_THAT(SetHeadParams(flat, m), IsOk());
  Head unflattened = head;
  ASSERT_THAT(unflattened.Unflatten(flat), IsOk());
  absl::StatusOr<Head> from_wire = HeadFromProto(m);
  ASSERT_THAT(from_wire, IsOk());
  for (size_t k = 0; k < head.layers.size(); ++k) {
    EXPECT_EQ(from_wire->layers[k].w, unflattened.layers[k].w) << k;
    EXPECT_EQ(from_wire->layers[k].b, unflattened.layers[k].b) << k;
  }
  // Weight (row 1, column 0) of the first layer is the second flat value.
  EXPECT_EQ(from_wire->layers[0].w(1, 0), 1.0f);
}

TEST(ModelProtoTest, Int8VariantDecodesCloseToTheFloatBody) {
  const v1::Model m = Sample();
  const v1::Model q = Int8BodyVariant(m);
  absl::StatusOr<Body> f32 = BodyFromProto(m), i8 = BodyFromProto(q);
  ASSERT_THAT(f32, IsOk());
  ASSERT_THAT(i8, IsOk());
  ASSERT_TRUE(std::holds_alternative<QuantizedDenseLayer>(i8->layers()[0]));
  // The server's quantization is the SDK's.
  const QuantizedDenseLayer& got = std::get<QuantizedDenseLayer>(i8->layers()[0]);
  const QuantizedDenseLayer want = Quantize(std::get<DenseLayer>(f32->layers()[0]));
  EXPECT_EQ(got.q, want.q);
  EXPECT_EQ(got.scale, want.scale);
  EXPECT_EQ(got.zero_point, want.zero_point);
  const RowMatrixXf x = RowMatrixXf::Ones(2, 6);
  const RowMatrixXf a = *f32->Features(x), b = *i8->Features(x);
  EXPECT_LT((a - b).norm(), 0.05 * (a.norm() + 1e-3));
  EXPECT_EQ(ModelToProto(*i8, *HeadFromProto(q)).SerializeAsString(), q.SerializeAsString());
}

TEST(ModelProtoTest, RefusesWhatTheChecksRefuse) {
  v1::Model m = Sample();
  m.mutable_head(0)->mutable_bias()->clear_values();
  EXPECT_THAT(HeadFromProto(m), StatusIs(absl::StatusCode::kInvalidArgument));
  m = Sample();
  m.mutable_head(1)->mutable_weights()->set_values(0, NAN);
  EXPECT_THAT(HeadFromProto(m), StatusIs(absl::StatusCode::kInvalidArgument));
  m = Sample();
  m.set_input_dim(7);
  EXPECT_THAT(BodyFromProto(m), StatusIs(absl::StatusCode::kInvalidArgument));
  m = Sample();
  m.mutable_head(1)->set_relu(true);
  EXPECT_THAT(HeadFromProto(m), StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace fedtiny::client

namespace fedtiny::client {
namespace {

// A small convolutional body: 6x5x2 -> conv 3x3 (4 ch, ReLU) -> max pool 2x2
// -> flatten -> dense 8 (ReLU6): what ONNX import makes.
layers::Network SampleFront() {
  layers::Conv2d conv;
  conv.in_channels = 2;
  conv.out_channels = 4;
  conv.window.kernel_h = 3;
  conv.window.kernel_w = 3;
  conv.window.padding = layers::Padding::Symmetric(1);
  conv.activation = layers::Activation::kRelu;
  conv.params.resize(static_cast<size_t>(conv.num_params()));
  for (size_t i = 0; i < conv.params.size(); ++i) conv.params[i] = std::sin(0.7f * i);
  layers::MaxPool2d pool;
  pool.window.kernel_h = pool.window.kernel_w = 2;
  pool.window.stride_h = pool.window.stride_w = 2;
  layers::Dense dense;
  dense.in_features = 3 * 2 * 4;
  dense.out_features = 5;
  dense.activation = layers::Activation::kRelu6;
  dense.params.resize(static_cast<size_t>(dense.num_params()));
  for (size_t i = 0; i < dense.params.size(); ++i) dense.params[i] = std::cos(0.3f * i);
  return *layers::Network::Create({6, 5, 2}, {conv, pool, layers::Flatten{}, dense});
}

TEST(ModelProtoTest, ConvolutionalBodyRoundTripsAndFeaturizesRowByRow) {
  const Body body(SampleFront());
  EXPECT_EQ(body.input_dim(0), 60);
  EXPECT_EQ(body.output_dim(0), 5);
  const v1::Model m = ModelToProto(body, MakeHead({5, 3}, 2));
  EXPECT_EQ(m.body_size(), 0);
  EXPECT_EQ(m.layers_size(), 4);
  EXPECT_THAT(ValidateModel(m), IsOk());
  v1::Model parsed;
  ASSERT_TRUE(parsed.ParseFromString(m.SerializeAsString()));
  absl::StatusOr<Body> back = BodyFromProto(parsed);
  ASSERT_THAT(back, IsOk());
  ASSERT_NE(back->front(), nullptr);
  EXPECT_EQ(ModelToProto(*back, MakeHead({5, 3}, 2)).SerializeAsString(), m.SerializeAsString());

  // Several rows at once equal each row through a bound network of its own.
  RowMatrixXf x(3, 60);
  for (int64_t i = 0; i < x.size(); ++i) x.data()[i] = std::sin(0.11f * i) * 2;
  absl::StatusOr<RowMatrixXf> features = ToAbsl(back->Features(x));
  ASSERT_THAT(features, IsOk());
  ASSERT_EQ(features->cols(), 5);
  layers::Network net = SampleFront();
  std::vector<unsigned char> block(static_cast<size_t>(net.ArenaBytes()));
  Arena arena(block.data(), block.size());
  ASSERT_TRUE(net.Bind(arena).ok());
  for (int r = 0; r < 3; ++r) {
    float y[5];
    ASSERT_TRUE(net.Forward(x.row(r).data(), 1, y).ok());
    for (int k = 0; k < 5; ++k) EXPECT_EQ((*features)(r, k), y[k]) << r << "," << k;
  }
  EXPECT_EQ(*ToAbsl(back->FloatReferenceFeatures(x)), *features);
  // A wrong width is an error, not a read past the row.
  EXPECT_THAT(ToAbsl(back->Features(RowMatrixXf::Zero(2, 59))),
              StatusIs(absl::StatusCode::kInvalidArgument));
  // The head must take the front's output.
  EXPECT_THAT(ValidateModel(ModelToProto(body, MakeHead({6, 3}, 2))),
              StatusIs(absl::StatusCode::kInvalidArgument));
  // The arena path is the int8 dense body's only.
  EXPECT_EQ(back->FeaturesArenaBytes(1), 0);
}

}  // namespace
}  // namespace fedtiny::client
