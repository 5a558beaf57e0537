// ImportOnnx against PyTorch: the models testdata/make_cases.py exported with
// torch.onnx.export, imported and run by client::layers::Network, match the
// outputs PyTorch computed (float64) within 1e-5; and every refusal the header
// promises, on exported and hand-built graphs.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "client/core/arena.h"
#include "client/core/layers/network.h"
#include "client/platform/linux/status_bridge.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tools/base/status_matchers.h"
#include "tools/onnx/onnx_model.h"
#include "tools/onnx/onnx_test_cases.h"
#include "tools/onnx/onnx_test_graph.h"

namespace fedtiny::onnx_io {
namespace {

namespace layers = client::layers;
using ::fedtiny::testing::IsOk;
using ::fedtiny::testing::StatusIs;
using ::testing::ElementsAreArray;
using ::testing::HasSubstr;

constexpr double kTolerance = 1e-5;

std::vector<std::string> Names(const ImportedModel& m) {
  std::vector<std::string> names;
  for (const auto& l : m.body) names.push_back(layers::LayerName(l));
  for (size_t i = 0; i < m.head.size(); ++i) names.push_back("head dense");
  return names;
}

// Runs the imported model with the core's Network.
std::vector<float> RunNetwork(const ImportedModel& m,
                              const std::vector<float>& x, int rows) {
  std::vector<layers::LayerSpec> all = m.body;
  all.insert(all.end(), m.head.begin(), m.head.end());
  auto net = layers::Network::Create(m.input, all);
  EXPECT_TRUE(net.ok()) << net.status().message();
  if (!net.ok()) return {};
  std::vector<unsigned char> block(net->ArenaBytes());
  client::Arena arena(block.data(), block.size());
  EXPECT_TRUE(net->Bind(arena).ok());
  std::vector<float> y(rows * net->output().size());
  EXPECT_TRUE(net->Forward(x.data(), rows, y.data()).ok());
  return y;
}

TEST(OnnxImportTest, TorchExportsMatchPyTorch) {
  // The layers each export becomes: batch norms folded, activations fused.
  const std::map<std::string, std::vector<std::string>> expected = {
      {"conv_bn_relu", {"conv2d", "flatten", "head dense"}},
      {"depthwise_relu6",
       {"depthwise_conv2d", "conv2d", "avg_pool2d", "flatten", "head dense"}},
      {"pools",
       {"conv2d", "max_pool2d", "activation", "avg_pool2d", "conv2d",
        "global_avg_pool2d", "flatten", "dense", "head dense"}},
      {"reshape_flatten",
       {"depthwise_conv2d", "flatten", "dense", "head dense"}},
      {"dense_only", {"dense", "dense", "head dense"}},
  };
  const std::vector<Case> cases = ReadCases();
  ASSERT_EQ(cases.size(), expected.size());
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    auto m = ImportOnnx(ReadFile(TestData(c.name + ".onnx")), 1);
    ASSERT_THAT(m, IsOk());
    EXPECT_THAT(Names(*m), ElementsAreArray(expected.at(c.name)));
    ASSERT_EQ(c.x.size(), c.rows * m->input.size());
    const std::vector<float> y = RunNetwork(*m, c.x, c.rows);
    ASSERT_EQ(y.size(), c.y.size());
    double worst = 0;
    for (size_t i = 0; i < y.size(); ++i) {
      worst = std::max(
          worst, std::abs(y[i] - c.y[i]) / std::max(1.0, std::abs(c.y[i])));
    }
    EXPECT_LE(worst, kTolerance);
    std::printf("%s: max error %.2g\n", c.name.c_str(), worst);
  }
}

TEST(OnnxImportTest, FusesAndFolds) {
  auto m = ImportOnnx(ReadFile(TestData("depthwise_relu6.onnx")), 1);
  ASSERT_THAT(m, IsOk());
  const auto& dw = std::get<layers::DepthwiseConv2d>(m->body[0]);
  EXPECT_EQ(dw.in_channels, 3);
  EXPECT_EQ(dw.channel_multiplier, 2);
  EXPECT_EQ(dw.activation, layers::Activation::kRelu6);
  EXPECT_EQ(dw.window.stride_h, 2);
  EXPECT_EQ(dw.window.padding.top, 1);
  const auto& pool = std::get<layers::AvgPool2d>(m->body[2]);
  EXPECT_FALSE(pool.count_include_pad);
  EXPECT_EQ(m->input, (layers::Shape{11, 11, 3}));
  // The zero Pad torch writes before AvgPool2d(count_include_pad=True).
  auto p = ImportOnnx(ReadFile(TestData("pools.onnx")), 1);
  ASSERT_THAT(p, IsOk());
  const auto& counted = std::get<layers::AvgPool2d>(p->body[3]);
  EXPECT_TRUE(counted.count_include_pad);
  EXPECT_EQ(counted.window.padding.left, 1);
}

TEST(OnnxImportTest, RefusesUnsupportedOperatorsByName) {
  EXPECT_THAT(ImportOnnx(ReadFile(TestData("sigmoid.onnx")), 1),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("unsupported operator 'Sigmoid' (node '")));
  EXPECT_THAT(ImportOnnx(ReadFile(TestData("softmax_mid.onnx")), 1),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("unsupported operator 'Softmax'")));
  TestGraph g({1, 4});
  g.Init("w", {4, 4}, std::vector<float>(16, 0.1f));
  g.Node("LSTM", {"w"}, {}, "lstm0");
  EXPECT_THAT(
      ImportOnnx(g.Bytes(), 1),
      StatusIs(absl::StatusCode::kInvalidArgument,
               HasSubstr("unsupported operator 'LSTM' (node 'lstm0')")));
}

