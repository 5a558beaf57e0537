// sdk_logits MODEL.pb MODEL.onnx IMAGES.idx[.gz] COUNT DIR
//
// Writes DIR/NAME.onnx (a copy of MODEL.onnx, NAME its base name) and
// DIR/cases.txt: the first COUNT images (IDX bytes / 255, as the simulator and
// `flctl models import` read them) and the logits the SDK computes on them from
// MODEL.pb (client::Body then the head's layers: what a device runs). Then
// `python3 tools/onnx/onnx_eval.py DIR` evaluates the ONNX independently and
// compares: an exported version computes what the fleet's model computes.
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <sstream>
#include <utility>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "client/core/model.h"
#include "client/platform/linux/status_bridge.h"
#include "client/transport/model_proto.h"
#include "proto/layer_codec.h"
#include "proto/model.pb.h"
#include "sim/fashion_mnist.h"
#include "tools/base/atomic_file.h"
#include "tools/onnx/eval_cases.h"

namespace fedtiny::onnx_io {
namespace {

int Fail(const std::string& message) {
  std::fprintf(stderr, "sdk_logits: %s\n", message.c_str());
  return 1;
}

int Main(const std::string& model_path, const std::string& onnx_path,
         const std::string& images_path, int64_t count, const std::string& dir) {
  absl::StatusOr<std::string> bytes = ReadFile(model_path);
  if (!bytes.ok()) return Fail(std::string(bytes.status().message()));
  v1::Model model;
  if (!model.ParseFromString(*bytes)) return Fail(model_path + ": not a binary Model");
  absl::StatusOr<client::Body> body = client::BodyFromProto(model);
  absl::StatusOr<client::Head> head = client::HeadFromProto(model);
  if (!body.ok()) return Fail(std::string(body.status().message()));
  if (!head.ok()) return Fail(std::string(head.status().message()));
  client::layers::Shape in{1, 1, model.input_dim()};
  if (HasConvBody(model)) {
    in = {model.input_shape().h(), model.input_shape().w(), model.input_shape().c()};
  }
  std::vector<int64_t> dims;
  absl::StatusOr<std::vector<uint8_t>> pixels = sim::ReadIdx(images_path, &dims);
  if (!pixels.ok()) return Fail(std::string(pixels.status().message()));
  if (dims.empty() || static_cast<int64_t>(pixels->size()) / dims[0] != in.size()) {
    return Fail(absl::StrCat(images_path, ": images are not of ", in.size(), " values"));
  }
  const int64_t rows = std::min(count, dims[0]);
  client::RowMatrixXf x(rows, in.size());
  for (int64_t i = 0; i < x.size(); ++i) x.data()[i] = (*pixels)[i] / 255.0f;
  absl::StatusOr<client::RowMatrixXf> h = client::ToAbsl(body->Features(x));
  if (!h.ok()) return Fail(std::string(h.status().message()));
  client::RowMatrixXf logits = *h;
  for (const client::DenseLayer& l : head->layers) logits = client::DenseForward(l, logits);

  absl::StatusOr<std::string> onnx = ReadFile(onnx_path);
  if (!onnx.ok()) return Fail(std::string(onnx.status().message()));
  std::string name = onnx_path.substr(onnx_path.find_last_of('/') + 1);
  name = name.substr(0, name.rfind(".onnx"));
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Fail(absl::StrCat("cannot create ", dir, ": ", ec.message()));
  std::ostringstream cases;
  WriteEvalCase(cases, name, static_cast<int>(rows), in,
                std::vector<float>(x.data(), x.data() + x.size()),
                std::vector<float>(logits.data(), logits.data() + logits.size()));
  for (const auto& [path, data] : {std::pair{dir + "/" + name + ".onnx", *onnx},
                                   std::pair{dir + "/cases.txt", cases.str()}}) {
    if (absl::Status s = WriteFileAtomically(path, data); !s.ok()) {
      return Fail(std::string(s.message()));
    }
  }
  std::printf("wrote %s/cases.txt: %lld images, %lld logits each, for %s.onnx\n", dir.c_str(),
              static_cast<long long>(rows), static_cast<long long>(logits.cols()), name.c_str());
  return 0;
}

}  // namespace
}  // namespace fedtiny::onnx_io

int main(int argc, char** argv) {
  int64_t count = 0;
  if (argc != 6 || !absl::SimpleAtoi(argv[4], &count) || count < 1) {
    std::fprintf(stderr, "usage: sdk_logits MODEL.pb MODEL.onnx IMAGES.idx[.gz] COUNT DIR\n");
    return 2;
  }
  return fedtiny::onnx_io::Main(argv[1], argv[2], argv[3], count, argv[5]);
}
