#include "proto/int8_layer_codec.h"

#include <cmath>
#include <cstring>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "client/platform/linux/status_bridge.h"
#include "proto/layer_codec.h"

namespace fedtiny {
namespace {

namespace ly = client::layers;
using client::Int8Params;

constexpr double kMaxTensorValues = double{1 << 24};  // As proto/layer_codec.cc.

bool QuantOk(float scale, int32_t zero_point) {
  return std::isfinite(scale) && scale > 0 && zero_point >= -128 && zero_point <= 127;
}

absl::StatusOr<Int8Params> QuantFromProto(const v1::ActivationQuant& q, const std::string& where) {
  if (!QuantOk(q.scale(), q.zero_point())) {
    return absl::InvalidArgumentError(absl::StrCat(
        where, ": range scale ", q.scale(), ", zero point ", q.zero_point(),
        " (scale positive and finite, zero point in [-128, 127])"));
  }
  return Int8Params{q.scale(), q.zero_point()};
}

v1::ActivationQuant QuantToProto(Int8Params q) {
  v1::ActivationQuant out;
  out.set_scale(q.scale);
  out.set_zero_point(q.zero_point);
  return out;
}

// The per-channel quantization of a weighted layer from its tensors: weights
// `count` int8 values, `channels` scales and int32 biases; multipliers and
// shifts recomputed from the scales.
absl::Status ChannelQuantFrom(const v1::Tensor& weights, const v1::Tensor& bias, double count,
                              int64_t channels, Int8Params in, const v1::Layer& layer,
                              v1::Activation activation, const std::string& where,
                              std::vector<int8_t>* w, ly::Int8ChannelQuant* q) {
  if (count > kMaxTensorValues || channels > (int64_t{1} << 20)) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": ", count, " weights is over the limit"));
  }
  if (weights.values_size() > 0 || bias.values_size() > 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": float tensors in the int8 variant"));
  }
  if (static_cast<double>(weights.int8_values().size()) != count) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": weights need exactly ", count,
                                                   " int8 values, got ",
                                                   weights.int8_values().size()));
  }
  if (weights.channel_scales_size() != channels || bias.int32_values_size() != channels) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": ", channels, " channel scales and int32 biases needed, got ",
                     weights.channel_scales_size(), " and ", bias.int32_values_size()));
  }
  if (!layer.has_output_quant()) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": no output_quant"));
  }
  absl::StatusOr<Int8Params> out = QuantFromProto(layer.output_quant(), where);
  if (!out.ok()) return out.status();
  absl::StatusOr<ly::Activation> act = ActivationFromProto(activation, where);
  if (!act.ok()) return act.status();
  w->resize(weights.int8_values().size());
  if (!w->empty()) std::memcpy(w->data(), weights.int8_values().data(), w->size());
  q->input = in;
  q->output = *out;
  for (int64_t o = 0; o < channels; ++o) {
    const float s = weights.channel_scales(static_cast<int>(o));
    int32_t m = 0;
    int shift = 0;
    if (!std::isfinite(s) || s <= 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": channel ", o, "'s scale ", s, " is not positive and finite"));
    }
    if (!client::QuantizeMultiplier(double{in.scale} * s / out->scale, &m, &shift)) {
      return absl::OutOfRangeError(
          absl::StrCat(where, ": channel ", o, "'s multiplier does not fit the kernels"));
    }
    q->weight_scales.push_back(s);
    q->bias.push_back(bias.int32_values(static_cast<int>(o)));
    q->multipliers.push_back(m);
    q->shifts.push_back(shift);
  }
  const ly::Int8Clamp clamp = ly::Int8ClampFor(*act, *out);
  q->activation_min = clamp.min;
  q->activation_max = clamp.max;
  return absl::OkStatus();
}

absl::StatusOr<v1::Activation> ActivationOfClamp(int32_t min, int32_t max, Int8Params q,
                                                 const std::string& where) {
  for (ly::Activation a : {ly::Activation::kNone, ly::Activation::kRelu, ly::Activation::kRelu6}) {
    const ly::Int8Clamp c = ly::Int8ClampFor(a, q);
    if (c.min == min && c.max == max) return ActivationToProto(a);
  }
  return absl::InvalidArgumentError(
      absl::StrCat(where, ": clamp [", min, ", ", max, "] is no activation's"));
}

