// The integer int8 path of the convolutions (issue 16), TFLite Micro's
// reference CONV_2D and DEPTHWISE_CONV_2D arithmetic, with the same scheme as
// the dense body (client/core/int8_inference.h):
//
//   activations: int8, asymmetric per tensor (input and output Int8Params);
//   weights:     int8, symmetric per output channel (zero point 0, [-127, 127],
//                one scale per output channel: max |w| / 127);
//   bias:        int32, scale input.scale * weight_scale[o];
//   accumulator: int32 of weight * (x - input.zero_point), requantized per
//                output channel by a fixed-point multiplier and shift;
//   ReLU/ReLU6:  a clamp of the output range ([zero_point, 127], and for ReLU6
//                at most zero_point + round(6 / scale)).
// Padded cells are the real value 0, i.e. input.zero_point: they add nothing
// and are skipped, as in the float path.
//
// Weights: Conv2d's are OHWI ([out][kh][kw][in], TFLite's: each output's filter
// contiguous, in the order of the receptive field, which Forward widens to int16
// once per output pixel for one dot product per output channel); depthwise keeps
// the float layout ([kh][kw][channels], accumulated in blocks of 32 channels on
// the stack). Quantizing (QuantizeConv2d, QuantizeDepthwiseConv2d) is setup code
// and allocates; Forward is integer only and allocates nothing. Value types;
// thread-safe to read.
#ifndef FEDTINY_CLIENT_CORE_LAYERS_INT8_CONV_H_
#define FEDTINY_CLIENT_CORE_LAYERS_INT8_CONV_H_

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "client/core/int8_inference.h"
#include "client/core/layers/conv2d.h"
#include "client/core/layers/depthwise_conv2d.h"
#include "client/core/layers/shape.h"
#include "client/core/layers/window.h"
#include "client/core/status.h"

namespace fedtiny::client::layers {

// The per-output-channel quantization both convolutions share.
struct Int8ChannelQuant {
  Int8Params input;
  Int8Params output;
  std::vector<float> weight_scales;  // Per output channel.
  std::vector<int32_t> bias;         // Per output channel.
  std::vector<int32_t> multipliers;  // input.scale * weight_scale / output.scale.
  std::vector<int32_t> shifts;
  int32_t activation_min = -128;
  int32_t activation_max = 127;
};

// RequantizeChannel: output channel o's int32 accumulator as the output's int8
// (multiplier, shift, zero point, then the activation clamp).
inline int8_t RequantizeChannel(const Int8ChannelQuant& q, size_t o, int32_t acc) {
  int32_t v = MultiplyByQuantizedMultiplier(acc, q.multipliers[o], q.shifts[o]);
  v += q.output.zero_point;
  return static_cast<int8_t>(std::min(q.activation_max, std::max(q.activation_min, v)));
}

struct Int8Conv2d {
  static constexpr const char* kName = "conv2d";

  int32_t in_channels = 1;
  int32_t out_channels = 1;
  Window window;
  std::vector<int8_t> weights;  // [out][kh][kw][in] (OHWI).
  Int8ChannelQuant quant;

  // As Conv2d::OutputShape (the channel count and the window).
  [[nodiscard]] StatusOr<Shape> OutputShape(Shape in) const;
  // Forward: one example, `x` (in.size() int8) into `y`; no aliasing.
  void Forward(Shape in, const int8_t* x, int8_t* y) const;
};

struct Int8DepthwiseConv2d {
  static constexpr const char* kName = "depthwise_conv2d";

  int32_t in_channels = 1;
  int32_t channel_multiplier = 1;
  Window window;
  std::vector<int8_t> weights;  // [kh][kw][in * multiplier].
  Int8ChannelQuant quant;

  [[nodiscard]] int32_t out_channels() const { return in_channels * channel_multiplier; }
  [[nodiscard]] StatusOr<Shape> OutputShape(Shape in) const;
  void Forward(Shape in, const int8_t* x, int8_t* y) const;
};

// QuantizeConv2d quantizes `layer` for activations `input` -> `output` (e.g.
// Int8ParamsForRange of the float path's ranges on calibration examples; the
// fused activation becomes the output clamp). kInvalidArgument for params of
// the wrong size, a non-finite weight or bias, a scale that is not positive
// and finite, or a zero point outside [-128, 127]; kOutOfRange when a bias or
// a multiplier does not fit the kernel's integers. Allocates.
StatusOr<Int8Conv2d> QuantizeConv2d(const Conv2d& layer, Int8Params input, Int8Params output);
StatusOr<Int8DepthwiseConv2d> QuantizeDepthwiseConv2d(const DepthwiseConv2d& layer,
                                                      Int8Params input, Int8Params output);

}  // namespace fedtiny::client::layers

#endif  // FEDTINY_CLIENT_CORE_LAYERS_INT8_CONV_H_
