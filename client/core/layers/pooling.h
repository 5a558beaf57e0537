// The pooling layers over one NHWC example, each channel on its own:
// AvgPool2d, MaxPool2d (a window, stride and padding; no dilation) and
// GlobalAvgPool2d (the mean of each channel, 1 x 1 x channels).
//
// Padding semantics, PyTorch's (ceil_mode=False):
//  - MaxPool2d: padded cells never win (they are -infinity); each padding must
//    be smaller than the kernel on its axis, so every window holds an input
//    cell (PyTorch asks for padding <= kernel / 2, which implies it).
//  - AvgPool2d with count_include_pad (PyTorch's default): padded cells count
//    as zeros, so every window divides by kernel_h * kernel_w. Without it, the
//    sum divides by the number of input cells in the window.
// Asymmetric padding (TensorFlow's "same") is PyTorch's F.pad before the
// pooling: zeros for average pooling (counted), -infinity for max pooling.
//
// No parameters. Value types; thread-safe to read. Forward allocates nothing.
#ifndef FEDTINY_CLIENT_CORE_LAYERS_POOLING_H_
#define FEDTINY_CLIENT_CORE_LAYERS_POOLING_H_

#include <cstdint>

#include "client/core/layers/shape.h"
#include "client/core/layers/window.h"
#include "client/core/status.h"

namespace fedtiny::client::layers {

struct AvgPool2d {
  static constexpr const char* kName = "avg_pool2d";

  Window window;  // dilation must stay 1.
  bool count_include_pad = true;

  [[nodiscard]] int64_t num_params() const { return 0; }
  // Same channels; kInvalidArgument as WindowOutputShape, or for a dilation
  // other than 1 or a padding not smaller than the kernel.
  [[nodiscard]] StatusOr<Shape> OutputShape(Shape in) const;
  void Forward(Shape in, const float* x, float* y) const;
};

struct MaxPool2d {
  static constexpr const char* kName = "max_pool2d";

  Window window;  // dilation must stay 1.

  [[nodiscard]] int64_t num_params() const { return 0; }
  // As AvgPool2d::OutputShape.
  [[nodiscard]] StatusOr<Shape> OutputShape(Shape in) const;
  void Forward(Shape in, const float* x, float* y) const;
};

struct GlobalAvgPool2d {
  static constexpr const char* kName = "global_avg_pool2d";

  [[nodiscard]] int64_t num_params() const { return 0; }
  // 1 x 1 x in.c; kInvalidArgument for an invalid input shape.
  [[nodiscard]] StatusOr<Shape> OutputShape(Shape in) const;
  void Forward(Shape in, const float* x, float* y) const;
};

}  // namespace fedtiny::client::layers

#endif  // FEDTINY_CLIENT_CORE_LAYERS_POOLING_H_
