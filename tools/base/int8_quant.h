// Per-tensor affine int8 quantization, w ~= scale * (q - zero_point), calibrated
// on the tensor's min and max (widened to include 0). The one definition shared
// by the device runtime (client::Quantize) and the coordinator's int8 bundles
// (Int8BodyVariant in proto/model_codec.h), which cannot depend on each other.
#ifndef FEDTINY_TOOLS_BASE_INT8_QUANT_H_
#define FEDTINY_TOOLS_BASE_INT8_QUANT_H_

#include <cstdint>

#include "absl/types/span.h"

namespace fedtiny {

// Scale and zero point of one tensor. A value type.
struct Int8Affine {
  float scale = 1;  // Always a positive normal float (decodable).
  int32_t zero_point = 0;  // In [-128, 127].
};

// ChooseInt8Affine calibrates on `values` (finite). The scale is computed in
// double and clamped to [FLT_MIN, FLT_MAX], so a range wider than FLT_MAX or
// narrower than 255 denormals still gives a usable scale; an all-zero or empty
// tensor gets scale 1. Pure, thread-safe.
Int8Affine ChooseInt8Affine(absl::Span<const float> values);

// QuantizeInt8 writes round(v / scale) + zero_point, saturated to [-128, 127],
// for each of `values` (finite) into `out`, which has the same size. Pure,
// thread-safe.
void QuantizeInt8(absl::Span<const float> values, Int8Affine affine,
                  absl::Span<int8_t> out);

}  // namespace fedtiny

#endif  // FEDTINY_TOOLS_BASE_INT8_QUANT_H_
