// A naive reference of Int8Network's integer arithmetic, for the tests: its own
// loops over the layers' integers (NHWC, explicit padding checks, OHWI conv
// weights), the requantization from TFLite's definition in 128-bit integers
// (x * 2^left saturated to int32, the doubling high multiply rounding half up,
// the division by 2^right rounding half away from zero) and double-checked
// within 1 of the exact real product (a gtest failure otherwise), averages
// with std::round. Written apart from int8_conv.cc and int8_layers.cc so that
// the two agree only if both are right. Free functions; thread-safe.
#ifndef FEDTINY_CLIENT_CORE_LAYERS_INT8_NAIVE_REFERENCE_H_
#define FEDTINY_CLIENT_CORE_LAYERS_INT8_NAIVE_REFERENCE_H_

#include <cstdint>
#include <vector>

#include "client/core/layers/int8_network.h"
#include "client/core/layers/shape.h"

namespace fedtiny::client::layers {

// RefMultiply: MultiplyByQuantizedMultiplier(x, m, shift) from its definition.
int32_t RefMultiply(int32_t x, int32_t m, int shift);

// RefLayer: layer `spec` on one example `x` of shape `in` (output `out`).
std::vector<int8_t> RefLayer(const Int8LayerSpec& spec, Shape in, Shape out,
                             const std::vector<int8_t>& x);

// RefForward: every layer of `net` on one example.
std::vector<int8_t> RefForward(const Int8Network& net, std::vector<int8_t> x);

}  // namespace fedtiny::client::layers

#endif  // FEDTINY_CLIENT_CORE_LAYERS_INT8_NAIVE_REFERENCE_H_
