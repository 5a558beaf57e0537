// Writes, into the directory given, NAME.onnx (ExportOnnx) for each of
// onnx_test_models' models and cases.txt: random inputs in ONNX's NCHW layout
// and the outputs client::layers::Network computes on them, for onnx_eval.py to
// compare with its own evaluation of the ONNX (onnx_export_check_test).
//   onnx_export_cases DIR
#include <cstdio>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "tools/onnx/eval_cases.h"
#include "tools/onnx/onnx_model.h"
#include "tools/onnx/onnx_test_models.h"

namespace fedtiny::onnx_io {
namespace {

int Main(const std::string& dir) {
  std::ofstream cases(dir + "/cases.txt");
  std::mt19937 rng(9);
  std::normal_distribution<float> dist;
  for (const auto& [name, m] : TestModels(3)) {
    auto bytes = ExportOnnx(m);
    if (!bytes.ok()) {
      std::fprintf(stderr, "%s: %s\n", name.c_str(),
                   std::string(bytes.status().message()).c_str());
      return 1;
    }
    std::ofstream(dir + "/" + name + ".onnx", std::ios::binary) << *bytes;
    const int rows = 3;
    const auto in = m.input;
    std::vector<float> x(rows * in.size());
    for (float& v : x) v = dist(rng);
    const std::vector<float> y = RunModel(m, x, rows);
    if (y.empty()) return 1;
    WriteEvalCase(cases, name, rows, in, x, y);
  }
  return cases.good() ? 0 : 1;
}

}  // namespace
}  // namespace fedtiny::onnx_io

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: onnx_export_cases DIR\n");
    return 2;
  }
  return fedtiny::onnx_io::Main(argv[1]);
}
