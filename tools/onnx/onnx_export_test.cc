// ExportOnnx: importing the export gives back the same parameters and the same
// function (the core's outputs bit for bit), for hand-made models of every
// layer type and for the PyTorch exports; the graph is named and versioned as
// promised. onnx_export_check_test runs the exports in an independent
// evaluator.
#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "third_party/onnx/onnx.pb.h"
#include "tools/base/status_matchers.h"
#include "tools/onnx/onnx_model.h"
#include "tools/onnx/onnx_test_models.h"

namespace fedtiny::onnx_io {
namespace {

namespace layers = client::layers;
using ::fedtiny::testing::IsOk;
using ::fedtiny::testing::StatusIs;
using ::testing::ElementsAre;

// The parameter vectors of the layers that have any, body then head.
std::vector<std::vector<float>> AllParams(const ImportedModel& m) {
  std::vector<std::vector<float>> out;
  for (const auto& l : m.body) {
    const auto p = layers::Params(l);
    if (p.size() > 0) out.emplace_back(p.begin(), p.end());
  }
  for (const auto& d : m.head) out.push_back(d.params);
  return out;
}

std::vector<float> RandomInput(const ImportedModel& m, int rows) {
  std::mt19937 rng(5);
  std::normal_distribution<float> dist;
  std::vector<float> x(rows * m.input.size());
  for (float& v : x) v = dist(rng);
  return x;
}

void ExpectRoundTrip(const ImportedModel& m) {
  auto bytes = ExportOnnx(m);
  ASSERT_THAT(bytes, IsOk());
  auto back = ImportOnnx(*bytes, static_cast<int>(m.head.size()));
  ASSERT_THAT(back, IsOk());
  EXPECT_EQ(back->input, m.input);
  EXPECT_EQ(AllParams(*back), AllParams(m));
  ASSERT_EQ(back->head.size(), m.head.size());
  for (size_t i = 0; i < m.head.size(); ++i) {
    EXPECT_EQ(back->head[i].activation, m.head[i].activation);
  }
  const std::vector<float> x = RandomInput(m, 3);
  const std::vector<float> y = RunModel(m, x, 3);
  ASSERT_FALSE(y.empty());
  EXPECT_EQ(RunModel(*back, x, 3), y);
}

TEST(OnnxExportTest, RoundTripReproducesTheModels) {
  for (const auto& [name, m] : TestModels(1)) {
    SCOPED_TRACE(name);
    ExpectRoundTrip(m);
  }
}

TEST(OnnxExportTest, RoundTripOfPyTorchExports) {
  const char* srcdir = std::getenv("TEST_SRCDIR");
  const char* ws = std::getenv("TEST_WORKSPACE");
  const std::string root =
      srcdir ? std::string(srcdir) + "/" + (ws ? ws : "__main__") + "/" : "";
  for (const char* name : {"conv_bn_relu", "depthwise_relu6", "pools",
                           "reshape_flatten", "dense_only"}) {
    SCOPED_TRACE(name);
    std::ifstream f(root + "tools/onnx/testdata/" + name + ".onnx",
                    std::ios::binary);
    std::stringstream s;
    s << f.rdbuf();
    auto m = ImportOnnx(s.str(), 1);
    ASSERT_THAT(m, IsOk());
    ExpectRoundTrip(*m);
  }
}

TEST(OnnxExportTest, NamesAndVersions) {
  const auto models = TestModels(2);
  auto bytes = ExportOnnx(models[0].second);
  ASSERT_THAT(bytes, IsOk());
  onnx::ModelProto m;
  ASSERT_TRUE(m.ParseFromString(*bytes));
  ASSERT_EQ(m.opset_import_size(), 1);
  EXPECT_EQ(m.opset_import(0).version(), 13);
  ASSERT_EQ(m.graph().input_size(), 1);
  EXPECT_EQ(m.graph().input(0).name(), "input");
  ASSERT_EQ(m.graph().output_size(), 1);
  EXPECT_EQ(m.graph().output(0).name(), "logits");
  std::vector<std::string> ops;
  for (const auto& n : m.graph().node()) ops.push_back(n.op_type());
  EXPECT_THAT(
      ops, ElementsAre("Conv", "Relu", "Conv", "Clip", "AveragePool", "MaxPool",
                       "Clip", "Flatten", "Gemm", "Relu", "Gemm"));
  // The dense-only model takes [N, F].
  auto dense = ExportOnnx(models[3].second);
  ASSERT_THAT(dense, IsOk());
  ASSERT_TRUE(m.ParseFromString(*dense));
  EXPECT_EQ(m.graph().input(0).type().tensor_type().shape().dim_size(), 2);
}

TEST(OnnxExportTest, RefusesLayersThatDoNotChain) {
  ImportedModel m;
  m.input = {1, 1, 4};
  m.head.push_back(layers::Dense{5, 2});
  m.head.back().params.assign(m.head.back().num_params(), 0.f);
  EXPECT_THAT(ExportOnnx(m), StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace fedtiny::onnx_io
