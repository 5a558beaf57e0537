// Integer-only inference for the frozen body, the way TensorFlow Lite Micro's
// reference FullyConnected kernel and CMSIS-NN's arm_fully_connected_s8 do it:
//
//   real = scale * (q - zero_point)
//   weights:     int8, symmetric per output channel (zero point 0, range
//                [-127, 127], one scale per output);
//   activations: int8, asymmetric per tensor (scale, zero point);
//   bias:        int32 with scale input_scale * weight_scale[c], zero point 0;
//   accumulator: int32; requantized to the output's int8 by a fixed-point
//                multiplier and shift (gemmlowp's arithmetic, bit for bit);
//   ReLU:        a clamp of the output range at the output's zero point.
//
// The forward pass (Int8BodyForward) is integer only: a 32-bit multiply-add
// per weight and one 32 x 32 -> 64-bit multiply per output (requantization),
// so a Cortex-M3/M4 without an FPU runs it natively (an M0 with a library
// call for the 64-bit product, once per output); on cores with the DSP
// extension (Cortex-M4/M7/M33) the dot product uses SMLAD, two multiply-adds
// per instruction, with the same results. It allocates
// nothing: the caller passes input, output and a scratch buffer sized by
// Int8ScratchBytes, so all of it can live in one fixed arena.
//
// The converter (QuantizeBody) is offline code for the host or the phone; it
// uses float and std::vector. Portable C++17, standard library only.
#ifndef FEDTINY_CLIENT_CORE_INT8_INFERENCE_H_
#define FEDTINY_CLIENT_CORE_INT8_INFERENCE_H_

#include <cstdint>
#include <vector>