void PutChannelTensors(const std::vector<int8_t>& w, std::vector<int64_t> shape,
                       const ly::Int8ChannelQuant& q, v1::Tensor* weights, v1::Tensor* bias) {
  for (int64_t d : shape) weights->add_shape(d);
  weights->set_int8_values(reinterpret_cast<const char*>(w.data()), w.size());
  weights->mutable_channel_scales()->Add(q.weight_scales.begin(), q.weight_scales.end());
  bias->add_shape(static_cast<int64_t>(q.bias.size()));
  bias->mutable_int32_values()->Add(q.bias.begin(), q.bias.end());
}

absl::StatusOr<ly::Int8LayerSpec> LayerFrom(const v1::Layer& layer, int index, Int8Params* q) {
  const std::string where = absl::StrCat("int8 layer ", index);
  switch (layer.kind_case()) {
    case v1::Layer::kConv2D: {
      const v1::Conv2dLayer& c = layer.conv2d();
      ly::Int8Conv2d l;
      l.in_channels = c.in_channels();
      l.out_channels = c.out_channels();
      l.window = WindowFromProto(c.window());
      const double count = double{1} * l.window.kernel_h * l.window.kernel_w * c.in_channels() *
                           c.out_channels();
      if (c.in_channels() < 1 || c.out_channels() < 1 || l.window.kernel_h < 1 ||
          l.window.kernel_w < 1) {
        return absl::InvalidArgumentError(absl::StrCat(where, " (conv2d): sizes must be >= 1"));
      }
      absl::Status s = ChannelQuantFrom(c.weights(), c.bias(), count, c.out_channels(), *q, layer,
                                        c.activation(), where + " (conv2d)", &l.weights, &l.quant);
      if (!s.ok()) return s;
      *q = l.quant.output;
      return ly::Int8LayerSpec(std::move(l));
    }
    case v1::Layer::kDepthwiseConv2D: {
      const v1::DepthwiseConv2dLayer& c = layer.depthwise_conv2d();
      ly::Int8DepthwiseConv2d l;
      l.in_channels = c.in_channels();
      l.channel_multiplier = c.channel_multiplier();
      l.window = WindowFromProto(c.window());
      if (c.in_channels() < 1 || c.channel_multiplier() < 1 || l.window.kernel_h < 1 ||
          l.window.kernel_w < 1 || int64_t{c.in_channels()} * c.channel_multiplier() > (1 << 20)) {
        return absl::InvalidArgumentError(
            absl::StrCat(where, " (depthwise_conv2d): sizes must be >= 1"));
      }
      const int64_t channels = int64_t{c.in_channels()} * c.channel_multiplier();
      const double count = double{1} * l.window.kernel_h * l.window.kernel_w * channels;
      absl::Status s =
          ChannelQuantFrom(c.weights(), c.bias(), count, channels, *q, layer, c.activation(),
                           where + " (depthwise_conv2d)", &l.weights, &l.quant);
      if (!s.ok()) return s;
      *q = l.quant.output;
      return ly::Int8LayerSpec(std::move(l));
    }
    case v1::Layer::kDense: {
      const v1::DenseLayer& d = layer.dense();
      if (d.inputs() < 1 || d.outputs() < 1 || d.relu()) {
        return absl::InvalidArgumentError(
            absl::StrCat(where, " (dense): sizes must be >= 1, and `activation` set, not `relu`"));
      }
      ly::Int8Dense l;
      l.in_features = d.inputs();
      l.out_features = d.outputs();
      absl::Status s = ChannelQuantFrom(d.weights(), d.bias(), double{1} * d.inputs() * d.outputs(),
                                        d.outputs(), *q, layer, d.activation(), where + " (dense)",
                                        &l.weights, &l.quant);
      if (!s.ok()) return s;
      *q = l.quant.output;
      return ly::Int8LayerSpec(std::move(l));
    }
    case v1::Layer::kAvgPool2D: {
      ly::Int8AvgPool2d l;
      l.window = WindowFromProto(layer.avg_pool2d().window());
      l.count_include_pad = layer.avg_pool2d().count_include_pad();
      l.quant = *q;
      return ly::Int8LayerSpec(l);
    }
    case v1::Layer::kMaxPool2D: {
      ly::Int8MaxPool2d l;
      l.window = WindowFromProto(layer.max_pool2d().window());
      l.quant = *q;
      return ly::Int8LayerSpec(l);
    }
    case v1::Layer::kGlobalAvgPool2D: {
      ly::Int8GlobalAvgPool2d l;
      l.quant = *q;
      return ly::Int8LayerSpec(l);
    }
    case v1::Layer::kFlatten: {
      ly::Int8Flatten l;
      l.quant = *q;
      return ly::Int8LayerSpec(l);
    }
    case v1::Layer::kActivation: {
      absl::StatusOr<ly::Activation> act =
          ActivationFromProto(layer.activation().activation(), where + " (activation)");
      if (!act.ok()) return act.status();
      ly::Int8Activation l;
      l.quant = *q;
      const ly::Int8Clamp clamp = ly::Int8ClampFor(*act, *q);
      l.activation_min = clamp.min;
      l.activation_max = clamp.max;
      return ly::Int8LayerSpec(l);
    }
    case v1::Layer::KIND_NOT_SET:
      break;
  }
  return absl::InvalidArgumentError(absl::StrCat(where, ": no layer type set"));
}

