// DepthwiseConv2d: each input channel convolved with its own
// `channel_multiplier` filters (PyTorch's Conv2d with groups = in_channels and
// out_channels = in_channels * multiplier; TFLite's DEPTHWISE_CONV_2D), with
// bias and a fused activation, over one NHWC example. Output channel
// c * multiplier + j comes from input channel c (PyTorch's grouped order).
//
// Parameters, flat: the weights as [kernel_h][kernel_w][in_channels *
// multiplier] (PyTorch's weight[o][0][ky][kx] is params[(ky * kernel_w + kx) *
// out + o], TFLite's 1HWC), then the bias[in_channels * multiplier].
//
// A value type; thread-safe to read. Forward allocates nothing.
#ifndef FEDTINY_CLIENT_CORE_LAYERS_DEPTHWISE_CONV2D_H_
#define FEDTINY_CLIENT_CORE_LAYERS_DEPTHWISE_CONV2D_H_

#include <cstdint>
#include <vector>

#include "client/core/layers/shape.h"
#include "client/core/layers/window.h"
#include "client/core/status.h"

namespace fedtiny::client::layers {

struct DepthwiseConv2d {
  static constexpr const char* kName = "depthwise_conv2d";

  int32_t in_channels = 1;
  int32_t channel_multiplier = 1;
  Window window;
  Activation activation = Activation::kNone;
  std::vector<float> params;

  [[nodiscard]] int32_t out_channels() const { return in_channels * channel_multiplier; }
  [[nodiscard]] int64_t num_params() const {
    return (int64_t{window.kernel_h} * window.kernel_w + 1) * out_channels();
  }
  // As Conv2d::OutputShape.
  [[nodiscard]] StatusOr<Shape> OutputShape(Shape in) const;
  // As Conv2d::Forward.
  void Forward(Shape in, const float* x, float* y) const;
};

}  // namespace fedtiny::client::layers

#endif  // FEDTINY_CLIENT_CORE_LAYERS_DEPTHWISE_CONV2D_H_
