// The task model made from PyTorch's exports computes PyTorch's outputs
// through the SDK's Body and Head (the path devices and the simulator take),
// exports back to the same model, and its int8 variant stays close.
#include "tools/onnx/onnx_task.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <random>

#include "client/platform/linux/status_bridge.h"
#include "client/transport/model_proto.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proto/int8_layer_codec.h"
#include "proto/model_codec.h"
#include "tools/base/status_matchers.h"
#include "tools/onnx/onnx_test_cases.h"

namespace fedtiny::onnx_io {
namespace {

using ::fedtiny::testing::IsOk;
using ::fedtiny::testing::StatusIs;
using ::testing::HasSubstr;

// Logits through the SDK: Body::Features, then the head's layers.
client::RowMatrixXf Logits(const v1::Model& m, const client::RowMatrixXf& x) {
  absl::StatusOr<client::Body> body = client::BodyFromProto(m);
  absl::StatusOr<client::Head> head = client::HeadFromProto(m);
  EXPECT_THAT(body, IsOk());
  EXPECT_THAT(head, IsOk());
  if (!body.ok() || !head.ok()) return {};
  client::RowMatrixXf h = *client::ToAbsl(body->Features(x));
  for (const client::DenseLayer& l : head->layers) h = client::DenseForward(l, h);
  return h;
}

// How many head layers each case can take (ReLU6 stays in the body).
const std::map<std::string, int> kHeadLayers = {{"conv_bn_relu", 1},
                                                {"depthwise_relu6", 1},
                                                {"pools", 2},
                                                {"reshape_flatten", 1},
                                                {"dense_only", 1}};

TEST(OnnxTaskTest, ImportedTaskModelComputesPyTorchsOutputs) {
  for (const Case& c : ReadCases()) {
    SCOPED_TRACE(c.name);
    absl::StatusOr<v1::Model> m =
        ModelFromOnnx(ReadFile(TestData(c.name + ".onnx")), kHeadLayers.at(c.name));
    ASSERT_THAT(m, IsOk());
    EXPECT_THAT(ValidateModel(*m), IsOk());
    EXPECT_EQ(m->head_size(), kHeadLayers.at(c.name));
    const int64_t in = static_cast<int64_t>(c.x.size()) / c.rows;
    const client::RowMatrixXf x =
        Eigen::Map<const client::RowMatrixXf>(c.x.data(), c.rows, in);
    const client::RowMatrixXf y = Logits(*m, x);
    ASSERT_EQ(static_cast<size_t>(y.size()), c.y.size());
    for (size_t i = 0; i < c.y.size(); ++i) {
      EXPECT_NEAR(y.data()[i], c.y[i], 1e-5 * std::max(1.0, std::abs(c.y[i]))) << i;
    }
    // Export, import again: the same model.
    absl::StatusOr<std::string> onnx = OnnxFromModel(*m);
    ASSERT_THAT(onnx, IsOk());
    absl::StatusOr<v1::Model> again = ModelFromOnnx(*onnx, kHeadLayers.at(c.name));
    ASSERT_THAT(again, IsOk());
    EXPECT_EQ(again->SerializeAsString(), m->SerializeAsString());
  }
}

TEST(OnnxTaskTest, HeadRefusesReluSixAndTheRestIsNamed) {
  // reshape_flatten ends Linear -> ReLU6 -> Linear: two head layers would put
  // ReLU6 in the head.
  EXPECT_THAT(ModelFromOnnx(ReadFile(TestData("reshape_flatten.onnx")), 2),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("ReLU6 in the head")));
  EXPECT_THAT(ModelFromOnnx(ReadFile(TestData("sigmoid.onnx")), 1),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("Sigmoid")));
}

TEST(OnnxTaskTest, Int8VariantAgreesWithFloatOnMostExamples) {
  absl::StatusOr<v1::Model> m = ModelFromOnnx(ReadFile(TestData("pools.onnx")), 2);
  ASSERT_THAT(m, IsOk());
  std::mt19937 rng(3);
  std::normal_distribution<float> n;
  client::RowMatrixXf proxy(64, m->input_dim()), test(200, m->input_dim());
  for (int64_t i = 0; i < proxy.size(); ++i) proxy.data()[i] = n(rng);
  for (int64_t i = 0; i < test.size(); ++i) test.data()[i] = n(rng);
  absl::StatusOr<v1::Model> q = Int8Variant(*m, proxy);
  ASSERT_THAT(q, IsOk());
  EXPECT_TRUE(HasInt8ConvBody(*q));
  EXPECT_THAT(ValidateModel(*q), IsOk());
  EXPECT_EQ(q->head().Get(0).SerializeAsString(), m->head().Get(0).SerializeAsString());
  v1::Model reparsed;
  ASSERT_TRUE(reparsed.ParseFromString(q->SerializeAsString()));
  const client::RowMatrixXf yf = Logits(*m, test), yq = Logits(reparsed, test);
  ASSERT_EQ(yf.rows(), yq.rows());
  // Labels: the float model's own top-1; the int8 model must agree on most.
  std::vector<int32_t> labels;
  int agree = 0;
  for (int r = 0; r < yf.rows(); ++r) {
    Eigen::Index a, b;
    yf.row(r).maxCoeff(&a);
    yq.row(r).maxCoeff(&b);
    labels.push_back(static_cast<int32_t>(a));
    agree += a == b;
  }
  EXPECT_GE(agree, 170) << "of 200";  // A broken int8 path agrees ~1/3 of the time.
  absl::StatusOr<double> acc_f = ProxyAccuracy(*m, test, labels);
  absl::StatusOr<double> acc_q = ProxyAccuracy(reparsed, test, labels);
  ASSERT_THAT(acc_f, IsOk());
  ASSERT_THAT(acc_q, IsOk());
  EXPECT_DOUBLE_EQ(*acc_f, 1.0);
  EXPECT_DOUBLE_EQ(*acc_q, agree / 200.0);
  // The int8 body does not export; an int8 of an int8 is refused.
  EXPECT_THAT(OnnxFromModel(*q), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("int8")));
  EXPECT_THAT(Int8Variant(*q, proxy), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Int8Variant(*m, client::RowMatrixXf(0, m->input_dim())),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace fedtiny::onnx_io
