#include "client/core/layers/int8_layers.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "client/core/layers/conv2d.h"
#include "client/core/layers/elementwise.h"
#include "client/core/layers/pooling.h"
#include "client/core/str_cat.h"

namespace fedtiny::client::layers {
namespace {

// round(sum / count), halves away from zero (TFLite's integer average).
int32_t RoundedAverage(int32_t sum, int32_t count) {
  return sum >= 0 ? (sum + count / 2) / count : (sum - count / 2) / count;
}

int32_t OutH(const Window& k, Shape in) {
  return WindowOutput(in.h, k.padding.top, k.padding.bottom, k.kernel_h, k.stride_h, 1);
}
int32_t OutW(const Window& k, Shape in) {
  return WindowOutput(in.w, k.padding.left, k.padding.right, k.kernel_w, k.stride_w, 1);
}

// The input cells of output (oy, ox): [y0, y1) x [x0, x1) (as pooling.cc).
struct Cells {
  int32_t y0, y1, x0, x1;
};
Cells WindowCells(const Window& k, Shape in, int32_t oy, int32_t ox) {
  const int32_t ys = oy * k.stride_h - k.padding.top, xs = ox * k.stride_w - k.padding.left;
  return Cells{std::max<int32_t>(ys, 0), std::min(ys + k.kernel_h, in.h), std::max<int32_t>(xs, 0),
               std::min(xs + k.kernel_w, in.w)};
}

}  // namespace

StatusOr<Shape> Int8AvgPool2d::OutputShape(Shape in) const {
  if (int64_t{window.kernel_h} * window.kernel_w > kInt8MaxPoolCells) {
    return InvalidArgumentError(StrCat(kName, ": window over ", kInt8MaxPoolCells, " cells"));
  }
  return AvgPool2d{window, count_include_pad}.OutputShape(in);
}

void Int8AvgPool2d::Forward(Shape in, const int8_t* x, int8_t* y) const {
  const int32_t out_h = OutH(window, in), out_w = OutW(window, in), zero = quant.zero_point;
  const int64_t c = in.c;
  for (int32_t oy = 0; oy < out_h; ++oy) {
    for (int32_t ox = 0; ox < out_w; ++ox) {
      const Cells cells = WindowCells(window, in, oy, ox);
      const int32_t count = count_include_pad ? window.kernel_h * window.kernel_w
                                              : (cells.y1 - cells.y0) * (cells.x1 - cells.x0);
      int8_t* out = y + (int64_t{oy} * out_w + ox) * c;
      for (int64_t ch = 0; ch < c; ++ch) {
        int32_t sum = 0;  // Of q - zero_point: padded cells add 0.
        for (int32_t iy = cells.y0; iy < cells.y1; ++iy) {
          for (int32_t ix = cells.x0; ix < cells.x1; ++ix) {
            sum += x[(int64_t{iy} * in.w + ix) * c + ch] - zero;
          }
        }
        const int32_t v = RoundedAverage(sum, count) + zero;
        out[ch] = static_cast<int8_t>(std::clamp<int32_t>(v, -128, 127));
      }
    }
  }
}

StatusOr<Shape> Int8MaxPool2d::OutputShape(Shape in) const {
  return MaxPool2d{window}.OutputShape(in);
}

void Int8MaxPool2d::Forward(Shape in, const int8_t* x, int8_t* y) const {
  const int32_t out_h = OutH(window, in), out_w = OutW(window, in);
  const int64_t c = in.c;
  for (int32_t oy = 0; oy < out_h; ++oy) {
    for (int32_t ox = 0; ox < out_w; ++ox) {
      int8_t* out = y + (int64_t{oy} * out_w + ox) * c;
      std::fill(out, out + c, int8_t{-128});
      const Cells cells = WindowCells(window, in, oy, ox);
      for (int32_t iy = cells.y0; iy < cells.y1; ++iy) {
        for (int32_t ix = cells.x0; ix < cells.x1; ++ix) {
          const int8_t* xp = x + (int64_t{iy} * in.w + ix) * c;
          for (int64_t ch = 0; ch < c; ++ch) out[ch] = std::max(out[ch], xp[ch]);
        }
      }
    }
  }
}

StatusOr<Shape> Int8GlobalAvgPool2d::OutputShape(Shape in) const {
  if (!in.valid() || int64_t{in.h} * in.w > kInt8MaxPoolCells) {
    return InvalidArgumentError(StrCat(kName, ": invalid input shape or over ",
                                       kInt8MaxPoolCells, " cells"));
  }
  return Shape{1, 1, in.c};
}

void Int8GlobalAvgPool2d::Forward(Shape in, const int8_t* x, int8_t* y) const {
  const int32_t cells = in.h * in.w, zero = quant.zero_point;
  const int64_t c = in.c;
  for (int64_t ch = 0; ch < c; ++ch) {
    int32_t sum = 0;
    for (int64_t p = 0; p < cells; ++p) sum += x[p * c + ch] - zero;
    const int32_t v = RoundedAverage(sum, cells) + zero;
    y[ch] = static_cast<int8_t>(std::clamp<int32_t>(v, -128, 127));
  }
}

StatusOr<Shape> Int8Flatten::OutputShape(Shape in) const { return Flatten{}.OutputShape(in); }

void Int8Flatten::Forward(Shape in, const int8_t* x, int8_t* y) const {
  std::memcpy(y, x, static_cast<size_t>(in.size()));
}

StatusOr<Shape> Int8Activation::OutputShape(Shape in) const {
  if (!in.valid() || activation_min < -128 || activation_max > 127 ||
      activation_min > activation_max) {
    return InvalidArgumentError(StrCat(kName, ": invalid input shape or clamp [", activation_min,
                                       ", ", activation_max, "]"));
  }
  return in;
}

void Int8Activation::Forward(Shape in, const int8_t* x, int8_t* y) const {
  const int8_t lo = static_cast<int8_t>(activation_min), hi = static_cast<int8_t>(activation_max);
  const int64_t n = in.size();
  for (int64_t i = 0; i < n; ++i) y[i] = std::min(hi, std::max(lo, x[i]));
}

StatusOr<Shape> Int8Dense::OutputShape(Shape in) const {
  if (!in.valid() || in_features < 1 || out_features < 1 || in.size() != in_features ||
      static_cast<int64_t>(weights.size()) != int64_t{in_features} * out_features ||
      quant.bias.size() != static_cast<size_t>(out_features)) {
    return InvalidArgumentError(StrCat(kName, ": ", in.size(), " input features, expected ",
                                       in_features, ", or weights or bias of the wrong size"));
  }
  return Shape{1, 1, out_features};
}

void Int8Dense::Forward(Shape /*in*/, const int8_t* x, int8_t* y) const {
  const int32_t offset = -quant.input.zero_point;
  for (int32_t o = 0; o < out_features; ++o) {
    const int8_t* w = weights.data() + int64_t{o} * in_features;
    int32_t dot = 0, sum = 0;  // sum(w * x) and sum(w): the offset applied once.
    for (int32_t i = 0; i < in_features; ++i) {
      dot += int32_t{x[i]} * w[i];
      sum += w[i];
    }
    const size_t c = static_cast<size_t>(o);
    y[o] = RequantizeChannel(quant, c, quant.bias[c] + dot + offset * sum);
  }
}

Int8Clamp Int8ClampFor(Activation act, Int8Params params) {
  Int8Clamp c;
  if (act != Activation::kNone) c.min = std::max<int32_t>(-128, params.zero_point);
  if (act == Activation::kRelu6) {
    const double six = std::round(6.0 / params.scale) + params.zero_point;
    c.max = static_cast<int32_t>(std::min(127.0, six));
  }
  return c;
}

StatusOr<Int8Dense> QuantizeDense(const Dense& layer, Int8Params input, Int8Params output) {
  if (static_cast<int64_t>(layer.params.size()) != layer.num_params() || layer.in_features < 1 ||
      layer.out_features < 1) {
    return InvalidArgumentError(StrCat("int8 dense: ", layer.params.size(), " parameters"));
  }
  // The same layout as a 1x1 Conv2d (weights [in][out], then the bias), whose
  // OHWI int8 weights are dense's [out][in].
  Conv2d conv{layer.in_features, layer.out_features, Window{}, layer.activation, layer.params};
  CLIENT_ASSIGN_OR_RETURN(Int8Conv2d q, QuantizeConv2d(conv, input, output));
  Int8Dense d;
  d.in_features = layer.in_features;
  d.out_features = layer.out_features;
  d.weights = std::move(q.weights);
  d.quant = std::move(q.quant);
  return d;
}

}  // namespace fedtiny::client::layers
