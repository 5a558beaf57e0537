// cnn_model_gen ONNX DATA_DIR COUNT OUT.h
//
// The real DS-CNN's int8 body for the Cortex-M program (cnn_model_perf.cc):
// imports ONNX with two head layers and builds its int8 variant as `flctl
// models import` does (coordinator::RunImport, calibrated on the first 6000
// training images of DATA_DIR, the proxy split), then writes OUT.h: every
// Int8LayerSpec's data as constant arrays and BuildNetwork() making the
// Int8Network from them; the float head (cnn_head.h); the first COUNT test
// images as bytes with their labels; and the host's int8 body outputs and
// top-1 for each. The host's outputs are checked here first: Int8Network's
// kernels against the naive integer reference (int8_naive_reference.h), the
// dequantized outputs against client::Body::Features of the int8 variant (the
// devices' path) and HeadTop1's accuracy against client::Evaluate's. Floats
// are written as hexadecimal literals, so the device reads the same bits.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <type_traits>
#include <variant>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "client/core/int8_inference.h"
#include "client/core/layers/int8_naive_reference.h"
#include "client/core/layers/int8_network.h"
#include "client/core/model.h"
#include "client/platform/linux/status_bridge.h"
#include "client/transport/model_proto.h"
#include "coordinator/models/import_command.h"
#include "gtest/gtest.h"
#include "proto/int8_layer_codec.h"
#include "sim/fashion_mnist.h"
#include "tools/base/atomic_file.h"
#include "tools/cross/perf/cnn_head.h"