TEST(OnnxImportTest, SplitsTheHead) {
  const std::string dense = ReadFile(TestData("dense_only.onnx"));
  auto all = ImportOnnx(dense, 3);
  ASSERT_THAT(all, IsOk());
  EXPECT_TRUE(all->body.empty());
  ASSERT_EQ(all->head.size(), 3u);
  EXPECT_EQ(all->head[0].activation, layers::Activation::kRelu6);
  EXPECT_EQ(all->head[2].activation, layers::Activation::kNone);
  auto two = ImportOnnx(dense, 2);
  ASSERT_THAT(two, IsOk());
  EXPECT_EQ(two->body.size(), 1u);
  EXPECT_EQ(two->head.size(), 2u);
  EXPECT_THAT(ImportOnnx(dense, 4), StatusIs(absl::StatusCode::kInvalidArgument,
                                             HasSubstr("3 layers")));
  EXPECT_THAT(ImportOnnx(dense, 0), StatusIs(absl::StatusCode::kInvalidArgument,
                                             HasSubstr("at least 1")));
  EXPECT_THAT(
      ImportOnnx(ReadFile(TestData("pools.onnx")), 3),
      StatusIs(
          absl::StatusCode::kInvalidArgument,
          HasSubstr(
              "must be dense (Gemm or MatMul) to form the head; layer 6 is "
              "flatten")));
  // A model ending in an activation has no logits.
  TestGraph g({1, 4});
  g.Init("w", {3, 4}, std::vector<float>(12, 0.1f));
  g.Node("Gemm", {"w"}, {Int("transB", 1)});
  g.Node("Relu", {});
  EXPECT_THAT(
      ImportOnnx(g.Bytes(), 1),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("activation")));
}

TEST(OnnxImportTest, RefusesGarbageAndTruncatedFiles) {
  const std::string good = ReadFile(TestData("conv_bn_relu.onnx"));
  ASSERT_GT(good.size(), 1000u);
  EXPECT_THAT(ImportOnnx("", 1), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ImportOnnx("this is not a model at all", 1),
              StatusIs(absl::StatusCode::kInvalidArgument));
  for (size_t cut :
       {size_t{1}, good.size() / 3, good.size() / 2, good.size() - 1}) {
    EXPECT_THAT(ImportOnnx(good.substr(0, cut), 1),
                StatusIs(absl::StatusCode::kInvalidArgument))
        << cut;
  }
  std::srand(7);
  for (int trial = 0; trial < 200; ++trial) {
    std::string bad = good;
    for (int k = 0; k < 8; ++k)
      bad[std::rand() % bad.size()] = static_cast<char>(std::rand());
    auto m = ImportOnnx(bad, 1);  // Must not crash; whatever imports must run.
    if (m.ok()) {
      std::vector<layers::LayerSpec> all = m->body;
      all.insert(all.end(), m->head.begin(), m->head.end());
      EXPECT_TRUE(layers::Network::Create(m->input, all).ok());
    }
  }
}

// A conv graph on a 1x2x6x6 input with `attrs` on the Conv, then flatten +
// Gemm.
std::string ConvGraph(std::vector<onnx::AttributeProto> attrs, int group = 1,
                      int out = 4, int in = 2) {
  TestGraph g({1, in, 6, 6});
  g.Init("w", {out, in / group, 3, 3},
         std::vector<float>(out * (in / group) * 9, 0.1f));
  g.Node("Conv", {"w"}, attrs, "conv0");
  g.Node("GlobalAveragePool", {});
  g.Node("Flatten", {});
  g.Init("d", {2, out}, std::vector<float>(2 * out, 0.5f));
  g.Node("Gemm", {"d"}, {Int("transB", 1)});
  return g.Bytes();
}

