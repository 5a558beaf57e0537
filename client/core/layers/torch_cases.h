// Reads testdata/torch_cases.txt, the PyTorch reference cases that
// testdata/torch_cases.py writes (its docstring has the format). Test-only.
#ifndef FEDTINY_CLIENT_CORE_LAYERS_TORCH_CASES_H_
#define FEDTINY_CLIENT_CORE_LAYERS_TORCH_CASES_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "client/core/layers/batch_norm.h"
#include "client/core/layers/conv2d.h"
#include "client/core/layers/dense.h"
#include "client/core/layers/depthwise_conv2d.h"
#include "client/core/layers/shape.h"
#include "client/core/layers/window.h"

namespace fedtiny::client::layers {

// One case: its name, its type, and its integer and float arrays by key. A
// missing key reads as empty. A value type.
struct TorchCase {
  std::string name;
  std::string type;
  std::map<std::string, std::vector<int32_t>> ints;
  std::map<std::string, std::vector<float>> floats;

  const std::vector<int32_t>& i(const std::string& key) const;
  const std::vector<float>& f(const std::string& key) const;
};

// ReadTorchCases parses `path`; an empty vector and `error` set when the file
// cannot be read or is malformed.
std::vector<TorchCase> ReadTorchCases(const std::string& path, std::string* error);

// The pieces of a case as the core's types (the keys torch_cases.py writes).
Shape InShape(const TorchCase& c);
Window WindowOf(const TorchCase& c);
Activation ActOf(const TorchCase& c);
BatchNorm BnOf(const TorchCase& c, const std::string& suffix = "");  // Views into c.
Conv2d ConvOf(const TorchCase& c);
DepthwiseConv2d DepthwiseOf(const TorchCase& c);
Dense DenseOf(const TorchCase& c);

}  // namespace fedtiny::client::layers

#endif  // FEDTINY_CLIENT_CORE_LAYERS_TORCH_CASES_H_
