// Seeded models in the core's layers for tools/onnx's export tests: every layer
// type, odd sizes, strides, dilation and asymmetric padding, both
// count_include_pad settings, a dense layer on a 3x3 map with and without a
// Flatten before it, and a dense-only model. Test-only; free functions.
#ifndef FEDTINY_TOOLS_ONNX_ONNX_TEST_MODELS_H_
#define FEDTINY_TOOLS_ONNX_ONNX_TEST_MODELS_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "tools/onnx/onnx_model.h"

namespace fedtiny::onnx_io {

// TestModels are named models with parameters uniform in [-1, 1] from `seed`.
std::vector<std::pair<std::string, ImportedModel>> TestModels(uint32_t seed);

// RunModel is the body then the head on `rows` NHWC examples, by
// client::layers::Network (empty when the layers do not chain).
std::vector<float> RunModel(const ImportedModel& m, const std::vector<float>& x,
                            int rows);

}  // namespace fedtiny::onnx_io

#endif  // FEDTINY_TOOLS_ONNX_ONNX_TEST_MODELS_H_
