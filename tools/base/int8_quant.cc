#include "tools/base/int8_quant.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <limits>

namespace fedtiny {

Int8Affine ChooseInt8Affine(absl::Span<const float> values) {
  float lo = 0, hi = 0;
  for (float v : values) {
    lo = std::min(lo, v);
    hi = std::max(hi, v);
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

void QuantizeInt8(absl::Span<const float> values, Int8Affine a, absl::Span<int8_t> out) {
  assert(values.size() == out.size());
  const float zero = static_cast<float>(a.zero_point);
  for (size_t i = 0; i < values.size(); ++i) {
    const float q = std::round(values[i] / a.scale) + zero;
    out[i] = static_cast<int8_t>(std::min(127.f, std::max(-128.f, q)));
  }
}

}  // namespace fedtiny
