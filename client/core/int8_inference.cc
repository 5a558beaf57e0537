#include "client/core/int8_inference.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <memory>

// Cortex-M4/M7 (and any Arm core with the DSP extension): two 16 x 16-bit
// multiply-adds per SMLAD, as CMSIS-NN's arm_nn_vec_mat_mult_t_s8 does it.
#if defined(__ARM_FEATURE_SIMD32)
#include <arm_acle.h>
#define FEDTINY_INT8_SMLAD 1
#else
#define FEDTINY_INT8_SMLAD 0
#endif

namespace fedtiny::client {
namespace {

constexpr int32_t kInt32Min = std::numeric_limits<int32_t>::min();
constexpr int32_t kInt32Max = std::numeric_limits<int32_t>::max();

int32_t ClampToInt32(int64_t v) {
  return static_cast<int32_t>(std::clamp<int64_t>(v, kInt32Min, kInt32Max));
}

// The int32 accumulator of a layer with `inputs` int8 x int8 products never
// overflows when |folded bias| + 128 * 127 * inputs fits in int32.
bool AccumulatorFits(int64_t folded_bias, int64_t inputs) {
  return std::llabs(folded_bias) + 128 * 127 * inputs <= kInt32Max;
}

}  // namespace

Int8Params Int8ParamsForRange(double lo, double hi) {
  lo = std::min(lo, 0.0);
  hi = std::max(hi, 0.0);
  Int8Params p;
  if (hi > lo) {
    p.scale = static_cast<float>(std::clamp<double>(
        (hi - lo) / 255.0, std::numeric_limits<float>::min(), std::numeric_limits<float>::max()));
  }
  p.zero_point =
      static_cast<int32_t>(std::clamp<double>(std::round(-128.0 - lo / p.scale), -128, 127));
  return p;
}

namespace {

bool AllFinite(const float* v, int64_t n) {
  for (int64_t i = 0; i < n; ++i)
    if (!std::isfinite(v[i])) return false;
  return true;
}

// Float forward of one layer over the calibration batch, in double, and the
// output's calibrated params.
Int8Params CalibrateLayer(const FloatDenseView& l, const std::vector<double>& x, int64_t rows,
                          std::vector<double>* y) {
  y->assign(static_cast<size_t>(rows) * l.outputs, 0.0);
  double lo = 0, hi = 0;
  for (int64_t r = 0; r < rows; ++r) {
    for (int32_t o = 0; o < l.outputs; ++o) {
      double acc = l.bias != nullptr ? l.bias[o] : 0.0;
      for (int32_t i = 0; i < l.inputs; ++i)
        acc += x[r * l.inputs + i] * l.weights[static_cast<int64_t>(i) * l.outputs + o];
      if (l.relu) acc = std::max(acc, 0.0);
      (*y)[r * l.outputs + o] = acc;
      lo = std::min(lo, acc);
      hi = std::max(hi, acc);
    }
  }
  return Int8ParamsForRange(lo, hi);
}

// Symmetric per-channel weights: scale = max |w| / 127 (1 for an all-zero
// channel), transposed to row-major outputs x inputs.
void QuantizeWeights(const FloatDenseView& l, Int8DenseLayer* q) {
  q->weights.resize(static_cast<size_t>(l.inputs) * l.outputs);
  q->weight_scales.resize(l.outputs);
  for (int32_t o = 0; o < l.outputs; ++o) {
    float m = 0;
    for (int32_t i = 0; i < l.inputs; ++i)
      m = std::max(m, std::fabs(l.weights[static_cast<int64_t>(i) * l.outputs + o]));
    const float scale = m > 0 ? m / 127.f : 1.f;
    q->weight_scales[o] = scale;
    for (int32_t i = 0; i < l.inputs; ++i) {
      const float w = l.weights[static_cast<int64_t>(i) * l.outputs + o];
      q->weights[static_cast<size_t>(o) * l.inputs + i] =
          static_cast<int8_t>(std::clamp(std::round(w / scale), -127.f, 127.f));
    }
  }
}

// Bias, folded bias and requantization multiplier of each output channel.
Int8Code QuantizeChannels(const FloatDenseView& l, Int8DenseLayer* q) {
  q->bias.resize(l.outputs);
  q->folded_bias.resize(l.outputs);
  q->multipliers.resize(l.outputs);
  q->shifts.resize(l.outputs);
  for (int32_t o = 0; o < l.outputs; ++o) {
    const double acc_scale = static_cast<double>(q->input.scale) * q->weight_scales[o];
    const double b = std::round((l.bias != nullptr ? l.bias[o] : 0.0) / acc_scale);
    if (!(std::fabs(b) <= kInt32Max)) return Int8Code::kOutOfRange;
    q->bias[o] = static_cast<int32_t>(b);
    int64_t wsum = 0;
    for (int32_t i = 0; i < l.inputs; ++i)
      wsum += q->weights[static_cast<size_t>(o) * l.inputs + i];
    const int64_t folded = q->bias[o] - static_cast<int64_t>(q->input.zero_point) * wsum;
    if (!AccumulatorFits(folded, l.inputs)) return Int8Code::kOutOfRange;
    q->folded_bias[o] = static_cast<int32_t>(folded);
    int shift = 0;
    if (!QuantizeMultiplier(acc_scale / q->output.scale, &q->multipliers[o], &shift))
      return Int8Code::kOutOfRange;
    q->shifts[o] = shift;
  }
  return Int8Code::kOk;
}

Int8Status CheckViews(const FloatDenseView* layers, int32_t num_layers, const float* calibration,
                      int64_t rows) {
  if (layers == nullptr || num_layers < 1 || calibration == nullptr || rows < 1)
    return {Int8Code::kInvalidArgument, -1};
  for (int32_t l = 0; l < num_layers; ++l) {
    const FloatDenseView& v = layers[l];
    if (v.inputs < 1 || v.outputs < 1 || v.weights == nullptr)
      return {Int8Code::kInvalidArgument, l};
    if (l > 0 && v.inputs != layers[l - 1].outputs) return {Int8Code::kShapeMismatch, l};
    if (!AllFinite(v.weights, static_cast<int64_t>(v.inputs) * v.outputs) ||
        (v.bias != nullptr && !AllFinite(v.bias, v.outputs)))
      return {Int8Code::kInvalidArgument, l};
  }
  if (!AllFinite(calibration, rows * layers[0].inputs)) return {Int8Code::kInvalidArgument, -1};
  return {};
}

// Widens one example's int8 inputs to int16, once per example. With SMLAD,
// each group of four is stored as x0, x2, x1, x3 (CMSIS-NN's reordered
// widening), so that SXTB16 of four packed weights lines up with it.
inline void Widen(const int8_t* x, int32_t n, int16_t* widened) {
  int32_t i = 0;
#if FEDTINY_INT8_SMLAD
  for (; i + 4 <= n; i += 4) {
    widened[i] = x[i];
    widened[i + 1] = x[i + 2];
    widened[i + 2] = x[i + 1];
    widened[i + 3] = x[i + 3];
  }
#endif
  for (; i < n; ++i) widened[i] = x[i];
}

// The dot product of one widened example with one output channel's int8
// weights. Portable: an int16 x int8 product summed into int32 is the
// multiply-add GCC maps to pmaddwd (SSE2); with int8 on both sides GCC widened
// and multiplied element by element, at half the speed. With SMLAD: four
// weights per load, sign-extended in pairs (SXTB16), two dual multiply-adds.
// Integer sums are exact, so both give the same result.
inline int32_t Dot(const int16_t* x, const int8_t* w, int32_t n) {
  int32_t acc = 0;
  int32_t i = 0;
#if FEDTINY_INT8_SMLAD
  for (; i + 4 <= n; i += 4) {
    int32_t w4, x02, x13;
    std::memcpy(&w4, w + i, 4);
    std::memcpy(&x02, x + i, 4);
    std::memcpy(&x13, x + i + 2, 4);
    acc = __smlad(x02, __sxtb16(w4), acc);  // x0 w0 + x2 w2
    const uint32_t u = static_cast<uint32_t>(w4);
    const int32_t w4_ror8 = static_cast<int32_t>((u >> 8) | (u << 24));
    acc = __smlad(x13, __sxtb16(w4_ror8), acc);  // x1 w1 + x3 w3
  }
#endif
  for (; i < n; ++i) acc += static_cast<int32_t>(x[i]) * static_cast<int16_t>(w[i]);
  return acc;
}

// Bytes of `rows` x widest hidden output, once or twice (ping-pong).
int64_t PingPongBytes(const Int8Body& body, int64_t rows) {
  const size_t n = body.layers.size();
  int64_t widest = 0;
  for (size_t l = 0; l + 1 < n; ++l) widest = std::max<int64_t>(widest, body.layers[l].outputs);
  return (n >= 3 ? 2 : 1) * rows * widest;
}

int32_t WidestInput(const Int8Body& body) {
  int32_t widest = 0;
  for (const Int8DenseLayer& l : body.layers) widest = std::max(widest, l.inputs);
  return widest;
}

}  // namespace

const char* Int8CodeName(Int8Code code) {
  switch (code) {
    case Int8Code::kOk:
      return "kOk";
    case Int8Code::kInvalidArgument:
      return "kInvalidArgument";
    case Int8Code::kShapeMismatch:
      return "kShapeMismatch";
    case Int8Code::kScratchTooSmall:
      return "kScratchTooSmall";
    case Int8Code::kOutOfRange:
      return "kOutOfRange";
  }
  return "unknown";
}

int32_t SaturatingRoundingDoublingHighMul(int32_t a, int32_t b) {
  const bool overflow = a == b && a == kInt32Min;
  const int64_t ab = static_cast<int64_t>(a) * b;
  const int32_t nudge = ab >= 0 ? (1 << 30) : (1 - (1 << 30));
  const int32_t high = static_cast<int32_t>((ab + nudge) / (int64_t{1} << 31));
  return overflow ? kInt32Max : high;
}

int32_t RoundingDivideByPOT(int32_t x, int exponent) {
  const int32_t mask = static_cast<int32_t>((int64_t{1} << exponent) - 1);
  const int32_t remainder = x & mask;
  const int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
  return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

int32_t MultiplyByQuantizedMultiplier(int32_t x, int32_t multiplier, int shift) {
  const int left = shift > 0 ? shift : 0;
  const int right = shift > 0 ? 0 : -shift;
  const int32_t shifted = ClampToInt32(static_cast<int64_t>(x) * (int64_t{1} << left));
  return RoundingDivideByPOT(SaturatingRoundingDoublingHighMul(shifted, multiplier), right);
}

bool QuantizeMultiplier(double real, int32_t* multiplier, int* shift) {
  *multiplier = 0;
  *shift = 0;
  if (!std::isfinite(real) || real < 0) return false;
  if (real == 0) return true;
  int e = 0;
  const double q = std::frexp(real, &e);  // real = q * 2^e, q in [0.5, 1).
  int64_t fixed = static_cast<int64_t>(std::round(q * (int64_t{1} << 31)));
  if (fixed == (int64_t{1} << 31)) {
    fixed /= 2;
    ++e;
  }
  if (e > 30) return false;
  if (e < -31) return true;  // Below 2^-32: every int32 product rounds to 0 or +-1.
  *multiplier = static_cast<int32_t>(fixed);
  *shift = e;
  return true;
}

Int8Status QuantizeBody(const FloatDenseView* layers, int32_t num_layers, const float* calibration,
                        int64_t rows, Int8Body* out) {
  if (Int8Status s = CheckViews(layers, num_layers, calibration, rows); !s.ok()) return s;
  std::vector<double> x(calibration, calibration + rows * layers[0].inputs), y;
  double lo = 0, hi = 0;
  for (double v : x) lo = std::min(lo, v), hi = std::max(hi, v);
  Int8Params input = Int8ParamsForRange(lo, hi);
  Int8Body body;
  for (int32_t l = 0; l < num_layers; ++l) {
    Int8DenseLayer q;
    q.inputs = layers[l].inputs;
    q.outputs = layers[l].outputs;
    q.input = input;
    q.output = CalibrateLayer(layers[l], x, rows, &y);
    q.activation_min = layers[l].relu ? q.output.zero_point : -128;
    QuantizeWeights(layers[l], &q);
    if (Int8Code c = QuantizeChannels(layers[l], &q); c != Int8Code::kOk) return {c, l};
    input = q.output;
    x.swap(y);
    body.layers.push_back(std::move(q));
  }
  *out = std::move(body);
  return {};
}

void QuantizeInput(const float* x, int64_t n, Int8Params p, int8_t* q) {
  const float zero = static_cast<float>(p.zero_point);
  for (int64_t i = 0; i < n; ++i) {
    const float v = std::round(x[i] / p.scale) + zero;
    q[i] = static_cast<int8_t>(std::min(127.f, std::max(-128.f, v)));
  }
}

void DequantizeOutput(const int8_t* q, int64_t n, Int8Params p, float* x) {
  for (int64_t i = 0; i < n; ++i) x[i] = p.scale * static_cast<float>(q[i] - p.zero_point);
}

void Int8DenseForward(const Int8DenseLayer& l, const int8_t* x, int64_t rows, int8_t* y,
                      int16_t* widened) {
  for (int64_t r = 0; r < rows; ++r) {
    const int8_t* xr = x + r * l.inputs;
    Widen(xr, l.inputs, widened);
    int32_t offset = 0;  // -weight_zero_point * sum_i x[i]; 0 for symmetric weights.
    if (l.weight_zero_point != 0) {
      for (int32_t i = 0; i < l.inputs; ++i) offset += widened[i];
      offset *= -l.weight_zero_point;
    }
    int8_t* yr = y + r * l.outputs;
    for (int32_t o = 0; o < l.outputs; ++o) {
      const int32_t acc =
          l.folded_bias[o] + offset +
          Dot(widened, l.weights.data() + static_cast<size_t>(o) * l.inputs, l.inputs);
      const int32_t v =
          MultiplyByQuantizedMultiplier(acc, l.multipliers[o], l.shifts[o]) + l.output.zero_point;
      yr[o] = static_cast<int8_t>(std::clamp(v, l.activation_min, l.activation_max));
    }
  }
}

int64_t Int8ScratchBytes(const Int8Body& body, int64_t rows) {
  if (body.layers.empty() || rows < 1) return 0;
  return PingPongBytes(body, rows) + static_cast<int64_t>(sizeof(int16_t)) * WidestInput(body) +
         alignof(int16_t) - 1;
}

Int8Status Int8BodyForward(const Int8Body& body, const int8_t* x, int64_t x_size, int64_t rows,
                           int8_t* y, int64_t y_size, int8_t* scratch, int64_t scratch_size) {
  const int32_t n = static_cast<int32_t>(body.layers.size());
  if (n == 0 || x == nullptr || y == nullptr || rows < 1) return {Int8Code::kInvalidArgument, -1};
  for (int32_t l = 1; l < n; ++l)
    if (body.layers[l].inputs != body.layers[l - 1].outputs) return {Int8Code::kShapeMismatch, l};
  if (x_size != rows * body.input_width() || y_size != rows * body.output_width())
    return {Int8Code::kShapeMismatch, -1};
  if (scratch == nullptr || scratch_size < Int8ScratchBytes(body, rows))
    return {Int8Code::kScratchTooSmall, -1};
  // Layout: ping, pong, then the int16 row at the first aligned address.
  const int64_t pingpong = PingPongBytes(body, rows);
  const int64_t half = n >= 3 ? pingpong / 2 : pingpong;
  void* row = scratch + pingpong;
  size_t space = static_cast<size_t>(scratch_size - pingpong);
  int16_t* widened = static_cast<int16_t*>(
      std::align(alignof(int16_t), sizeof(int16_t) * WidestInput(body), row, space));
  const int8_t* in = x;
  for (int32_t l = 0; l < n; ++l) {
    int8_t* out = l == n - 1 ? y : scratch + (l % 2) * half;
    Int8DenseForward(body.layers[l], in, rows, out, widened);
    in = out;
  }
  return {};
}

}  // namespace fedtiny::client
