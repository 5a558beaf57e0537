// The torch exports of testdata/ (make_cases.py) for the tests: the files and
// the inputs and PyTorch outputs of cases.txt (inputs already NHWC, as the
// core reads them). Test-only; header-only.
#ifndef FEDTINY_TOOLS_ONNX_ONNX_TEST_CASES_H_
#define FEDTINY_TOOLS_ONNX_ONNX_TEST_CASES_H_

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace fedtiny::onnx_io {

inline std::string TestData(const std::string& file) {
  const char* srcdir = std::getenv("TEST_SRCDIR");
  const char* ws = std::getenv("TEST_WORKSPACE");
  std::string root = srcdir ? std::string(srcdir) + "/" + (ws ? ws : "__main__") + "/" : "";
  return root + "tools/onnx/testdata/" + file;
}

inline std::string ReadFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

struct Case {
  std::string name;
  int rows = 0;
  std::vector<float> x;   // rows x input, NHWC.
  std::vector<double> y;  // rows x outputs, PyTorch's (float64).
};

inline std::vector<Case> ReadCases() {
  std::ifstream f(TestData("cases.txt"));
  std::vector<Case> cases;
  std::string line;
  while (std::getline(f, line)) {
    std::istringstream in(line);
    std::string key;
    in >> key;
    if (key == "case") {
      cases.emplace_back();
      int in_size, out_size;
      in >> cases.back().name >> cases.back().rows >> in_size >> out_size;
    } else if (key == "x") {
      for (float v; in >> v;) cases.back().x.push_back(v);
    } else if (key == "y") {
      for (double v; in >> v;) cases.back().y.push_back(v);
    }
  }
  return cases;
}

}  // namespace fedtiny::onnx_io

#endif  // FEDTINY_TOOLS_ONNX_ONNX_TEST_CASES_H_
