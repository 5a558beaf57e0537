#include "client/core/layers/int8_naive_reference.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>

#include "gtest/gtest.h"

namespace fedtiny::client::layers {
namespace {

__int128 FloorDiv(__int128 a, __int128 b) {  // b > 0.
  const __int128 q = a / b;
  return (a % b != 0 && a < 0) ? q - 1 : q;
}

}  // namespace

// TFLite's MultiplyByQuantizedMultiplier from its definition: x * 2^left
// saturated to int32, the doubling high multiply rounding half up
// (floor(p / 2^31 + 1/2)), then a division by 2^right rounding half away from
// zero. Double-checked: within 1 of the exact real product.
int32_t RefMultiply(int32_t x, int32_t m, int shift) {
  const int left = std::max(shift, 0), right = std::max(-shift, 0);
  const __int128 wide = static_cast<__int128>(x) * (__int128{1} << left);
  const __int128 xs = std::min<__int128>(INT32_MAX, std::max<__int128>(INT32_MIN, wide));
  const __int128 high = FloorDiv(xs * m + (__int128{1} << 30), __int128{1} << 31);
  const __int128 half = right > 0 ? (__int128{1} << (right - 1)) : 0;
  const __int128 mag = high < 0 ? -high : high;
  const __int128 r = (mag + half) / (__int128{1} << right);
  const auto result = static_cast<int32_t>(high < 0 ? -r : r);
  if (wide == xs) {
    const long double exact = static_cast<long double>(x) * m * std::ldexp(1.0L, shift - 31);
    EXPECT_LE(std::fabs(static_cast<long double>(result) - exact), 1.0L) << x << " " << m;
  }
  return result;
}

namespace {

int8_t RefOut(const Int8ChannelQuant& q, size_t o, int64_t acc) {
  EXPECT_LE(std::llabs(acc), int64_t{INT32_MAX});
  const int32_t v =
      RefMultiply(static_cast<int32_t>(acc), q.multipliers[o], q.shifts[o]) + q.output.zero_point;
  return static_cast<int8_t>(std::clamp(v, q.activation_min, q.activation_max));
}

// Writes x at (iy, ix, c) of `in` into *v; false outside it (a padded cell).
bool At(const std::vector<int8_t>& x, Shape in, int64_t iy, int64_t ix, int64_t c, int32_t* v) {
  if (iy < 0 || ix < 0 || iy >= in.h || ix >= in.w) return false;
  *v = x[static_cast<size_t>((iy * in.w + ix) * in.c + c)];
  return true;
}

}  // namespace

std::vector<int8_t> RefLayer(const Int8LayerSpec& spec, Shape in, Shape out,
                             const std::vector<int8_t>& x) {
  std::vector<int8_t> y(static_cast<size_t>(out.size()));
  auto cell = [&](int64_t oy, int64_t ox, int64_t c) -> int8_t& {
    return y[static_cast<size_t>((oy * out.w + ox) * out.c + c)];
  };
  if (const auto* l = std::get_if<Int8Conv2d>(&spec)) {
    const Window& k = l->window;
    for (int64_t oy = 0; oy < out.h; ++oy)
      for (int64_t ox = 0; ox < out.w; ++ox)
        for (int64_t o = 0; o < out.c; ++o) {
          int64_t acc = l->quant.bias[static_cast<size_t>(o)];
          for (int64_t ky = 0; ky < k.kernel_h; ++ky)
            for (int64_t kx = 0; kx < k.kernel_w; ++kx)
              for (int64_t i = 0; i < in.c; ++i) {
                int32_t v;
                if (!At(x, in, oy * k.stride_h - k.padding.top + ky * k.dilation_h,
                        ox * k.stride_w - k.padding.left + kx * k.dilation_w, i, &v))
                  continue;
                const size_t wi = static_cast<size_t>(((o * k.kernel_h + ky) * k.kernel_w + kx) * in.c + i);
                acc += int64_t{l->weights[wi]} * (v - l->quant.input.zero_point);
              }
          cell(oy, ox, o) = RefOut(l->quant, static_cast<size_t>(o), acc);
        }
  } else if (const auto* d = std::get_if<Int8DepthwiseConv2d>(&spec)) {
    const Window& k = d->window;
    for (int64_t oy = 0; oy < out.h; ++oy)
      for (int64_t ox = 0; ox < out.w; ++ox)
        for (int64_t o = 0; o < out.c; ++o) {
          int64_t acc = d->quant.bias[static_cast<size_t>(o)];
          for (int64_t ky = 0; ky < k.kernel_h; ++ky)
            for (int64_t kx = 0; kx < k.kernel_w; ++kx) {
              int32_t v;
              if (!At(x, in, oy * k.stride_h - k.padding.top + ky * k.dilation_h,
                      ox * k.stride_w - k.padding.left + kx * k.dilation_w,
                      o / d->channel_multiplier, &v))
                continue;
              acc += int64_t{d->weights[static_cast<size_t>((ky * k.kernel_w + kx) * out.c + o)]} *
                     (v - d->quant.input.zero_point);
            }
          cell(oy, ox, o) = RefOut(d->quant, static_cast<size_t>(o), acc);
        }
  } else if (const auto* f = std::get_if<Int8Dense>(&spec)) {
    for (int64_t o = 0; o < f->out_features; ++o) {
      int64_t acc = f->quant.bias[static_cast<size_t>(o)];
      for (int64_t i = 0; i < f->in_features; ++i) {
        acc += int64_t{f->weights[static_cast<size_t>(o * f->in_features + i)]} *
               (x[static_cast<size_t>(i)] - f->quant.input.zero_point);
      }
      y[static_cast<size_t>(o)] = RefOut(f->quant, static_cast<size_t>(o), acc);
    }
  } else if (std::holds_alternative<Int8AvgPool2d>(spec) ||
             std::holds_alternative<Int8MaxPool2d>(spec) ||
             std::holds_alternative<Int8GlobalAvgPool2d>(spec)) {
    Window k;
    bool average = true, include_pad = false;
    int32_t zero = 0;
    if (const auto* a = std::get_if<Int8AvgPool2d>(&spec)) {
      k = a->window, include_pad = a->count_include_pad, zero = a->quant.zero_point;
    } else if (const auto* m = std::get_if<Int8MaxPool2d>(&spec)) {
      k = m->window, average = false;
    } else {
      k.kernel_h = in.h, k.kernel_w = in.w;
      zero = std::get<Int8GlobalAvgPool2d>(spec).quant.zero_point;
    }
    for (int64_t oy = 0; oy < out.h; ++oy)
      for (int64_t ox = 0; ox < out.w; ++ox)
        for (int64_t c = 0; c < out.c; ++c) {
          int64_t sum = 0, count = 0;
          int32_t best = -1000;
          for (int64_t ky = 0; ky < k.kernel_h; ++ky)
            for (int64_t kx = 0; kx < k.kernel_w; ++kx) {
              int32_t v;
              if (!At(x, in, oy * k.stride_h - k.padding.top + ky,
                      ox * k.stride_w - k.padding.left + kx, c, &v))
                continue;
              sum += v - zero, ++count, best = std::max(best, v);
            }
          if (include_pad) count = int64_t{k.kernel_h} * k.kernel_w;
          // std::round rounds halves away from zero; exact for these sizes.
          cell(oy, ox, c) = static_cast<int8_t>(
              average ? std::clamp<double>(zero + std::round(double(sum) / count), -128, 127)
                      : best);
        }
  } else if (const auto* a = std::get_if<Int8Activation>(&spec)) {
    for (size_t i = 0; i < x.size(); ++i) {
      y[i] = static_cast<int8_t>(std::clamp<int32_t>(x[i], a->activation_min, a->activation_max));
    }
  } else {
    y = x;  // Flatten.
  }
  return y;
}

std::vector<int8_t> RefForward(const Int8Network& net, std::vector<int8_t> x) {
  for (size_t i = 0; i < net.layers().size(); ++i) {
    x = RefLayer(net.layers()[i], net.shapes()[i], net.shapes()[i + 1], x);
  }
  return x;
}

}  // namespace fedtiny::client::layers
