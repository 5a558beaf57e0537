#include "client/core/layers/conv2d.h"

#include <cstring>

#include "client/core/str_cat.h"

namespace fedtiny::client::layers {

StatusOr<Shape> Conv2d::OutputShape(Shape in) const {
  if (in_channels < 1 || out_channels < 1 || in.c != in_channels) {
    return InvalidArgumentError(StrCat(kName, ": ", in.c, " input channels, expected ", in_channels,
                                       " (out_channels ", out_channels, ")"));
  }
  if (static_cast<int64_t>(params.size()) != num_params() || !ValidActivation(activation)) {
    return InvalidArgumentError(StrCat(kName, ": ", params.size(), " parameters, expected ",
                                       num_params(), ", or an unknown activation"));
  }
  return WindowOutputShape(kName, window, in, out_channels);
}

void Conv2d::Forward(Shape in, const float* x, float* y) const {
  const Window& k = window;
  const int32_t out_h =
      WindowOutput(in.h, k.padding.top, k.padding.bottom, k.kernel_h, k.stride_h, k.dilation_h);
  const int32_t out_w =
      WindowOutput(in.w, k.padding.left, k.padding.right, k.kernel_w, k.stride_w, k.dilation_w);
  const int64_t ci = in_channels, co = out_channels;
  const float* weights = params.data();
  const float* bias = weights + int64_t{k.kernel_h} * k.kernel_w * ci * co;
  for (int32_t oy = 0; oy < out_h; ++oy) {
    for (int32_t ox = 0; ox < out_w; ++ox) {
      float* acc = y + (int64_t{oy} * out_w + ox) * co;
      std::memcpy(acc, bias, sizeof(float) * co);
      for (int32_t ky = 0; ky < k.kernel_h; ++ky) {
        const int32_t iy = oy * k.stride_h - k.padding.top + ky * k.dilation_h;
        if (iy < 0 || iy >= in.h) continue;  // A padded row: zeros add nothing.
        for (int32_t kx = 0; kx < k.kernel_w; ++kx) {
          const int32_t ix = ox * k.stride_w - k.padding.left + kx * k.dilation_w;
          if (ix < 0 || ix >= in.w) continue;
          const float* xp = x + (int64_t{iy} * in.w + ix) * ci;
          const float* wp = weights + (int64_t{ky} * k.kernel_w + kx) * ci * co;
          for (int64_t i = 0; i < ci; ++i) {
            const float xv = xp[i];
            const float* wr = wp + i * co;
            for (int64_t o = 0; o < co; ++o) acc[o] += xv * wr[o];
          }
        }
      }
      Activate(activation, acc, co);
    }
  }
}

}  // namespace fedtiny::client::layers
