// The geometry shared by the sliding-window layers (convolutions and poolings):
// checking a window's parameters against an input and the output shape they
// give. Free functions; thread-safe.
#ifndef FEDTINY_CLIENT_CORE_LAYERS_WINDOW_H_
#define FEDTINY_CLIENT_CORE_LAYERS_WINDOW_H_

#include <cstdint>

#include "client/core/layers/shape.h"
#include "client/core/status.h"
#include "client/core/str_cat.h"

namespace fedtiny::client::layers {

// A window: kernel_h x kernel_w taps, `stride` apart between positions and
// `dilation` apart within the window, over the input padded by `padding`.
struct Window {
  int32_t kernel_h = 1;
  int32_t kernel_w = 1;
  int32_t stride_h = 1;
  int32_t stride_w = 1;
  int32_t dilation_h = 1;
  int32_t dilation_w = 1;
  Padding padding;
};

// WindowOutputShape is the output height x width of `window` over `in` with
// `channels` output channels. kInvalidArgument (naming `layer`) for an invalid
// input shape, a kernel, stride or dilation < 1, a negative padding, or when no
// window position fits.
inline StatusOr<Shape> WindowOutputShape(const char* layer, const Window& window, Shape in,
                                         int32_t channels) {
  if (!in.valid()) {
    return InvalidArgumentError(StrCat(layer, ": input shape ", in.h, "x", in.w, "x", in.c));
  }
  if (window.kernel_h < 1 || window.kernel_w < 1 || window.stride_h < 1 || window.stride_w < 1 ||
      window.dilation_h < 1 || window.dilation_w < 1 || !window.padding.valid()) {
    return InvalidArgumentError(
        StrCat(layer, ": kernel, stride and dilation must be >= 1 and padding >= 0"));
  }
  const Padding& p = window.padding;
  const int32_t h =
      WindowOutput(in.h, p.top, p.bottom, window.kernel_h, window.stride_h, window.dilation_h);
  const int32_t w =
      WindowOutput(in.w, p.left, p.right, window.kernel_w, window.stride_w, window.dilation_w);
  if (h < 1 || w < 1) {
    return InvalidArgumentError(StrCat(layer, ": a ", window.kernel_h, "x", window.kernel_w,
                                       " window does not fit a padded ", in.h, "x", in.w,
                                       " input"));
  }
  return Shape{h, w, channels};
}

}  // namespace fedtiny::client::layers

#endif  // FEDTINY_CLIENT_CORE_LAYERS_WINDOW_H_
