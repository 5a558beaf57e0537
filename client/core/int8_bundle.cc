#include "client/core/int8_bundle.h"

#include <cmath>
#include <cstdlib>
#include <limits>
#include <utility>

namespace fedtiny::client {
namespace {

constexpr int64_t kInt32Max = std::numeric_limits<int32_t>::max();

bool ValidParams(float scale, int32_t zero_point) {
  return std::isfinite(scale) && scale > 0 && zero_point >= -128 && zero_point <= 127;
}

bool ValidView(const AffineInt8LayerView& v) {
  if (v.q == nullptr || v.inputs < 1 || v.outputs < 1 || !ValidParams(v.scale, v.zero_point))
    return false;
  for (int32_t o = 0; v.bias != nullptr && o < v.outputs; ++o)
    if (!std::isfinite(v.bias[o])) return false;
  return true;
}

// Per channel: the int32 bias, the folded bias and the weight sum.
Int8Code FoldChannel(const AffineInt8LayerView& v, int32_t o, double acc_scale,
                     Int8DenseLayer* l) {
  const double b = std::round((v.bias != nullptr ? v.bias[o] : 0.0) / acc_scale);
  if (!(std::fabs(b) <= static_cast<double>(kInt32Max))) return Int8Code::kOutOfRange;
  int64_t wsum = 0;
  for (int32_t i = 0; i < v.inputs; ++i) wsum += l->weights[static_cast<size_t>(o) * v.inputs + i];
  // sum_i (x_i - zx)(q_i - zw) = sum x q - zw sum x - zx sum q + n zx zw; the
  // kernel adds sum x q and -zw sum x, the rest is constant.
  const int64_t zx = l->input.zero_point, zw = v.zero_point;
  const int64_t folded = static_cast<int64_t>(b) - zx * wsum + int64_t{v.inputs} * zx * zw;
  // |sum x q| <= 128 * 128 * n and |zw sum x| <= 128 * 128 * n.
  if (std::llabs(folded) + 2 * 128 * 128 * int64_t{v.inputs} > kInt32Max)
    return Int8Code::kOutOfRange;
  l->bias[o] = static_cast<int32_t>(b);
  l->folded_bias[o] = static_cast<int32_t>(folded);
  return Int8Code::kOk;
}

}  // namespace

Int8Status Int8LayerFromAffine(const AffineInt8LayerView& v, Int8Params input,
                               Int8Params output, Int8DenseLayer* out) {
  if (!ValidView(v) || !ValidParams(input.scale, input.zero_point) ||
      !ValidParams(output.scale, output.zero_point))
    return {Int8Code::kInvalidArgument, -1};
  Int8DenseLayer l;
  l.inputs = v.inputs;
  l.outputs = v.outputs;
  l.input = input;
  l.output = output;
  l.weight_zero_point = v.zero_point;
  l.activation_min = v.relu ? output.zero_point : -128;
  l.weights.resize(static_cast<size_t>(v.inputs) * v.outputs);
  for (int32_t o = 0; o < v.outputs; ++o)
    for (int32_t i = 0; i < v.inputs; ++i)
      l.weights[static_cast<size_t>(o) * v.inputs + i] = v.q[static_cast<size_t>(i) * v.outputs + o];
  l.weight_scales.assign(v.outputs, v.scale);
  const double acc_scale = static_cast<double>(input.scale) * v.scale;
  int32_t multiplier = 0;
  int shift = 0;
  if (!QuantizeMultiplier(acc_scale / output.scale, &multiplier, &shift))
    return {Int8Code::kOutOfRange, -1};
  l.multipliers.assign(v.outputs, multiplier);
  l.shifts.assign(v.outputs, shift);
  l.bias.resize(v.outputs);
  l.folded_bias.resize(v.outputs);
  for (int32_t o = 0; o < v.outputs; ++o)
    if (Int8Code c = FoldChannel(v, o, acc_scale, &l); c != Int8Code::kOk) return {c, -1};
  *out = std::move(l);
  return {};
}

}  // namespace fedtiny::client
