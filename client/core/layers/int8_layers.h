// The int8 layers besides the convolutions (int8_conv.h), for Int8Network
// (int8_network.h): pooling, global average pooling, flatten, a standalone
// ReLU/ReLU6, and dense with per-output-channel weight scales.
//
// Quantization: a layer without weights keeps its input's Int8Params for its
// output (`quant`, TFLite's rule for pooling: the result lies in the input's
// range), so its integers need no requantization:
//   max pooling:     the largest q of the window (q is monotone in the real);
//   average pooling: zero_point + round(sum(q - zero_point) / count), rounded
//                    half away from zero (TFLite's reference AVERAGE_POOL_2D);
//                    padded cells are the real 0 (q - zero_point = 0), counted
//                    or not as count_include_pad says;
//   global average:  the same over all cells of a channel;
//   ReLU / ReLU6:    a clamp to [activation_min, activation_max] (zero_point,
//                    and zero_point + round(6 / scale) for ReLU6).
// Dense is a 1x1 convolution of the flattened input: int8 weights [out][in]
// (each output's row contiguous), symmetric per output channel, int32 bias,
// requantized per channel (Int8ChannelQuant, as the convolutions).
//
// Plain data with public fields, so a codec can ship them. Value types;
// thread-safe to read. Forward allocates nothing and uses integers only; `x`
// and `y` must not alias.
#ifndef FEDTINY_CLIENT_CORE_LAYERS_INT8_LAYERS_H_
#define FEDTINY_CLIENT_CORE_LAYERS_INT8_LAYERS_H_

#include <cstdint>
#include <vector>

#include "client/core/int8_inference.h"
#include "client/core/layers/dense.h"
#include "client/core/layers/int8_conv.h"
#include "client/core/layers/shape.h"
#include "client/core/layers/window.h"
#include "client/core/status.h"

namespace fedtiny::client::layers {

// The largest window (or global pooling) whose int32 sum of 255-wide values
// cannot overflow.
inline constexpr int64_t kInt8MaxPoolCells = int64_t{INT32_MAX} / 255;

struct Int8AvgPool2d {
  static constexpr const char* kName = "avg_pool2d";

  Window window;  // As AvgPool2d's.
  bool count_include_pad = true;
  Int8Params quant;  // Input and output.

  // As AvgPool2d::OutputShape; also kInvalidArgument for a window over
  // kInt8MaxPoolCells.
  [[nodiscard]] StatusOr<Shape> OutputShape(Shape in) const;
  void Forward(Shape in, const int8_t* x, int8_t* y) const;
};

struct Int8MaxPool2d {
  static constexpr const char* kName = "max_pool2d";

  Window window;
  Int8Params quant;

  [[nodiscard]] StatusOr<Shape> OutputShape(Shape in) const;
  void Forward(Shape in, const int8_t* x, int8_t* y) const;
};

struct Int8GlobalAvgPool2d {
  static constexpr const char* kName = "global_avg_pool2d";

  Int8Params quant;

  // 1 x 1 x in.c; kInvalidArgument for an invalid shape or one of more than
  // kInt8MaxPoolCells cells.
  [[nodiscard]] StatusOr<Shape> OutputShape(Shape in) const;
  void Forward(Shape in, const int8_t* x, int8_t* y) const;
};

struct Int8Flatten {
  static constexpr const char* kName = "flatten";

  Int8Params quant;

  [[nodiscard]] StatusOr<Shape> OutputShape(Shape in) const;
  void Forward(Shape in, const int8_t* x, int8_t* y) const;
};

struct Int8Activation {
  static constexpr const char* kName = "activation";

  Int8Params quant;
  int32_t activation_min = -128;  // ReLU: quant.zero_point.
  int32_t activation_max = 127;   // ReLU6: quant.zero_point + round(6 / scale).

  // `in`; kInvalidArgument for an invalid shape or a clamp outside [-128, 127]
  // or empty.
  [[nodiscard]] StatusOr<Shape> OutputShape(Shape in) const;
  void Forward(Shape in, const int8_t* x, int8_t* y) const;
};

struct Int8Dense {
  static constexpr const char* kName = "dense";

  int32_t in_features = 1;
  int32_t out_features = 1;
  std::vector<int8_t> weights;  // [out][in].
  Int8ChannelQuant quant;

  // 1 x 1 x out_features; kInvalidArgument when in.size() != in_features or
  // the weights' or bias's size disagrees.
  [[nodiscard]] StatusOr<Shape> OutputShape(Shape in) const;
  void Forward(Shape in, const int8_t* x, int8_t* y) const;
};

// Int8ClampFor is the clamp of `act` on a tensor of `params` ({-128, 127}
// for kNone).
struct Int8Clamp {
  int32_t min = -128;
  int32_t max = 127;
};
Int8Clamp Int8ClampFor(Activation act, Int8Params params);

// QuantizeDense quantizes `layer` for activations `input` -> `output`, as
// QuantizeConv2d (the same codes). Allocates.
StatusOr<Int8Dense> QuantizeDense(const Dense& layer, Int8Params input, Int8Params output);

}  // namespace fedtiny::client::layers

#endif  // FEDTINY_CLIENT_CORE_LAYERS_INT8_LAYERS_H_
