#include "proto/model_codec.h"

#include <cmath>
#include <vector>

#include "gtest/gtest.h"
#include "tools/base/status_matchers.h"

namespace fedtiny {
namespace {

using ::fedtiny::testing::IsOk;
using ::fedtiny::testing::StatusIs;

// A float32 layer whose k-th weight is first + k and whose bias is -1, -2, ...
v1::DenseLayer Layer(int in, int out, bool relu, float first) {
  v1::DenseLayer l;
  l.set_inputs(in);
  l.set_outputs(out);
  l.set_relu(relu);
  for (int k = 0; k < in * out; ++k) l.mutable_weights()->add_values(first + k);
  for (int k = 0; k < out; ++k) l.mutable_bias()->add_values(-1.0f - k);
  return l;
}

// input 3 -> body 3x2 (relu) -> head 2x2 (relu) -> 2x1 (logits): 6 + 2 + 2 + 1
// head parameters.
v1::Model Sample() {
  v1::Model m;
  m.set_input_dim(3);
  *m.add_body() = Layer(3, 2, true, 0.5f);
  *m.add_head() = Layer(2, 2, true, 10);
  *m.add_head() = Layer(2, 1, false, 20);
  return m;
}

TEST(ModelCodecTest, HeadParamsAreWeightsThenBiasLayerByLayer) {
  absl::StatusOr<std::vector<float>> flat = HeadParams(Sample());
  ASSERT_THAT(flat, IsOk());
  EXPECT_EQ(*flat, (std::vector<float>{10, 11, 12, 13, -1, -2, 20, 21, -1}));
}

TEST(ModelCodecTest, SetHeadParamsIsTheInverse) {
  v1::Model m = Sample();
  const std::vector<float> flat = {1, 2, 3, 4, 5, 6, 7, 8, 9};
  ASSERT_THAT(SetHeadParams(flat, m), IsOk());
  EXPECT_EQ(*HeadParams(m), flat);
  EXPECT_EQ(m.head(0).bias().values(1), 6);
  EXPECT_EQ(m.head(1).weights().values(0), 7);
  EXPECT_EQ(m.body(0).weights().values(0), 0.5f);  // The body is untouched.
}

TEST(ModelCodecTest, SetHeadParamsRefusesAWrongSizeAndChangesNothing) {
  v1::Model m = Sample();
  EXPECT_THAT(SetHeadParams(std::vector<float>(8), m),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(SetHeadParams(std::vector<float>(10), m),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_EQ(m.SerializeAsString(), Sample().SerializeAsString());
}

TEST(ModelCodecTest, ValidateModelAcceptsTheSample) {
  EXPECT_THAT(ValidateModel(Sample()), IsOk());
  v1::Model no_body = Sample();
  no_body.clear_body();
  no_body.set_input_dim(2);
  EXPECT_THAT(ValidateModel(no_body), IsOk());
}

TEST(ModelCodecTest, ValidateModelRefusesMalformedModels) {
  const auto refused = [](void (*edit)(v1::Model&)) {
    v1::Model m = Sample();
    edit(m);
    return ValidateModel(m).code() == absl::StatusCode::kInvalidArgument;
  };
  EXPECT_TRUE(refused([](v1::Model& m) { m.mutable_head(0)->mutable_bias()->clear_values(); }));
  EXPECT_TRUE(refused([](v1::Model& m) { m.mutable_head(1)->mutable_weights()->set_values(0, NAN); }));
  EXPECT_TRUE(refused([](v1::Model& m) { m.mutable_body(0)->mutable_bias()->set_values(0, INFINITY); }));
  EXPECT_TRUE(refused([](v1::Model& m) { m.set_input_dim(7); }));
  EXPECT_TRUE(refused([](v1::Model& m) { m.mutable_head(1)->set_relu(true); }));
  EXPECT_TRUE(refused([](v1::Model& m) { m.clear_head(); }));
  EXPECT_TRUE(refused([](v1::Model& m) { m.mutable_head(1)->set_inputs(3); }));
  EXPECT_TRUE(refused([](v1::Model& m) { m.mutable_body(0)->mutable_weights()->add_values(1); }));
  // The body gives 2 features; a head taking 3 cannot run on them.
  EXPECT_TRUE(refused([](v1::Model& m) {
    *m.mutable_head(0) = Layer(3, 2, true, 0);
  }));
  // An int8 head, or an int8 layer without a usable scale.
  EXPECT_TRUE(refused([](v1::Model& m) { *m.mutable_head(0) = Int8BodyVariant(m).body(0); }));
  EXPECT_TRUE(refused([](v1::Model& m) {
    *m.mutable_body(0) = Int8BodyVariant(m).body(0);
    m.mutable_body(0)->mutable_weights()->set_scale(0);
  }));
}

TEST(ModelCodecTest, HeadChecksIgnoreTheBody) {
  v1::Model m = Sample();
  m.set_input_dim(7);
  EXPECT_THAT(ValidateBody(m), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ValidateHead(m), IsOk());
  EXPECT_THAT(HeadParams(m), IsOk());
}

TEST(ModelCodecTest, Int8BodyVariantQuantizesTheBodyOnly) {
  const v1::Model m = Sample();
  const v1::Model q = Int8BodyVariant(m);
  EXPECT_THAT(ValidateModel(q), IsOk());
  const v1::DenseLayer& l = q.body(0);
  EXPECT_EQ(l.weights().values_size(), 0);
  ASSERT_EQ(l.weights().int8_values().size(), 6u);
  EXPECT_EQ(l.bias().values(1), -2);
  EXPECT_TRUE(l.relu());
  // Weights 0.5 .. 5.5 (range [0, 5.5] with zero): each decodes within half a step.
  const float scale = l.weights().scale();
  EXPECT_FLOAT_EQ(scale, 5.5f / 255);
  for (int k = 0; k < 6; ++k) {
    const int8_t code = static_cast<int8_t>(l.weights().int8_values()[k]);
    EXPECT_NEAR(scale * (code - l.weights().zero_point()), 0.5f + k, scale / 2 + 1e-6);
  }
  EXPECT_EQ(*HeadParams(q), *HeadParams(m));  // The head stays float32.
  EXPECT_EQ(Int8BodyVariant(q).SerializeAsString(), q.SerializeAsString());
}

}  // namespace
}  // namespace fedtiny
