#include "client/core/layers/int8_network.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <type_traits>
#include <utility>

#include "client/core/str_cat.h"

namespace fedtiny::client::layers {
namespace {

template <typename T>
constexpr bool kHasChannels = std::is_same_v<decltype(T::quant), Int8ChannelQuant>;

bool ValidParams(Int8Params p) {
  return std::isfinite(p.scale) && p.scale > 0 && p.zero_point >= -128 && p.zero_point <= 127;
}
bool SameParams(Int8Params a, Int8Params b) {
  return a.scale == b.scale && a.zero_point == b.zero_point;
}

// Output channels and taps (int8 products per output) of a layer with weights.
struct Extent {
  int64_t channels, taps;
};
Extent ExtentOf(const Int8Conv2d& l) {
  return {l.out_channels, int64_t{l.window.kernel_h} * l.window.kernel_w * l.in_channels};
}
Extent ExtentOf(const Int8DepthwiseConv2d& l) {
  return {l.out_channels(), int64_t{l.window.kernel_h} * l.window.kernel_w};
}
Extent ExtentOf(const Int8Dense& l) { return {l.out_features, l.in_features}; }

// The per-channel quantization of a layer whose shape was accepted.
Status CheckChannels(const Int8ChannelQuant& q, Extent e) {
  if (!ValidParams(q.input) || !ValidParams(q.output)) {
    return InvalidArgumentError("an input or output scale not positive and finite, or a zero "
                                "point outside [-128, 127]");
  }
  const auto n = static_cast<size_t>(e.channels);
  if (q.weight_scales.size() != n || q.bias.size() != n || q.multipliers.size() != n ||
      q.shifts.size() != n) {
    return InvalidArgumentError(StrCat("per-channel vectors of sizes ", q.weight_scales.size(), ", ",
                                       q.bias.size(), ", ", q.multipliers.size(), ", ",
                                       q.shifts.size(), " for ", n, " output channels"));
  }
  if (q.activation_min < -128 || q.activation_max > 127 || q.activation_min > q.activation_max) {
    return InvalidArgumentError(
        StrCat("clamp [", q.activation_min, ", ", q.activation_max, "] outside [-128, 127]"));
  }
  for (size_t o = 0; o < n; ++o) {
    const float s = q.weight_scales[o];
    if (!std::isfinite(s) || !(s > 0)) {
      return InvalidArgumentError(StrCat("output channel ", o, "'s weight scale is not positive and finite"));
    }
    int32_t m = 0;
    int shift = 0;
    const bool fits =
        QuantizeMultiplier(double{q.input.scale} * s / q.output.scale, &m, &shift);
    if (!fits || m != q.multipliers[o] || shift != q.shifts[o]) {
      return InvalidArgumentError(StrCat("output channel ", o, "'s multiplier ", q.multipliers[o],
                                         " and shift ", q.shifts[o],
                                         " are not what its scales give"));
    }
    if (std::llabs(q.bias[o]) + e.taps * 128 * 255 > int64_t{INT32_MAX}) {
      return Status(StatusCode::kOutOfRange,
                    StrCat("output channel ", o, "'s accumulator may overflow int32"));
    }
  }
  return OkStatus();
}

// Checks `layer` reading a tensor of `in` and `params`; its output shape, and
// its output params in *out_params.
template <typename T>
StatusOr<Shape> CheckLayer(const T& layer, Shape in, Int8Params params, Int8Params* out_params) {
  if constexpr (std::is_same_v<T, Int8DepthwiseConv2d>) {
    // out_channels() multiplies in int32.
    if (int64_t{layer.in_channels} * layer.channel_multiplier > INT32_MAX) {
      return InvalidArgumentError("in_channels * channel_multiplier over 2^31 - 1");
    }
  }
  CLIENT_ASSIGN_OR_RETURN(Shape out, layer.OutputShape(in));
  if constexpr (kHasChannels<T>) {
    CLIENT_RETURN_IF_ERROR(CheckChannels(layer.quant, ExtentOf(layer)));
    if (!SameParams(layer.quant.input, params)) {
      return InvalidArgumentError("input params differ from the tensor it reads");
    }
    *out_params = layer.quant.output;
  } else {
    if (!ValidParams(layer.quant) || !SameParams(layer.quant, params)) {
      return InvalidArgumentError("params invalid or differing from the tensor it reads");
    }
    *out_params = layer.quant;
  }
  return out;
}

// The int8 layer of `layer` reading a tensor of `in` params, writing `out`
// (ignored by the layers that keep their input's params).
StatusOr<Int8LayerSpec> QuantizeLayer(const LayerSpec& layer, Int8Params in, Int8Params out) {
  if (const auto* c = std::get_if<Conv2d>(&layer)) {
    CLIENT_ASSIGN_OR_RETURN(Int8Conv2d q, QuantizeConv2d(*c, in, out));
    return Int8LayerSpec(std::move(q));
  }
  if (const auto* d = std::get_if<DepthwiseConv2d>(&layer)) {
    CLIENT_ASSIGN_OR_RETURN(Int8DepthwiseConv2d q, QuantizeDepthwiseConv2d(*d, in, out));
    return Int8LayerSpec(std::move(q));
  }
  if (const auto* f = std::get_if<Dense>(&layer)) {
    CLIENT_ASSIGN_OR_RETURN(Int8Dense q, QuantizeDense(*f, in, out));
    return Int8LayerSpec(std::move(q));
  }
  if (const auto* a = std::get_if<AvgPool2d>(&layer)) {
    return Int8LayerSpec(Int8AvgPool2d{a->window, a->count_include_pad, in});
  }
  if (const auto* m = std::get_if<MaxPool2d>(&layer)) return Int8LayerSpec(Int8MaxPool2d{m->window, in});
  if (std::holds_alternative<GlobalAvgPool2d>(layer)) return Int8LayerSpec(Int8GlobalAvgPool2d{in});
  if (std::holds_alternative<Flatten>(layer)) return Int8LayerSpec(Int8Flatten{in});
  const Int8Clamp clamp = Int8ClampFor(std::get<ActivationLayer>(layer).activation, in);
  return Int8LayerSpec(Int8Activation{in, clamp.min, clamp.max});
}

// Whether `layer` computes new values (and so gets its own output params).
bool HasWeights(const LayerSpec& layer) {
  return std::holds_alternative<Conv2d>(layer) || std::holds_alternative<DepthwiseConv2d>(layer) ||
         std::holds_alternative<Dense>(layer);
}

// The params of the range of v[0, n), or false for a non-finite value.
bool Calibrate(const std::vector<float>& v, Int8Params* params) {
  double lo = 0, hi = 0;
  for (float x : v) {
    if (!std::isfinite(x)) return false;
    lo = std::min<double>(lo, x);
    hi = std::max<double>(hi, x);
  }
  *params = Int8ParamsForRange(lo, hi);
  return true;
}

Status LayerError(size_t i, const char* name, const Status& s) {
  return Status(s.code(), StrCat("int8 network: layer ", i, " (", name, "): ", s.message()));
}

}  // namespace

StatusOr<Int8Network> Int8Network::Create(Shape input, Int8Params input_quant,
                                          std::vector<Int8LayerSpec> layers) {
  if (layers.empty()) return InvalidArgumentError("int8 network: no layers");
  if (!input.valid()) return InvalidArgumentError("int8 network: invalid input shape");
  if (!ValidParams(input_quant)) {
    return InvalidArgumentError("int8 network: invalid input scale or zero point");
  }
  std::vector<Shape> shapes = {input};
  std::vector<Int8Params> quants = {input_quant};
  for (size_t i = 0; i < layers.size(); ++i) {
    Int8Params out_params;
    StatusOr<Shape> out = std::visit(
        [&](const auto& l) { return CheckLayer(l, shapes.back(), quants.back(), &out_params); },
        layers[i]);
    if (!out.ok()) {
      return LayerError(i, std::visit([](const auto& l) { return l.kName; }, layers[i]),
                        out.status());
    }
    shapes.push_back(*out);
    quants.push_back(out_params);
  }
  return Int8Network(std::move(layers), std::move(shapes), std::move(quants));
}

Int8Network::Int8Network(std::vector<Int8LayerSpec> layers, std::vector<Shape> shapes,
                         std::vector<Int8Params> quants)
    : layers_(std::move(layers)), shapes_(std::move(shapes)), quants_(std::move(quants)) {
  for (size_t t = 0; t < shapes_.size(); ++t) {
    buffer_bytes_[t % 2] = std::max(buffer_bytes_[t % 2], shapes_[t].size());
  }
}

Int8Network::Buffers Int8Network::Layout(Arena& arena) const {
  Buffers b;
  for (int k = 0; k < 2; ++k) {
    if (buffer_bytes_[k] > 0) b.at[k] = arena.Allocate<int8_t>(static_cast<size_t>(buffer_bytes_[k]));
  }
  return b;
}

int64_t Int8Network::ArenaBytes() const {
  Arena measuring = Arena::Measuring();
  Layout(measuring);
  return static_cast<int64_t>(measuring.used());
}

Status Int8Network::Bind(Arena& arena) {
  Arena trial = arena;
  const Buffers b = Layout(trial);
  for (int k = 0; k < 2; ++k) {
    if (buffer_bytes_[k] > 0 && b.at[k] == nullptr) {
      buffers_ = Buffers();
      bound_ = false;
      return ResourceExhaustedError(StrCat("int8 network: the arena has ",
                                           arena.capacity() - arena.used(), " bytes free, ",
                                           ArenaBytes(), " needed"));
    }
  }
  arena = trial;
  buffers_ = b;
  bound_ = true;
  return OkStatus();
}

void Int8Network::RunLayers(const int8_t* x, int8_t* y) const {
  const size_t last = layers_.size() - 1;
  for (size_t i = 0; i <= last; ++i) {
    int8_t* out = i == last ? y : buffers_.at[(i + 1) % 2];
    std::visit([&](const auto& l) { l.Forward(shapes_[i], x, out); }, layers_[i]);
    x = out;
  }
}

Status Int8Network::Forward(const float* inputs, int64_t rows, float* outputs) const {
  if (!bound_) return FailedPreconditionError("int8 network: Forward before Bind");
  if (inputs == nullptr || outputs == nullptr || rows < 1) {
    return InvalidArgumentError("int8 network: null input or output, or rows < 1");
  }
  const int64_t in_size = input().size(), out_size = output().size();
  // The input lands in buffer 0, the last output in buffer layers % 2 (the
  // last layer reads the other one).
  int8_t* q_in = buffers_.at[0];
  int8_t* q_out = buffers_.at[layers_.size() % 2];
  for (int64_t r = 0; r < rows; ++r) {
    QuantizeInput(inputs + r * in_size, in_size, input_quant(), q_in);
    RunLayers(q_in, q_out);
    DequantizeOutput(q_out, out_size, output_quant(), outputs + r * out_size);
  }
  return OkStatus();
}

Status Int8Network::ForwardInt8(const int8_t* inputs, int64_t rows, int8_t* outputs) const {
  if (!bound_) return FailedPreconditionError("int8 network: Forward before Bind");
  if (inputs == nullptr || outputs == nullptr || rows < 1) {
    return InvalidArgumentError("int8 network: null input or output, or rows < 1");
  }
  const int64_t in_size = input().size(), out_size = output().size();
  for (int64_t r = 0; r < rows; ++r) RunLayers(inputs + r * in_size, outputs + r * out_size);
  return OkStatus();
}

int64_t Int8Network::multiply_adds() const {
  int64_t n = 0;
  for (size_t i = 0; i < layers_.size(); ++i) {
    const Shape out = shapes_[i + 1];
    if (const auto* c = std::get_if<Int8Conv2d>(&layers_[i])) {
      n += out.size() * c->window.kernel_h * c->window.kernel_w * c->in_channels;
    } else if (const auto* d = std::get_if<Int8DepthwiseConv2d>(&layers_[i])) {
      n += out.size() * d->window.kernel_h * d->window.kernel_w;
    } else if (const auto* f = std::get_if<Int8Dense>(&layers_[i])) {
      n += int64_t{f->in_features} * f->out_features;
    }
  }
  return n;
}

int64_t Int8Network::weight_bytes() const {
  int64_t n = 0;
  for (const Int8LayerSpec& layer : layers_) {
    std::visit(
        [&n](const auto& l) {
          if constexpr (kHasChannels<std::decay_t<decltype(l)>>) {
            n += static_cast<int64_t>(l.weights.size()) +
                 4 * static_cast<int64_t>(l.quant.bias.size() + l.quant.weight_scales.size());
          }
        },
        layer);
  }
  return n;
}

StatusOr<Int8Network> QuantizeNetwork(const Network& net, const float* examples, int64_t rows) {
  if (examples == nullptr || rows < 1) {
    return InvalidArgumentError("quantize network: no calibration examples");
  }
  const std::vector<Shape>& shapes = net.shapes();
  std::vector<float> x(examples, examples + rows * shapes[0].size()), y;
  Int8Params in_params;
  if (!Calibrate(x, &in_params)) {
    return InvalidArgumentError("quantize network: a non-finite calibration value");
  }
  const Int8Params input_quant = in_params;
  std::vector<Int8LayerSpec> layers;
  for (size_t i = 0; i < net.layers().size(); ++i) {
    const LayerSpec& layer = net.layers()[i];
    const int64_t in_size = shapes[i].size(), out_size = shapes[i + 1].size();
    y.resize(static_cast<size_t>(rows * out_size));
    for (int64_t r = 0; r < rows; ++r) {
      Forward(layer, shapes[i], x.data() + r * in_size, y.data() + r * out_size);
    }
    Int8Params calibrated;
    if (!Calibrate(y, &calibrated)) {
      return LayerError(i, LayerName(layer), InvalidArgumentError("a non-finite activation"));
    }
    const Int8Params out_params = HasWeights(layer) ? calibrated : in_params;
    StatusOr<Int8LayerSpec> q = QuantizeLayer(layer, in_params, out_params);
    if (!q.ok()) return LayerError(i, LayerName(layer), q.status());
    layers.push_back(*std::move(q));
    in_params = out_params;
    x.swap(y);
  }
  return Int8Network::Create(shapes[0], input_quant, std::move(layers));
}

}  // namespace fedtiny::client::layers
