#include "client/core/layers/depthwise_conv2d.h"

#include <cstring>

#include "client/core/str_cat.h"

namespace fedtiny::client::layers {

StatusOr<Shape> DepthwiseConv2d::OutputShape(Shape in) const {
  if (in_channels < 1 || channel_multiplier < 1 || in.c != in_channels) {
    return InvalidArgumentError(StrCat(kName, ": ", in.c, " input channels, expected ", in_channels,
                                       " (multiplier ", channel_multiplier, ")"));
  }
  if (static_cast<int64_t>(params.size()) != num_params() || !ValidActivation(activation)) {
    return InvalidArgumentError(StrCat(kName, ": ", params.size(), " parameters, expected ",
                                       num_params(), ", or an unknown activation"));
  }
  return WindowOutputShape(kName, window, in, out_channels());
}

void DepthwiseConv2d::Forward(Shape in, const float* x, float* y) const {
  const Window& k = window;
  const int32_t out_h =
      WindowOutput(in.h, k.padding.top, k.padding.bottom, k.kernel_h, k.stride_h, k.dilation_h);
  const int32_t out_w =
      WindowOutput(in.w, k.padding.left, k.padding.right, k.kernel_w, k.stride_w, k.dilation_w);
  const int64_t ci = in_channels, m = channel_multiplier, co = ci * m;
  const float* weights = params.data();
  const float* bias = weights + int64_t{k.kernel_h} * k.kernel_w * co;
  for (int32_t oy = 0; oy < out_h; ++oy) {
    for (int32_t ox = 0; ox < out_w; ++ox) {
      float* acc = y + (int64_t{oy} * out_w + ox) * co;
      std::memcpy(acc, bias, sizeof(float) * co);
      for (int32_t ky = 0; ky < k.kernel_h; ++ky) {
        const int32_t iy = oy * k.stride_h - k.padding.top + ky * k.dilation_h;
        if (iy < 0 || iy >= in.h) continue;
        for (int32_t kx = 0; kx < k.kernel_w; ++kx) {
          const int32_t ix = ox * k.stride_w - k.padding.left + kx * k.dilation_w;
          if (ix < 0 || ix >= in.w) continue;
          const float* xp = x + (int64_t{iy} * in.w + ix) * ci;
          const float* wp = weights + (int64_t{ky} * k.kernel_w + kx) * co;
          if (m == 1) {
            for (int64_t c = 0; c < ci; ++c) acc[c] += xp[c] * wp[c];
          } else {
            for (int64_t c = 0; c < ci; ++c) {
              for (int64_t j = 0; j < m; ++j) acc[c * m + j] += xp[c] * wp[c * m + j];
            }
          }
        }
      }
      Activate(activation, acc, co);
    }
  }
}

}  // namespace fedtiny::client::layers
