#include "client/core/layers/pooling.h"

#include <algorithm>
#include <limits>

#include "client/core/str_cat.h"

namespace fedtiny::client::layers {
namespace {

StatusOr<Shape> PoolOutputShape(const char* name, const Window& k, Shape in) {
  if (k.dilation_h != 1 || k.dilation_w != 1) {
    return InvalidArgumentError(StrCat(name, ": dilation must be 1"));
  }
  const Padding& p = k.padding;
  if (p.top >= k.kernel_h || p.bottom >= k.kernel_h || p.left >= k.kernel_w ||
      p.right >= k.kernel_w) {
    return InvalidArgumentError(StrCat(name, ": padding must be smaller than the kernel"));
  }
  return WindowOutputShape(name, k, in, in.c);
}

// The input cells of output (oy, ox) along each axis: [y0, y1) x [x0, x1).
struct Cells {
  int32_t y0, y1, x0, x1;
};
Cells WindowCells(const Window& k, Shape in, int32_t oy, int32_t ox) {
  const int32_t ys = oy * k.stride_h - k.padding.top, xs = ox * k.stride_w - k.padding.left;
  return Cells{std::max<int32_t>(ys, 0), std::min(ys + k.kernel_h, in.h), std::max<int32_t>(xs, 0),
               std::min(xs + k.kernel_w, in.w)};
}

int32_t OutH(const Window& k, Shape in) {
  return WindowOutput(in.h, k.padding.top, k.padding.bottom, k.kernel_h, k.stride_h, 1);
}
int32_t OutW(const Window& k, Shape in) {
  return WindowOutput(in.w, k.padding.left, k.padding.right, k.kernel_w, k.stride_w, 1);
}

}  // namespace

StatusOr<Shape> AvgPool2d::OutputShape(Shape in) const {
  return PoolOutputShape(kName, window, in);
}

void AvgPool2d::Forward(Shape in, const float* x, float* y) const {
  const int32_t out_h = OutH(window, in), out_w = OutW(window, in);
  const int64_t c = in.c;
  for (int32_t oy = 0; oy < out_h; ++oy) {
    for (int32_t ox = 0; ox < out_w; ++ox) {
      float* acc = y + (int64_t{oy} * out_w + ox) * c;
      std::fill(acc, acc + c, 0.f);
      const Cells cells = WindowCells(window, in, oy, ox);
      for (int32_t iy = cells.y0; iy < cells.y1; ++iy) {
        for (int32_t ix = cells.x0; ix < cells.x1; ++ix) {
          const float* xp = x + (int64_t{iy} * in.w + ix) * c;
          for (int64_t ch = 0; ch < c; ++ch) acc[ch] += xp[ch];
        }
      }
      const int64_t count = count_include_pad
                                ? int64_t{window.kernel_h} * window.kernel_w
                                : int64_t{cells.y1 - cells.y0} * (cells.x1 - cells.x0);
      const float inv = 1.f / static_cast<float>(count);
      for (int64_t ch = 0; ch < c; ++ch) acc[ch] *= inv;
    }
  }
}

StatusOr<Shape> MaxPool2d::OutputShape(Shape in) const {
  return PoolOutputShape(kName, window, in);
}

void MaxPool2d::Forward(Shape in, const float* x, float* y) const {
  const int32_t out_h = OutH(window, in), out_w = OutW(window, in);
  const int64_t c = in.c;
  for (int32_t oy = 0; oy < out_h; ++oy) {
    for (int32_t ox = 0; ox < out_w; ++ox) {
      float* acc = y + (int64_t{oy} * out_w + ox) * c;
      std::fill(acc, acc + c, -std::numeric_limits<float>::infinity());
      const Cells cells = WindowCells(window, in, oy, ox);
      for (int32_t iy = cells.y0; iy < cells.y1; ++iy) {
        for (int32_t ix = cells.x0; ix < cells.x1; ++ix) {
          const float* xp = x + (int64_t{iy} * in.w + ix) * c;
          for (int64_t ch = 0; ch < c; ++ch) acc[ch] = std::max(acc[ch], xp[ch]);
        }
      }
    }
  }
}

StatusOr<Shape> GlobalAvgPool2d::OutputShape(Shape in) const {
  if (!in.valid()) return InvalidArgumentError(StrCat(kName, ": invalid input shape"));
  return Shape{1, 1, in.c};
}

void GlobalAvgPool2d::Forward(Shape in, const float* x, float* y) const {
  const int64_t c = in.c, cells = int64_t{in.h} * in.w;
  std::fill(y, y + c, 0.f);
  for (int64_t p = 0; p < cells; ++p) {
    for (int64_t ch = 0; ch < c; ++ch) y[ch] += x[p * c + ch];
  }
  const float inv = 1.f / static_cast<float>(cells);
  for (int64_t ch = 0; ch < c; ++ch) y[ch] *= inv;
}

}  // namespace fedtiny::client::layers