TEST(OnnxImportTest, ConvAttributes) {
  auto same = ImportOnnx(
      ConvGraph({Str("auto_pad", "SAME_UPPER"), Ints("strides", {2, 2})}), 1);
  ASSERT_THAT(same, IsOk());
  const auto& conv = std::get<layers::Conv2d>(same->body[0]);
  // SAME on 6 cells, kernel 3, stride 2: 3 outputs, total padding 1, after.
  EXPECT_EQ(conv.window.padding.top, 0);
  EXPECT_EQ(conv.window.padding.bottom, 1);
  EXPECT_EQ(conv.window.padding.right, 1);
  auto dw = ImportOnnx(ConvGraph({Int("group", 2)}, 2, 4, 2), 1);
  ASSERT_THAT(dw, IsOk());
  EXPECT_EQ(std::get<layers::DepthwiseConv2d>(dw->body[0]).channel_multiplier,
            2);
  EXPECT_THAT(ImportOnnx(ConvGraph({Int("group", 2)}, 2, 4, 4), 1),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("operator 'Conv' (node 'conv0'): group 2")));
  EXPECT_THAT(ImportOnnx(ConvGraph({Str("auto_pad", "SAME_LOWER")}), 1),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("auto_pad SAME_LOWER")));
  EXPECT_THAT(
      ImportOnnx(ConvGraph({Ints("dilations", {4, 4})}), 1),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("does not fit")));
  EXPECT_THAT(ImportOnnx(ConvGraph({Ints("pads", {1, 1})}), 1),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("pads must have 4")));
}

TEST(OnnxImportTest, PoolAttributes) {
  auto pool = [](const std::string& op,
                 std::vector<onnx::AttributeProto> attrs) {
    TestGraph g({1, 2, 7, 7});
    attrs.push_back(Ints("kernel_shape", {3, 3}));
    g.Node(op, {}, attrs, "pool0");
    g.Node("Flatten", {});
    g.Init("d", {2, 2 * 9}, std::vector<float>(36, 0.5f));
    g.Node("Gemm", {"d"}, {Int("transB", 1)});
    return g.Bytes();
  };
  EXPECT_THAT(ImportOnnx(pool("MaxPool", {Ints("strides", {2, 2})}), 1),
              IsOk());
  EXPECT_THAT(
      ImportOnnx(
          pool("MaxPool", {Ints("strides", {2, 2}), Int("ceil_mode", 1)}), 1),
      StatusIs(absl::StatusCode::kInvalidArgument,
               HasSubstr("operator 'MaxPool' (node 'pool0'): ceil_mode=1")));
  EXPECT_THAT(
      ImportOnnx(
          pool("MaxPool", {Ints("strides", {2, 2}), Ints("dilations", {2, 2})}),
          1),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("dilations")));
  // Padding 3 on a 3x3 window leaves windows with no input cell.
  EXPECT_THAT(
      ImportOnnx(pool("AveragePool",
                      {Ints("strides", {3, 3}), Ints("pads", {3, 3, 3, 3})}),
                 1),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("AveragePool")));
}

