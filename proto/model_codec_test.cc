#include "proto/model_codec.h"

#include "gtest/gtest.h"
#include "tools/base/status_matchers.h"

namespace fedtiny {
namespace {

using ::fedtiny::testing::IsOk;
using ::fedtiny::testing::StatusIs;

v1::Model Sample() {
  client::Head body_as_head = client::MakeHead({6, 5}, 1);
  body_as_head.layers[0].relu = true;
  return ModelToProto(client::Body({body_as_head.layers[0]}), client::MakeHead({5, 4, 3}, 2));
}

TEST(ModelCodecTest, RoundTripsThroughBytes) {
  v1::Model m = Sample();
  v1::Model parsed;
  ASSERT_TRUE(parsed.ParseFromString(m.SerializeAsString()));
  absl::StatusOr<client::Head> head = HeadFromProto(parsed);
  ASSERT_THAT(head, IsOk());
  EXPECT_EQ(head->Flatten(), client::MakeHead({5, 4, 3}, 2).Flatten());
  absl::StatusOr<client::Body> body = BodyFromProto(parsed);
  ASSERT_THAT(body, IsOk());
  EXPECT_EQ(body->output_dim(0), 5);
}

TEST(ModelCodecTest, SetHeadParamsAndInt8Variant) {
  v1::Model m = Sample();
  std::vector<float> flat = *HeadParams(m);
  for (float& v : flat) v *= 2;
  ASSERT_THAT(SetHeadParams(flat, m), IsOk());
  EXPECT_EQ(*HeadParams(m), flat);
  EXPECT_THAT(SetHeadParams(std::vector<float>(3), m),
              StatusIs(absl::StatusCode::kInvalidArgument));
  v1::Model q = Int8BodyVariant(m);
  EXPECT_EQ(q.body(0).weights().values_size(), 0);
  EXPECT_EQ(q.body(0).weights().int8_values().size(), 30u);
  EXPECT_LT(q.ByteSizeLong(), m.ByteSizeLong());
  client::RowMatrixXf x = client::RowMatrixXf::Ones(2, 6);
  const client::RowMatrixXf a = *BodyFromProto(m)->Features(x);
  const client::RowMatrixXf b = *BodyFromProto(q)->Features(x);
  EXPECT_LT((a - b).norm(), 0.05 * (a.norm() + 1e-3));
  EXPECT_EQ(*HeadParams(q), flat);  // The head stays float32.
}

TEST(ModelCodecTest, RejectsMalformedModels) {
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
}  // namespace fedtiny
