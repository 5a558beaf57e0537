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
  const int64_t ci = in_channels, co = out_channels;
  const int64_t per_output = int64_t{k.kernel_h} * k.kernel_w * ci;
  const int32_t offset = -quant.input.zero_point;
  for (int32_t oy = 0; oy < out_h; ++oy) {
    for (int32_t ox = 0; ox < out_w; ++ox) {
      int8_t* out = y + (int64_t{oy} * out_w + ox) * co;
      for (int64_t o = 0; o < co; ++o) {
        const int8_t* wo = weights.data() + o * per_output;  // OHWI: this output's filter.
        int32_t acc = quant.bias[static_cast<size_t>(o)];
        for (int32_t ky = 0; ky < k.kernel_h; ++ky) {
          const int32_t iy = oy * k.stride_h - k.padding.top + ky * k.dilation_h;
          if (iy < 0 || iy >= in.h) continue;  // Padding is the zero point: adds nothing.
          for (int32_t kx = 0; kx < k.kernel_w; ++kx) {
            const int32_t ix = ox * k.stride_w - k.padding.left + kx * k.dilation_w;
            if (ix < 0 || ix >= in.w) continue;
            const int8_t* xp = x + (int64_t{iy} * in.w + ix) * ci;
            const int8_t* wp = wo + (int64_t{ky} * k.kernel_w + kx) * ci;
            int32_t dot = 0, sum = 0;  // sum(w * x) and sum(w), the offset applied once.
            for (int64_t i = 0; i < ci; ++i) {
              dot += int32_t{xp[i]} * wp[i];
              sum += wp[i];
            }
            acc += dot + offset * sum;
          }
        }
        out[o] = RequantizeChannel(quant, static_cast<size_t>(o), acc);
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