namespace fedtiny::client {

// What went wrong, without exceptions. `layer` is the index of the offending
// layer, or -1 when the problem is not a layer's. A value type.
enum class Int8Code : uint8_t {
  kOk = 0,
  kInvalidArgument,  // Null pointer, zero width, a non-finite float, no layers.
  kShapeMismatch,    // A buffer's size or a layer's width disagrees with the stack.
  kScratchTooSmall,  // Scratch smaller than Int8ScratchBytes.
  kOutOfRange,       // A quantized value (bias, multiplier) does not fit its type.
};
struct Int8Status {
  Int8Code code = Int8Code::kOk;
  int32_t layer = -1;
  [[nodiscard]] bool ok() const { return code == Int8Code::kOk; }
};

// Int8CodeName names a code ("kShapeMismatch") for logs; never null.
const char* Int8CodeName(Int8Code code);

// Scale and zero point of an int8 tensor: real = scale * (q - zero_point).
// A value type.
struct Int8Params {
  float scale = 1;         // Positive and finite.
  int32_t zero_point = 0;  // In [-128, 127].
};

// ---- Fixed-point arithmetic (gemmlowp / TFLite's common.h). Pure, thread-safe.

// SaturatingRoundingDoublingHighMul: round(a * b / 2^31), ties toward +infinity;
// the one overflowing case, a == b == INT32_MIN, gives INT32_MAX.
int32_t SaturatingRoundingDoublingHighMul(int32_t a, int32_t b);

// RoundingDivideByPOT: round(x / 2^exponent), ties away from zero, for
// exponent in [0, 31].
int32_t RoundingDivideByPOT(int32_t x, int exponent);

// MultiplyByQuantizedMultiplier: x * multiplier * 2^(shift - 31), rounded as
// TFLite does (left shift, doubling high multiply, rounding right shift: two
// roundings, so within 1 of the exact product). `multiplier` in [2^30, 2^31)
// or 0, `shift` in [-31, 30]. TFLite leaves `x << shift` overflowing undefined;
// here it saturates, which changes nothing where TFLite's result is defined.
int32_t MultiplyByQuantizedMultiplier(int32_t x, int32_t multiplier, int shift);

// QuantizeMultiplier writes `multiplier` in [2^30, 2^31) and `shift` such that
// real ~= multiplier * 2^(shift - 31), relative error <= 2^-31. Returns false,
// writing 0 and 0, when `real` is not finite, negative, or >= 2^30 (the
// shift would pass 30). A real under 2^-32 (shift below -31) becomes 0 with
// shift 0, as in TFLite.
bool QuantizeMultiplier(double real, int32_t* multiplier, int* shift);

// Int8ParamsForRange: asymmetric params for the real range [lo, hi] widened
// to include 0, split in 255 steps (tools/base/int8_quant's rule, in double);
// scale 1 for an empty range. Pure, thread-safe.
Int8Params Int8ParamsForRange(double lo, double hi);

// ---- Layers.

// One quantized dense layer, produced by QuantizeBody. Owns its arrays; read
// only during inference, so one layer may serve many threads. Weights are
// row-major outputs x inputs (each output channel's weights contiguous, as in
// TFLite's FullyConnected), unlike the float DenseLayer's column-major.
struct Int8DenseLayer {
  int32_t inputs = 0;
  int32_t outputs = 0;
  std::vector<int8_t> weights;       // outputs * inputs.
  std::vector<float> weight_scales;  // outputs.
  // 0 for QuantizeBody's symmetric weights. A bundle's per-tensor asymmetric
  // weights (int8_bundle.h) keep theirs, as TFLite's old uint8 kernels did:
  // the kernel subtracts weight_zero_point * sum_i x[i] once per example, so
  // the bundle's integers are used as they are, never re-rounded.
  int32_t weight_zero_point = 0;
  std::vector<int32_t> bias;         // outputs; scale input.scale * weight_scales[c].
  // bias[c] - input.zero_point * sum_i (weights[c][i] - weight_zero_point)
  // (CMSIS-NN's folded input offset), so the inner loop is a plain int8 dot
  // product.
  std::vector<int32_t> folded_bias;  // outputs.
  std::vector<int32_t> multipliers;  // outputs; input.scale * w_scale / output.scale.
  std::vector<int32_t> shifts;       // outputs.
  Int8Params input;
  Int8Params output;
  int32_t activation_min = -128;  // output.zero_point when the layer has ReLU.
  int32_t activation_max = 127;
};

// A stack of quantized layers: layer l's output params are layer l+1's input
// params. Immutable after QuantizeBody; safe to share between threads.
struct Int8Body {
  std::vector<Int8DenseLayer> layers;
  [[nodiscard]] const Int8Params& input() const { return layers.front().input; }
  [[nodiscard]] const Int8Params& output() const { return layers.back().output; }
  [[nodiscard]] int32_t input_width() const { return layers.front().inputs; }
  [[nodiscard]] int32_t output_width() const { return layers.back().outputs; }
};

// A float dense layer as in proto/model.proto's DenseLayer: `weights` are
// outputs x inputs, column-major (element (o, i) at i * outputs + o). Not
// owned: the pointers must outlive the call they are passed to.
struct FloatDenseView {
  int32_t inputs = 0;
  int32_t outputs = 0;
  const float* weights = nullptr;  // inputs * outputs.
  const float* bias = nullptr;     // outputs; null means zero.
  bool relu = false;
};

// QuantizeBody converts `layers` (each one's outputs == the next one's inputs)
// into `*out`, calibrating activation ranges on `calibration` (rows x
// layers[0].inputs floats, row-major): the input's and every layer's float
// output min/max over the batch, widened to include 0. Returns
// kInvalidArgument (no layers, null, no rows, non-finite value),
// kShapeMismatch (widths) or kOutOfRange (a bias or multiplier that does not
// fit); `*out` is unchanged on error. Allocates; offline use. Thread-safe.
Int8Status QuantizeBody(const FloatDenseView* layers, int32_t num_layers, const float* calibration,
                        int64_t rows, Int8Body* out);

// ---- Inference. Pure, allocation-free, thread-safe on distinct buffers.

// QuantizeInput: q[i] = clamp(round(x[i] / scale) + zero_point, -128, 127) for
// i < n. Uses float; an FPU-less device quantizes its sensor data with its own
// integer scaling or receives int8 input directly.
void QuantizeInput(const float* x, int64_t n, Int8Params params, int8_t* q);

// DequantizeOutput: x[i] = scale * (q[i] - zero_point) for i < n.
void DequantizeOutput(const int8_t* q, int64_t n, Int8Params params, float* x);

// Int8DenseForward runs one layer on `rows` examples: y (rows x outputs) from
// x (rows x inputs), both row-major. `widened` holds `inputs` int16 values of
// scratch (each row is widened once, as CMSIS-NN's fully connected kernel
// does). No buffer may alias another. No checks.
void Int8DenseForward(const Int8DenseLayer& layer, const int8_t* x, int64_t rows, int8_t* y,
                      int16_t* widened);

// Int8ScratchBytes: bytes of scratch Int8BodyForward needs for `rows`
// examples: ping-pong buffers of rows x the widest hidden (non-final) layer
// output (two, or one when the stack has two layers), plus one int16 row of
// the widest layer input and one byte of alignment slack. 0 for an empty
// stack or rows < 1.
[[nodiscard]] int64_t Int8ScratchBytes(const Int8Body& body, int64_t rows);

// Int8BodyForward runs the whole stack on `rows` examples: `x` holds
// x_size = rows * input_width int8 values, `y` receives y_size = rows *
// output_width. `scratch` (any alignment) holds scratch_size >=
// Int8ScratchBytes(body, rows) bytes. Returns kInvalidArgument (no layers,
// null x or y, rows < 1), kShapeMismatch (x_size, y_size, or consecutive
// layer widths disagree) or kScratchTooSmall (including a null scratch),
// before touching `y`. Allocates nothing. No buffer may overlap another.
Int8Status Int8BodyForward(const Int8Body& body, const int8_t* x, int64_t x_size, int64_t rows,
                           int8_t* y, int64_t y_size, int8_t* scratch, int64_t scratch_size);

}  // namespace fedtiny::client

#endif  // FEDTINY_CLIENT_CORE_INT8_INFERENCE_H_
