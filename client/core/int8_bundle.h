// The bridge from the coordinator's int8 bundles (per-tensor asymmetric
// weights, tools/base/int8_quant.h, as QuantizedDenseLayer holds them) to the
// integer kernels of int8_inference.h.
//
// The bundle's integers are used as they are: the layer keeps the bundle's
// weight zero point (Int8DenseLayer::weight_zero_point), which the kernel
// folds in with one sum per example, as TFLite's uint8 kernels did. Converting
// to symmetric per-channel weights instead would round already-rounded
// weights a second time (up to another half step each) for no saving: the
// bundle's weights are what the coordinator aggregated and sent.
//
// The bundle carries no activation ranges; the caller supplies them
// (client::Body::Calibrate measures them on the device's own examples).
// Portable C++17, standard library only.
#ifndef FEDTINY_CLIENT_CORE_INT8_BUNDLE_H_
#define FEDTINY_CLIENT_CORE_INT8_BUNDLE_H_

#include <cstdint>

#include "client/core/int8_inference.h"

namespace fedtiny::client {

// A bundle's int8 dense layer: W(o, i) ~= scale * (q(o, i) - zero_point).
// Borrowed: the pointers must outlive the call they are passed to.
struct AffineInt8LayerView {
  int32_t inputs = 0;
  int32_t outputs = 0;
  const int8_t* q = nullptr;  // outputs x inputs, column-major: (o, i) at i * outputs + o.
  float scale = 1;            // Positive and finite.
  int32_t zero_point = 0;     // In [-128, 127].
  const float* bias = nullptr;  // outputs floats; null means zero.
  bool relu = false;
};

// Int8LayerFromAffine builds the kernel's layer from `v`, with activation
// params `input` and `output`: weights transposed to row-major, bias rounded
// to int32 at scale input.scale * v.scale, the input and weight zero points
// folded into the bias, one requantization multiplier (the same for every
// channel). Returns kInvalidArgument (null q, zero width, a non-finite scale
// or bias, a zero point outside [-128, 127]) or kOutOfRange (a bias or
// multiplier that does not fit, or an accumulator that could overflow int32);
// `*out` is unchanged on error. Allocates `*out`'s arrays. Thread-safe.
Int8Status Int8LayerFromAffine(const AffineInt8LayerView& v, Int8Params input,
                               Int8Params output, Int8DenseLayer* out);

}  // namespace fedtiny::client

#endif  // FEDTINY_CLIENT_CORE_INT8_BUNDLE_H_