TEST(OnnxImportTest, RefusesWhatTheLayersCannotRun) {
  {  // Dynamic height.
    TestGraph g({1, 2, -1, 6});
    g.Node("Relu", {});
    EXPECT_THAT(
        ImportOnnx(g.Bytes(), 1),
        StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("dynamic")));
  }
  {  // Two inputs.
    TestGraph g({1, 4});
    g.ExtraInput("second");
    g.Node("Relu", {});
    EXPECT_THAT(
        ImportOnnx(g.Bytes(), 1),
        StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("2 inputs")));
  }
  {  // A residual connection: Add of two activations.
    TestGraph g({1, 4});
    g.Init("w", {4, 4}, std::vector<float>(16, 0.1f));
    g.Node("Gemm", {"w"}, {Int("transB", 1)});
    g.Node("Relu", {});
    g.Raw("Add", {g.Tensor(0), g.Tensor(2)});
    EXPECT_THAT(
        ImportOnnx(g.Bytes(), 1),
        StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("chain")));
  }
  {  // BatchNormalization after a pooling has nothing to fold into.
    TestGraph g({1, 2, 4, 4});
    g.Node("MaxPool", {}, {Ints("kernel_shape", {2, 2})});
    for (const char* n : {"g", "b", "m", "v"}) g.Init(n, {2}, {1.f, 1.f});
    g.Node("BatchNormalization", {"g", "b", "m", "v"}, {}, "bn0");
    EXPECT_THAT(
        ImportOnnx(g.Bytes(), 1),
        StatusIs(
            absl::StatusCode::kInvalidArgument,
            HasSubstr(
                "operator 'BatchNormalization' (node 'bn0'): only directly "
                "after")));
  }
  {  // Clip other than ReLU / ReLU6.
    TestGraph g({1, 4});
    g.Init("lo", {}, {0.f});
    g.Init("hi", {}, {1.f});
    g.Node("Clip", {"lo", "hi"});
    EXPECT_THAT(ImportOnnx(g.Bytes(), 1),
                StatusIs(absl::StatusCode::kInvalidArgument,
                         HasSubstr("neither ReLU")));
  }
  {  // Gemm scaled by alpha.
    TestGraph g({1, 2});
    g.Init("w", {2, 2}, {1.f, 0.f, 0.f, 1.f});
    g.Node("Gemm", {"w"}, {Float("alpha", 2.f)}, "fc");
    EXPECT_THAT(
        ImportOnnx(g.Bytes(), 1),
        StatusIs(absl::StatusCode::kInvalidArgument,
                 HasSubstr("operator 'Gemm' (node 'fc'): only transA=0, "
                           "alpha=1, beta=1")));
  }
  {  // Add that is not a dense layer's bias.
    TestGraph g({1, 2});
    g.Init("b", {2}, {1.f, 2.f});
    g.Node("Add", {"b"}, {}, "add0");
    EXPECT_THAT(ImportOnnx(g.Bytes(), 1),
                StatusIs(absl::StatusCode::kInvalidArgument,
                         HasSubstr("only as the bias of a MatMul or Gemm")));
  }
  {  // Pad before a max pooling (zeros would win over negative inputs).
    TestGraph g({1, 2, 4, 4});
    g.InitInts("p", {8}, {0, 0, 1, 1, 0, 0, 1, 1});
    g.Node("Pad", {"p"});
    g.Node("MaxPool", {}, {Ints("kernel_shape", {2, 2})}, "mp");
    EXPECT_THAT(ImportOnnx(g.Bytes(), 1),
                StatusIs(absl::StatusCode::kInvalidArgument,
                         HasSubstr("operator 'MaxPool' (node 'mp')")));
  }
  {  // Reshape to anything but [N, -1].
    TestGraph g({1, 2, 4, 4});
    g.InitInts("s", {3}, {1, 2, -1});
    g.Node("Reshape", {"s"});
    EXPECT_THAT(ImportOnnx(g.Bytes(), 1),
                StatusIs(absl::StatusCode::kInvalidArgument,
                         HasSubstr("only a reshape to [N, -1]")));
  }
}

TEST(OnnxImportTest, RefusesBadTensors) {
  auto gemm = [](std::vector<int64_t> dims, std::vector<float> w,
                 bool float_data) {
    TestGraph g({1, 2});
    g.Init("w", dims, w, float_data);
    g.Node("Gemm", {"w"}, {Int("transB", 1)});
    return g.Bytes();
  };
  auto ok = ImportOnnx(gemm({2, 2}, {1.f, 2.f, 3.f, 4.f}, true),
                       1);  // float_data form
  ASSERT_THAT(ok, IsOk());
  // transB: PyTorch's weight[o][i] is params[i * out + o].
  EXPECT_THAT(ok->head[0].params,
              ElementsAreArray({1.f, 3.f, 2.f, 4.f, 0.f, 0.f}));
  EXPECT_THAT(ImportOnnx(gemm({2, 2}, {1.f, 2.f, 3.f}, false), 1),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("4 floats expected")));
  EXPECT_THAT(ImportOnnx(gemm({2, 2}, {1.f, 2.f, 3.f}, true), 1),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("4 floats expected")));
  EXPECT_THAT(
      ImportOnnx(gemm({2, 2}, {1.f, std::nanf(""), 3.f, 4.f}, false), 1),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("NaN")));
  EXPECT_THAT(ImportOnnx(gemm({2, 2}, {1.f, INFINITY, 3.f, 4.f}, true), 1),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("NaN or infinity")));
  EXPECT_THAT(
      ImportOnnx(gemm({3, 3}, std::vector<float>(9, 1.f), false), 1),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("take 3 inputs")));
  EXPECT_THAT(
      ImportOnnx(gemm({1 << 20, 1 << 20}, {1.f}, false), 1),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("tensor 'w'")));
}

}  // namespace
}  // namespace fedtiny::onnx_io
