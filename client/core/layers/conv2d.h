// Conv2d: a 2-D convolution (cross-correlation, as PyTorch's and TFLite's) over
// one NHWC example, with bias and a fused activation.
//
// Parameters, flat (`params`, the future codec's layout): the weights as
// [kernel_h][kernel_w][in_channels][out_channels] (HWIO; PyTorch's
// weight[o][i][ky][kx] is params[((ky * kernel_w + kx) * in + i) * out + o]),
// then the bias[out_channels]. Output channels are innermost, so the forward's
// inner loop runs over contiguous weights and outputs, and folding a batch norm
// (batch_norm.h) scales the last index.
//
// A value type; thread-safe to read. Forward allocates nothing.
#ifndef FEDTINY_CLIENT_CORE_LAYERS_CONV2D_H_
#define FEDTINY_CLIENT_CORE_LAYERS_CONV2D_H_

#include <cstdint>
#include <vector>

#include "client/core/layers/shape.h"
#include "client/core/layers/window.h"
#include "client/core/status.h"

namespace fedtiny::client::layers {

struct Conv2d {
  static constexpr const char* kName = "conv2d";

  int32_t in_channels = 1;
  int32_t out_channels = 1;
  Window window;  // Kernel, stride, dilation, padding (zeros).
  Activation activation = Activation::kNone;
  std::vector<float> params;  // num_params() floats, laid out as above.

  // num_params() is the weights' and the bias's count.
  [[nodiscard]] int64_t num_params() const {
    return int64_t{window.kernel_h} * window.kernel_w * in_channels * out_channels + out_channels;
  }
  // OutputShape is the output for an input of `in`; kInvalidArgument for a
  // channel count that differs from in_channels, params of the wrong size, an
  // unknown activation or a window that does not fit (window.h).
  [[nodiscard]] StatusOr<Shape> OutputShape(Shape in) const;
  // Forward writes the output of one example `x` (shape `in`, which
  // OutputShape accepted) into `y` (OutputShape(in) floats; must not alias x).
  void Forward(Shape in, const float* x, float* y) const;
};

}  // namespace fedtiny::client::layers

#endif  // FEDTINY_CLIENT_CORE_LAYERS_CONV2D_H_