absl::StatusOr<v1::Layer> LayerTo(const ly::Int8LayerSpec& spec, int index) {
  const std::string where = absl::StrCat("int8 layer ", index);
  v1::Layer out;
  absl::Status status;
  std::visit(
      [&](const auto& l) {
        using T = std::decay_t<decltype(l)>;
        if constexpr (std::is_same_v<T, ly::Int8Conv2d>) {
          v1::Conv2dLayer* c = out.mutable_conv2d();
          c->set_in_channels(l.in_channels);
          c->set_out_channels(l.out_channels);
          *c->mutable_window() = WindowToProto(l.window);
          absl::StatusOr<v1::Activation> a = ActivationOfClamp(
              l.quant.activation_min, l.quant.activation_max, l.quant.output, where);
          if (!a.ok()) status = a.status(); else c->set_activation(*a);
          PutChannelTensors(l.weights,
                            {l.out_channels, l.window.kernel_h, l.window.kernel_w, l.in_channels},
                            l.quant, c->mutable_weights(), c->mutable_bias());
          *out.mutable_output_quant() = QuantToProto(l.quant.output);
        } else if constexpr (std::is_same_v<T, ly::Int8DepthwiseConv2d>) {
          v1::DepthwiseConv2dLayer* c = out.mutable_depthwise_conv2d();
          c->set_in_channels(l.in_channels);
          c->set_channel_multiplier(l.channel_multiplier);
          *c->mutable_window() = WindowToProto(l.window);
          absl::StatusOr<v1::Activation> a = ActivationOfClamp(
              l.quant.activation_min, l.quant.activation_max, l.quant.output, where);
          if (!a.ok()) status = a.status(); else c->set_activation(*a);
          PutChannelTensors(l.weights, {l.window.kernel_h, l.window.kernel_w, l.out_channels()},
                            l.quant, c->mutable_weights(), c->mutable_bias());
          *out.mutable_output_quant() = QuantToProto(l.quant.output);
        } else if constexpr (std::is_same_v<T, ly::Int8Dense>) {
          v1::DenseLayer* d = out.mutable_dense();
          d->set_inputs(l.in_features);
          d->set_outputs(l.out_features);
          absl::StatusOr<v1::Activation> a = ActivationOfClamp(
              l.quant.activation_min, l.quant.activation_max, l.quant.output, where);
          if (!a.ok()) status = a.status(); else d->set_activation(*a);
          PutChannelTensors(l.weights, {l.out_features, l.in_features}, l.quant,
                            d->mutable_weights(), d->mutable_bias());
          *out.mutable_output_quant() = QuantToProto(l.quant.output);
        } else if constexpr (std::is_same_v<T, ly::Int8AvgPool2d>) {
          *out.mutable_avg_pool2d()->mutable_window() = WindowToProto(l.window);
          out.mutable_avg_pool2d()->set_count_include_pad(l.count_include_pad);
        } else if constexpr (std::is_same_v<T, ly::Int8MaxPool2d>) {
          *out.mutable_max_pool2d()->mutable_window() = WindowToProto(l.window);
        } else if constexpr (std::is_same_v<T, ly::Int8GlobalAvgPool2d>) {
          out.mutable_global_avg_pool2d();
        } else if constexpr (std::is_same_v<T, ly::Int8Flatten>) {
          out.mutable_flatten();
        } else {
          static_assert(std::is_same_v<T, ly::Int8Activation>, "an int8 layer type without a codec");
          absl::StatusOr<v1::Activation> a =
              ActivationOfClamp(l.activation_min, l.activation_max, l.quant, where);
          if (!a.ok()) status = a.status(); else out.mutable_activation()->set_activation(*a);
        }
      },
      spec);
  if (!status.ok()) return status;
  return out;
}

}  // namespace

