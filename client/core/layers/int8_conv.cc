#include "client/core/layers/int8_conv.h"

#include <algorithm>
#include <cmath>

#include "client/core/str_cat.h"

namespace fedtiny::client::layers {
namespace {

bool ValidParams(Int8Params p) {
  return std::isfinite(p.scale) && p.scale > 0 && p.zero_point >= -128 && p.zero_point <= 127;
}

// Quantizes `params` (weights with `channels` fastest, then `channels` biases)
// into `weights` and `quant`.
Status QuantizeChannels(const char* name, const std::vector<float>& params, int64_t channels,
                        Activation act, Int8Params input, Int8Params output,
                        std::vector<int8_t>& weights, Int8ChannelQuant& quant) {
  if (!ValidParams(input) || !ValidParams(output)) {
    return InvalidArgumentError(StrCat(name, ": invalid input or output scale or zero point"));
  }
  for (float v : params) {
    if (!std::isfinite(v)) return InvalidArgumentError(StrCat(name, ": a non-finite parameter"));
  }
  const size_t n = static_cast<size_t>(channels), count = params.size() - n;
  std::vector<float> max_abs(n, 0.f);
  for (size_t k = 0; k < count; ++k)
    max_abs[k % n] = std::max(max_abs[k % n], std::fabs(params[k]));
  Int8ChannelQuant q;
  q.input = input;
  q.output = output;
  for (size_t o = 0; o < n; ++o) {
    const float s = max_abs[o] > 0 ? max_abs[o] / 127.f : 1.f;
    const double bias_scale = double{input.scale} * s;
    const double b = std::round(params[count + o] / bias_scale);
    int32_t m = 0;
    int shift = 0;
    if (std::fabs(b) > 2147483647.0 || !QuantizeMultiplier(bias_scale / output.scale, &m, &shift)) {
      return Status(StatusCode::kOutOfRange,
                    StrCat(name, ": output channel ", o, "'s bias or multiplier does not fit"));
    }
    q.weight_scales.push_back(s);
    q.bias.push_back(static_cast<int32_t>(b));
    q.multipliers.push_back(m);
    q.shifts.push_back(shift);
  }
  weights.resize(count);
  for (size_t k = 0; k < count; ++k) {
    const float v = std::round(params[k] / q.weight_scales[k % n]);
    weights[k] = static_cast<int8_t>(std::min(127.f, std::max(-127.f, v)));
  }
  if (act != Activation::kNone) q.activation_min = std::max<int32_t>(-128, output.zero_point);
  if (act == Activation::kRelu6) {
    const double six = std::round(6.0 / output.scale) + output.zero_point;
    q.activation_max = static_cast<int32_t>(std::min(127.0, six));
  }
  quant = std::move(q);
  return OkStatus();
}

// The output height and width of `k` over `in` (OutputShape accepted it).
int32_t OutH(const Window& k, Shape in) {
  return WindowOutput(in.h, k.padding.top, k.padding.bottom, k.kernel_h, k.stride_h, k.dilation_h);
}
int32_t OutW(const Window& k, Shape in) {
  return WindowOutput(in.w, k.padding.left, k.padding.right, k.kernel_w, k.stride_w, k.dilation_w);
}

// Writes elements [k0, k0 + len) of output (oy, ox)'s receptive field (taps
// in [ky][kx] order, channels fastest: the OHWI row's order) into `column`, as
// x + offset, 0 for padded cells.
void FillColumn(const Window& k, Shape in, const int8_t* x, int32_t oy, int32_t ox,
                int16_t offset, int64_t k0, int64_t len, int16_t* column) {
  const int64_t ci = in.c;
  int64_t tap = k0 / ci, i = k0 % ci, filled = 0;
  while (filled < len) {
    const auto ky = static_cast<int32_t>(tap / k.kernel_w), kx = static_cast<int32_t>(tap % k.kernel_w);
    const int32_t iy = oy * k.stride_h - k.padding.top + ky * k.dilation_h;
    const int32_t ix = ox * k.stride_w - k.padding.left + kx * k.dilation_w;
    const int64_t run = std::min(ci - i, len - filled);
    int16_t* c = column + filled;
    if (iy < 0 || iy >= in.h || ix < 0 || ix >= in.w) {
      std::fill(c, c + run, int16_t{0});  // The real 0.
    } else {
      const int8_t* xp = x + (int64_t{iy} * in.w + ix) * ci + i;
      for (int64_t j = 0; j < run; ++j) c[j] = static_cast<int16_t>(xp[j] + offset);
    }
    filled += run;
    i = 0;
    ++tap;
  }
}

// sum(a[i] * w[i]): |a| <= 255 and |w| <= 128, exact in int32 for n <= 256.
int32_t Dot(const int16_t* a, const int8_t* w, int64_t n) {
  int32_t s = 0;
  for (int64_t i = 0; i < n; ++i) s += int32_t{a[i]} * w[i];
  return s;
}

}  // namespace

StatusOr<Shape> Int8Conv2d::OutputShape(Shape in) const {
  if (in.c != in_channels || out_channels < 1 ||
      static_cast<int64_t>(weights.size()) !=
          int64_t{window.kernel_h} * window.kernel_w * in_channels * out_channels ||
      quant.bias.size() != static_cast<size_t>(out_channels)) {
    return InvalidArgumentError("int8 conv2d: channels or weights do not match");
  }
  return WindowOutputShape("int8 conv2d", window, in, out_channels);
}

void Int8Conv2d::Forward(Shape in, const int8_t* x, int8_t* y) const {
  const Window& k = window;
  const int32_t out_h = OutH(k, in), out_w = OutW(k, in);
  const int64_t co = out_channels;
  const int64_t per_output = int64_t{k.kernel_h} * k.kernel_w * in_channels;
  const auto offset = static_cast<int16_t>(-quant.input.zero_point);
  // One output pixel's receptive field, a chunk at a time, as x - zero_point in
  // int16 (0 where padded): widened once per pixel instead of once per output
  // channel, and the inner loop a plain int16 x int8 dot product (no per-tap
  // bounds checks, no weight sum beside it). Output channels in blocks, their
  // accumulators on the stack.
  constexpr int64_t kColumn = 256, kBlock = 64;
  int16_t column[kColumn];
  int32_t acc[kBlock];
  for (int32_t oy = 0; oy < out_h; ++oy) {
    for (int32_t ox = 0; ox < out_w; ++ox) {
      int8_t* out = y + (int64_t{oy} * out_w + ox) * co;
      for (int64_t o0 = 0; o0 < co; o0 += kBlock) {
        const int64_t n = std::min(kBlock, co - o0);
        for (int64_t j = 0; j < n; ++j) acc[j] = quant.bias[static_cast<size_t>(o0 + j)];
        for (int64_t k0 = 0; k0 < per_output; k0 += kColumn) {
          const int64_t len = std::min(kColumn, per_output - k0);
          FillColumn(k, in, x, oy, ox, offset, k0, len, column);
          const int8_t* w = weights.data() + o0 * per_output + k0;  // OHWI rows.
          for (int64_t j = 0; j < n; ++j) acc[j] += Dot(column, w + j * per_output, len);
        }
        for (int64_t j = 0; j < n; ++j) {
          out[o0 + j] = RequantizeChannel(quant, static_cast<size_t>(o0 + j), acc[j]);
        }
      }
    }
  }
}

StatusOr<Shape> Int8DepthwiseConv2d::OutputShape(Shape in) const {
  if (in.c != in_channels || channel_multiplier < 1 ||
      static_cast<int64_t>(weights.size()) !=
          int64_t{window.kernel_h} * window.kernel_w * out_channels() ||
      quant.bias.size() != static_cast<size_t>(out_channels())) {
    return InvalidArgumentError("int8 depthwise_conv2d: channels or weights do not match");
  }
  return WindowOutputShape("int8 depthwise_conv2d", window, in, out_channels());
}

void Int8DepthwiseConv2d::Forward(Shape in, const int8_t* x, int8_t* y) const {
  const Window& k = window;
  const int32_t out_h = OutH(k, in), out_w = OutW(k, in);
  const int64_t ci = in_channels, m = channel_multiplier, co = ci * m;
  const int32_t offset = -quant.input.zero_point;
  constexpr int64_t kBlock = 32;  // Output channels accumulated at once, on the stack.
  int32_t acc[kBlock];
  for (int32_t oy = 0; oy < out_h; ++oy) {
    for (int32_t ox = 0; ox < out_w; ++ox) {
      int8_t* out = y + (int64_t{oy} * out_w + ox) * co;
      for (int64_t o0 = 0; o0 < co; o0 += kBlock) {
        const int64_t n = std::min(kBlock, co - o0);
        for (int64_t j = 0; j < n; ++j) acc[j] = quant.bias[static_cast<size_t>(o0 + j)];
        for (int32_t ky = 0; ky < k.kernel_h; ++ky) {
          const int32_t iy = oy * k.stride_h - k.padding.top + ky * k.dilation_h;
          if (iy < 0 || iy >= in.h) continue;
          for (int32_t kx = 0; kx < k.kernel_w; ++kx) {
            const int32_t ix = ox * k.stride_w - k.padding.left + kx * k.dilation_w;
            if (ix < 0 || ix >= in.w) continue;
            const int8_t* xp = x + (int64_t{iy} * in.w + ix) * ci;
            const int8_t* wp = weights.data() + (int64_t{ky} * k.kernel_w + kx) * co + o0;
            if (m == 1) {
              for (int64_t j = 0; j < n; ++j) acc[j] += (int32_t{xp[o0 + j]} + offset) * wp[j];
            } else {
              for (int64_t j = 0; j < n; ++j) {
                acc[j] += (int32_t{xp[(o0 + j) / m]} + offset) * wp[j];
              }
            }
          }
        }
        for (int64_t j = 0; j < n; ++j) {
          out[o0 + j] = RequantizeChannel(quant, static_cast<size_t>(o0 + j), acc[j]);
        }
      }
    }
  }
}

StatusOr<Int8Conv2d> QuantizeConv2d(const Conv2d& layer, Int8Params input, Int8Params output) {
  if (static_cast<int64_t>(layer.params.size()) != layer.num_params() || layer.out_channels < 1) {
    return InvalidArgumentError(StrCat("int8 conv2d: ", layer.params.size(), " parameters"));
  }
  Int8Conv2d q;
  q.in_channels = layer.in_channels;
  q.out_channels = layer.out_channels;
  q.window = layer.window;
  std::vector<int8_t> hwio;
  CLIENT_RETURN_IF_ERROR(QuantizeChannels("int8 conv2d", layer.params, layer.out_channels,
                                          layer.activation, input, output, hwio, q.quant));
  const size_t co = static_cast<size_t>(layer.out_channels), per_output = hwio.size() / co;
  q.weights.resize(hwio.size());
  for (size_t k = 0; k < hwio.size(); ++k) q.weights[(k % co) * per_output + k / co] = hwio[k];
  return q;
}

StatusOr<Int8DepthwiseConv2d> QuantizeDepthwiseConv2d(const DepthwiseConv2d& layer,
                                                      Int8Params input, Int8Params output) {
  if (static_cast<int64_t>(layer.params.size()) != layer.num_params() || layer.out_channels() < 1) {
    return InvalidArgumentError(
        StrCat("int8 depthwise_conv2d: ", layer.params.size(), " parameters"));
  }
  Int8DepthwiseConv2d q;
  q.in_channels = layer.in_channels;
  q.channel_multiplier = layer.channel_multiplier;
  q.window = layer.window;
  CLIENT_RETURN_IF_ERROR(QuantizeChannels("int8 depthwise_conv2d", layer.params,
                                          layer.out_channels(), layer.activation, input, output,
                                          q.weights, q.quant));
  return q;
}

}  // namespace fedtiny::client::layers
