// Per-tensor affine int8 quantization, w ~= scale * (q - zero_point), calibrated
// on the tensor's min and max (widened to include 0). The one definition shared
// by the device runtime (client::Quantize) and the coordinator's int8 bundles
// (Int8BodyVariant in proto/model_codec.h), which cannot depend on each other.
// Standard library only, header-only templates over any contiguous range with
// size() and operator[] (absl::Span, client::Span, std::vector), so the
// portable device core (client/core) uses it as it is.
#ifndef FEDTINY_TOOLS_BASE_INT8_QUANT_H_
#define FEDTINY_TOOLS_BASE_INT8_QUANT_H_

#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>

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
template <typename Values>
Int8Affine ChooseInt8Affine(const Values& values) {
  float lo = 0, hi = 0;
  for (size_t i = 0; i < static_cast<size_t>(values.size()); ++i) {
    lo = std::min(lo, static_cast<float>(values[i]));
    hi = std::max(hi, static_cast<float>(values[i]));
  }
  Int8Affine a;
  if (hi > lo) {
    const double scale = (static_cast<double>(hi) - lo) / 255.0;
    a.scale = static_cast<float>(std::clamp<double>(
        scale, std::numeric_limits<float>::min(), std::numeric_limits<float>::max()));
  }
  a.zero_point = static_cast<int32_t>(
      std::clamp<double>(std::round(-128.0 - lo / static_cast<double>(a.scale)), -128, 127));
  return a;
}

// QuantizeInt8 writes round(v / scale) + zero_point, saturated to [-128, 127],
// for each of `values` (finite) into `out`, which has the same size. Pure,
// thread-safe.
template <typename Values, typename Out>
void QuantizeInt8(const Values& values, Int8Affine a, Out&& out) {
  assert(static_cast<size_t>(values.size()) == static_cast<size_t>(out.size()));
  const float zero = static_cast<float>(a.zero_point);
  for (size_t i = 0; i < static_cast<size_t>(values.size()); ++i) {
    const float q = std::round(values[i] / a.scale) + zero;
    out[i] = static_cast<int8_t>(std::min(127.f, std::max(-128.f, q)));
  }
}

}  // namespace fedtiny

#endif  // FEDTINY_TOOLS_BASE_INT8_QUANT_H_