namespace fedtiny::cnn_model {
namespace {

namespace ly = client::layers;

constexpr int64_t kProxyCount = 6000;  // The proxy split (docs/models.md).

int Fail(const std::string& message) {
  std::fprintf(stderr, "cnn_model_gen: %s\n", message.c_str());
  return 1;
}

std::string Float(float f) { return absl::StrFormat("%af", f); }

// Writes `name`, a constant array of `v` (ints, or floats in hex).
template <typename T>
void Array(std::string& out, const char* type, const std::string& name, const std::vector<T>& v) {
  absl::StrAppend(&out, "inline const ", type, " ", name, "[", std::max<size_t>(v.size(), 1),
                  "] = {");
  for (size_t i = 0; i < v.size(); ++i) {
    if (i % 16 == 0) out += "\n   ";
    if constexpr (std::is_floating_point_v<T>) {
      absl::StrAppend(&out, " ", Float(v[i]), ",");
    } else {
      absl::StrAppend(&out, " ", static_cast<int64_t>(v[i]), ",");
    }
  }
  out += "\n};\n";
}

std::string Params(const client::Int8Params& p) {
  return absl::StrCat("client::Int8Params{", Float(p.scale), ", ", p.zero_point, "}");
}

std::string WindowCode(const ly::Window& w) {
  return absl::StrFormat("ly::Window{%d, %d, %d, %d, %d, %d, ly::Padding{%d, %d, %d, %d}}",
                         w.kernel_h, w.kernel_w, w.stride_h, w.stride_w, w.dilation_h, w.dilation_w,
                         w.padding.top, w.padding.left, w.padding.bottom, w.padding.right);
}

// The arrays of a channel quantization, and the statements filling l.quant.
void ChannelQuant(std::string& arrays, std::string& code, const std::string& p,
                  const ly::Int8ChannelQuant& q) {
  Array(arrays, "float", p + "WeightScales", q.weight_scales);
  Array(arrays, "int32_t", p + "Bias", q.bias);
  Array(arrays, "int32_t", p + "Multipliers", q.multipliers);
  Array(arrays, "int32_t", p + "Shifts", q.shifts);
  const auto assign = [&](const char* field, size_t n, const std::string& a) {
    absl::StrAppend(&code, "    l.quant.", field, ".assign(", a, ", ", a, " + ", n, ");\n");
  };
  absl::StrAppend(&code, "    l.quant.input = ", Params(q.input),
                  ";\n    l.quant.output = ", Params(q.output), ";\n");
  assign("weight_scales", q.weight_scales.size(), p + "WeightScales");
  assign("bias", q.bias.size(), p + "Bias");
  assign("multipliers", q.multipliers.size(), p + "Multipliers");
  assign("shifts", q.shifts.size(), p + "Shifts");
  absl::StrAppend(&code, "    l.quant.activation_min = ", q.activation_min,
                  ";\n    l.quant.activation_max = ", q.activation_max, ";\n");
}

// One layer: its arrays (into `arrays`) and a block pushing it (into `code`).
void Layer(std::string& arrays, std::string& code, size_t index, const ly::Int8LayerSpec& spec) {
  const std::string p = absl::StrCat("kLayer", index);
  std::visit(
      [&](const auto& l) {
        using L = std::decay_t<decltype(l)>;
        absl::StrAppend(&code, "  {  // ", index, ": ", L::kName, "\n    ly::",
                        std::is_same_v<L, ly::Int8Conv2d>            ? "Int8Conv2d"
                        : std::is_same_v<L, ly::Int8DepthwiseConv2d> ? "Int8DepthwiseConv2d"
                        : std::is_same_v<L, ly::Int8AvgPool2d>       ? "Int8AvgPool2d"
                        : std::is_same_v<L, ly::Int8MaxPool2d>       ? "Int8MaxPool2d"
                        : std::is_same_v<L, ly::Int8GlobalAvgPool2d> ? "Int8GlobalAvgPool2d"
                        : std::is_same_v<L, ly::Int8Flatten>         ? "Int8Flatten"
                        : std::is_same_v<L, ly::Int8Activation>      ? "Int8Activation"
                                                                     : "Int8Dense",
                        " l;\n");
        if constexpr (std::is_same_v<L, ly::Int8Conv2d> ||
                      std::is_same_v<L, ly::Int8DepthwiseConv2d> ||
                      std::is_same_v<L, ly::Int8Dense>) {
          Array(arrays, "int8_t", p + "Weights", l.weights);
          absl::StrAppend(&code, "    l.weights.assign(", p, "Weights, ", p, "Weights + ",
                          l.weights.size(), ");\n");
          ChannelQuant(arrays, code, p, l.quant);
        }
        if constexpr (std::is_same_v<L, ly::Int8Conv2d>) {
          absl::StrAppend(&code, "    l.in_channels = ", l.in_channels,
                          ";\n    l.out_channels = ", l.out_channels,
                          ";\n    l.window = ", WindowCode(l.window), ";\n");
        } else if constexpr (std::is_same_v<L, ly::Int8DepthwiseConv2d>) {
          absl::StrAppend(&code, "    l.in_channels = ", l.in_channels,
                          ";\n    l.channel_multiplier = ", l.channel_multiplier,
                          ";\n    l.window = ", WindowCode(l.window), ";\n");
        } else if constexpr (std::is_same_v<L, ly::Int8Dense>) {
          absl::StrAppend(&code, "    l.in_features = ", l.in_features,
                          ";\n    l.out_features = ", l.out_features, ";\n");
        } else {
          absl::StrAppend(&code, "    l.quant = ", Params(l.quant), ";\n");
          if constexpr (std::is_same_v<L, ly::Int8AvgPool2d>) {
            absl::StrAppend(&code, "    l.window = ", WindowCode(l.window),
                            ";\n    l.count_include_pad = ", l.count_include_pad ? "true" : "false",
                            ";\n");
          } else if constexpr (std::is_same_v<L, ly::Int8MaxPool2d>) {
            absl::StrAppend(&code, "    l.window = ", WindowCode(l.window), ";\n");
          } else if constexpr (std::is_same_v<L, ly::Int8Activation>) {
            absl::StrAppend(&code, "    l.activation_min = ", l.activation_min,
                            ";\n    l.activation_max = ", l.activation_max, ";\n");
          }
        }
        code += "    layers.push_back(std::move(l));\n  }\n";
      },
      spec);
}

int Main(const std::string& onnx, const std::string& data, int64_t count,
         const std::string& out_path) {
  coordinator::ImportArgs args;
  args.onnx_path = onnx;
  args.head_layers = 2;
  args.proxy_images = data + "/train-images-idx3-ubyte.gz";
  args.proxy_labels = data + "/train-labels-idx1-ubyte.gz";
  args.proxy_count = kProxyCount;
  absl::StatusOr<coordinator::ImportResult> imported = coordinator::RunImport(args);
  if (!imported.ok()) return Fail(std::string(imported.status().message()));
  const auto it = imported->variants.body_variants().find("int8");
  if (it == imported->variants.body_variants().end()) return Fail("the import made no int8 body");
  v1::Model int8 = it->second.model();
  *int8.mutable_head() = imported->model.head();  // What an int8 device runs.
  absl::StatusOr<ly::Int8Network> net = Int8NetworkFromProto(int8);
  if (!net.ok()) return Fail(std::string(net.status().message()));
  if (int8.head_size() != 2) return Fail("the head is not two dense layers");

  std::vector<int64_t> dims, label_dims;
  absl::StatusOr<std::vector<uint8_t>> pixels =
      sim::ReadIdx(data + "/t10k-images-idx3-ubyte.gz", &dims);
  absl::StatusOr<std::vector<uint8_t>> labels =
      sim::ReadIdx(data + "/t10k-labels-idx1-ubyte.gz", &label_dims);
  if (!pixels.ok()) return Fail(std::string(pixels.status().message()));
  if (!labels.ok()) return Fail(std::string(labels.status().message()));
  const int64_t in_size = net->input().size(), out_size = net->output().size();
  if (dims.size() != 3 || dims[1] * dims[2] != in_size || count < 1 || count > dims[0]) {
    return Fail(absl::StrCat("want 1..", dims.empty() ? 0 : dims[0], " test images of ", in_size,
                             " pixels"));
  }

  // The host's int8 body, as the device will run it: pixels / 255 in float,
  // QuantizeInput, ForwardInt8.
  std::vector<unsigned char> arena_bytes(static_cast<size_t>(net->ArenaBytes()));
  client::Arena arena(arena_bytes.data(), static_cast<int64_t>(arena_bytes.size()));
  if (!net->Bind(arena).ok()) return Fail("arena");
  const size_t n = static_cast<size_t>(count);
  std::vector<uint8_t> images(pixels->begin(), pixels->begin() + n * in_size);
  client::RowMatrixXf x(count, in_size);
  for (int64_t i = 0; i < x.size(); ++i) x.data()[i] = images[i] / 255.0f;
  std::vector<int8_t> qx(n * in_size), qy(n * out_size);
  client::QuantizeInput(x.data(), x.size(), net->input_quant(), qx.data());
  if (!net->ForwardInt8(qx.data(), count, qy.data()).ok()) return Fail("ForwardInt8");
  for (size_t i = 0; i < n; ++i) {
    const std::vector<int8_t> ref = ly::RefForward(
        *net, std::vector<int8_t>(qx.begin() + i * in_size, qx.begin() + (i + 1) * in_size));
    if (!std::equal(ref.begin(), ref.end(), qy.begin() + i * out_size) ||
        testing::UnitTest::GetInstance()->ad_hoc_test_result().Failed()) {
      return Fail(absl::StrCat("image ", i, ": Int8Network differs from the naive reference"));
    }
  }
  // The devices' path (client::Body of the int8 variant) gives the same features.
  absl::StatusOr<client::Body> body = client::BodyFromProto(int8);
  absl::StatusOr<client::Head> head = client::HeadFromProto(int8);
  if (!body.ok() || !head.ok()) return Fail("BodyFromProto/HeadFromProto");
  absl::StatusOr<client::RowMatrixXf> features = client::ToAbsl(body->Features(x));
  if (!features.ok()) return Fail(std::string(features.status().message()));
  std::vector<float> dq(qy.size());
  client::DequantizeOutput(qy.data(), static_cast<int64_t>(qy.size()), net->output_quant(),
                           dq.data());
  if (features->size() != static_cast<int64_t>(dq.size()) ||
      !std::equal(dq.begin(), dq.end(), features->data())) {
    return Fail("client::Body's int8 features differ from Int8Network::ForwardInt8's");
  }

  // The head and the top-1.
  std::vector<std::vector<float>> weights(2), biases(2);
  HeadLayerView views[2];
  for (int l = 0; l < 2; ++l) {
    const v1::DenseLayer& d = int8.head(l);
    weights[l].assign(d.weights().values().begin(), d.weights().values().end());
    biases[l].assign(d.bias().values().begin(), d.bias().values().end());
    views[l] = {d.inputs(), d.outputs(), d.relu(), weights[l].data(), biases[l].data()};
  }
  std::vector<int32_t> top1(n), label(labels->begin(), labels->begin() + n);
  int64_t correct = 0;
  for (size_t i = 0; i < n; ++i) {
    top1[i] = HeadTop1(views, 2, dq.data() + i * out_size);
    if (top1[i] < 0) return Fail("a head layer wider than kMaxHeadWidth");
    correct += top1[i] == label[i];
  }
  absl::StatusOr<client::Evaluation> eval =
      client::ToAbsl(client::Evaluate(*head, *features, label));
  if (!eval.ok()) return Fail(std::string(eval.status().message()));
  if (eval->examples != count || eval->accuracy != static_cast<double>(correct) / count) {
    return Fail(absl::StrCat("HeadTop1's accuracy ", correct, "/", count,
                             " is not client::Evaluate's ", eval->accuracy));
  }

  std::string arrays, code;
  for (size_t i = 0; i < net->layers().size(); ++i) Layer(arrays, code, i, net->layers()[i]);
  std::string h = absl::StrCat(
      "// Generated by //tools/cross:cnn_model_gen from ", onnx,
      " (head_layers=2; int8 calibrated on the first ", kProxyCount, " training images; the first ",
      count,
      " test images): do not edit.\n"
      "#ifndef FEDTINY_CNN_MODEL_DATA_H_\n#define FEDTINY_CNN_MODEL_DATA_H_\n\n"
      "#include <cstdint>\n#include <utility>\n#include <vector>\n\n"
      "#include \"client/core/layers/int8_network.h\"\n"
      "#include \"tools/cross/perf/cnn_head.h\"\n\n"
      "namespace fedtiny::cnn_model {\n\nnamespace ly = ::fedtiny::client::layers;\n\n");
  absl::StrAppend(&h, "inline constexpr int32_t kImages = ", count,
                  ";\ninline constexpr int32_t kInputSize = ", in_size,
                  ";\ninline constexpr int32_t kFeatures = ", out_size,
                  ";\ninline constexpr int32_t kArenaBytes = ", net->ArenaBytes(),
                  ";\ninline constexpr int32_t kWeightBytes = ", net->weight_bytes(),
                  ";\ninline constexpr int32_t kHostCorrect = ", correct, ";\n\n");
  Array(h, "uint8_t", "kImagePixels", images);
  Array(h, "uint8_t", "kLabels", label);
  Array(h, "int8_t", "kExpectedFeatures", qy);
  Array(h, "uint8_t", "kExpectedTop1", top1);
  for (int l = 0; l < 2; ++l) {
    Array(h, "float", absl::StrCat("kHead", l, "Weights"), weights[l]);
    Array(h, "float", absl::StrCat("kHead", l, "Bias"), biases[l]);
  }
  absl::StrAppend(&h, "inline const HeadLayerView kHead[2] = {\n");
  for (int l = 0; l < 2; ++l) {
    absl::StrAppend(&h, "    {", views[l].in, ", ", views[l].out, ", ",
                    views[l].relu ? "true" : "false", ", kHead", l, "Weights, kHead", l,
                    "Bias},\n");
  }
  absl::StrAppend(&h, "};\n\n", arrays, "\n// The int8 body, checked by Int8Network::Create.\n",
                  "inline client::StatusOr<ly::Int8Network> BuildNetwork() {\n",
                  "  std::vector<ly::Int8LayerSpec> layers;\n", code,
                  "  return ly::Int8Network::Create(ly::Shape{", net->input().h, ", ",
                  net->input().w, ", ", net->input().c, "}, ", Params(net->input_quant()),
                  ", std::move(layers));\n}\n\n}  // namespace fedtiny::cnn_model\n\n"
                  "#endif  // FEDTINY_CNN_MODEL_DATA_H_\n");
  if (absl::Status s = WriteFileAtomically(out_path, h); !s.ok()) {
    return Fail(std::string(s.message()));
  }
  std::printf(
      "cnn_model_gen: %s: %d layers, weights %ld bytes, arena %ld bytes; host top-1 %ld/%ld"
      " on the first %ld test images\n",
      out_path.c_str(), static_cast<int>(net->layers().size()),
      static_cast<long>(net->weight_bytes()), static_cast<long>(net->ArenaBytes()),
      static_cast<long>(correct), static_cast<long>(count), static_cast<long>(count));
  return 0;
}

}  // namespace
}  // namespace fedtiny::cnn_model

int main(int argc, char** argv) {
  int64_t count = 0;
  if (argc != 5 || !absl::SimpleAtoi(argv[3], &count)) {
    std::fprintf(stderr, "usage: cnn_model_gen ONNX DATA_DIR COUNT OUT.h\n");
    return 2;
  }
  return fedtiny::cnn_model::Main(argv[1], argv[2], count, argv[4]);
}