bool HasInt8ConvBody(const v1::Model& model) {
  return HasConvBody(model) && model.has_input_quant();
}

absl::StatusOr<ly::Int8Network> Int8NetworkFromProto(const v1::Model& model) {
  if (!HasInt8ConvBody(model)) {
    return absl::InvalidArgumentError("the model has no int8 convolutional body");
  }
  if (model.body_size() > 0) {
    return absl::InvalidArgumentError("a model has either dense `body` or `layers`, not both");
  }
  const v1::Shape3& s = model.input_shape();
  if (s.h() < 1 || s.w() < 1 || s.c() < 1 ||
      double{1} * s.h() * s.w() * s.c() > kMaxTensorValues) {
    return absl::InvalidArgumentError(
        absl::StrCat("input_shape ", s.h(), "x", s.w(), "x", s.c(), " is not a valid example"));
  }
  const ly::Shape input{s.h(), s.w(), s.c()};
  if (model.input_dim() != input.size()) {
    return absl::InvalidArgumentError(absl::StrCat("input_dim ", model.input_dim(),
                                                   " is not input_shape's ", input.size()));
  }
  absl::StatusOr<Int8Params> in = QuantFromProto(model.input_quant(), "input_quant");
  if (!in.ok()) return in.status();
  Int8Params q = *in;
  std::vector<ly::Int8LayerSpec> layers;
  for (int i = 0; i < model.layers_size(); ++i) {
    absl::StatusOr<ly::Int8LayerSpec> layer = LayerFrom(model.layers(i), i, &q);
    if (!layer.ok()) return layer.status();
    layers.push_back(*std::move(layer));
  }
  absl::StatusOr<ly::Int8Network> net =
      client::ToAbsl(ly::Int8Network::Create(input, *in, std::move(layers)));
  if (!net.ok()) return net.status();
  for (const ly::Shape& shape : net->shapes()) {
    if (static_cast<double>(shape.size()) > kMaxTensorValues) {
      return absl::InvalidArgumentError("an int8 activation is over the limit of 2^24 values");
    }
  }
  if (net->multiply_adds() > (int64_t{1} << 32)) {  // As proto/layer_codec.cc.
    return absl::InvalidArgumentError(absl::StrCat("the body takes ", net->multiply_adds(),
                                                   " multiply-adds per example, over the limit of ",
                                                   int64_t{1} << 32));
  }
  return net;
}

absl::Status SetInt8ConvBody(const ly::Int8Network& net, v1::Model& model) {
  std::vector<v1::Layer> layers;
  for (size_t i = 0; i < net.layers().size(); ++i) {
    absl::StatusOr<v1::Layer> l = LayerTo(net.layers()[i], static_cast<int>(i));
    if (!l.ok()) return l.status();
    layers.push_back(*std::move(l));
  }
  model.clear_body();
  model.clear_layers();
  const ly::Shape in = net.input();
  model.set_input_dim(static_cast<int32_t>(in.size()));
  model.mutable_input_shape()->set_h(in.h);
  model.mutable_input_shape()->set_w(in.w);
  model.mutable_input_shape()->set_c(in.c);
  *model.mutable_input_quant() = QuantToProto(net.input_quant());
  for (v1::Layer& l : layers) *model.add_layers() = std::move(l);
  return absl::OkStatus();
}

}  // namespace fedtiny
