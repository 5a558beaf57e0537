#include "proto/layer_codec.h"

#include <cmath>
#include <string>
#include <type_traits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "client/platform/linux/status_bridge.h"

namespace fedtiny {
namespace ly = client::layers;

absl::StatusOr<ly::Activation> ActivationFromProto(v1::Activation a, const std::string& where) {
  switch (a) {
    case v1::ACTIVATION_NONE:
      return ly::Activation::kNone;
    case v1::ACTIVATION_RELU:
      return ly::Activation::kRelu;
    case v1::ACTIVATION_RELU6:
      return ly::Activation::kRelu6;
    default:
      return absl::InvalidArgumentError(absl::StrCat(where, ": unknown activation ", a));
  }
}

v1::Activation ActivationToProto(ly::Activation a) {
  switch (a) {
    case ly::Activation::kRelu:
      return v1::ACTIVATION_RELU;
    case ly::Activation::kRelu6:
      return v1::ACTIVATION_RELU6;
    default:
      return v1::ACTIVATION_NONE;
  }
}

ly::Window WindowFromProto(const v1::Window& w) {
  ly::Window out;
  out.kernel_h = w.kernel_h();
  out.kernel_w = w.kernel_w();
  out.stride_h = w.stride_h() == 0 ? 1 : w.stride_h();
  out.stride_w = w.stride_w() == 0 ? 1 : w.stride_w();
  out.dilation_h = w.dilation_h() == 0 ? 1 : w.dilation_h();
  out.dilation_w = w.dilation_w() == 0 ? 1 : w.dilation_w();
  out.padding = ly::Padding{w.pad_top(), w.pad_left(), w.pad_bottom(), w.pad_right()};
  return out;
}

v1::Window WindowToProto(const ly::Window& w) {
  v1::Window out;
  out.set_kernel_h(w.kernel_h);
  out.set_kernel_w(w.kernel_w);
  out.set_stride_h(w.stride_h);
  out.set_stride_w(w.stride_w);
  out.set_dilation_h(w.dilation_h);
  out.set_dilation_w(w.dilation_w);
  out.set_pad_top(w.padding.top);
  out.set_pad_left(w.padding.left);
  out.set_pad_bottom(w.padding.bottom);
  out.set_pad_right(w.padding.right);
  return out;
}

namespace {

// The flat params (weights then bias) of float32 tensors of `weights` and
// `bias` values; a clear error for int8 or miscounted tensors.
absl::StatusOr<std::vector<float>> ParamsFrom(const v1::Tensor& weights, const v1::Tensor& bias,
                                              int64_t weight_count, int64_t bias_count,
                                              const std::string& where) {
  if (!weights.int8_values().empty() || !bias.int8_values().empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": int8 tensors belong to the int8 variant, not the float body"));
  }
  if (weight_count < 1 || weights.values_size() != weight_count) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": weights need exactly ", weight_count,
                                                   " float32 values, got ", weights.values_size()));
  }
  if (bias.values_size() != bias_count) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": bias needs exactly ", bias_count,
                                                   " float32 values, got ", bias.values_size()));
  }
  std::vector<float> params;
  params.reserve(static_cast<size_t>(weight_count + bias_count));
  params.insert(params.end(), weights.values().begin(), weights.values().end());
  params.insert(params.end(), bias.values().begin(), bias.values().end());
  for (float v : params) {
    if (!std::isfinite(v)) {
      return absl::InvalidArgumentError(absl::StrCat(where, ": non-finite parameter"));
    }
  }
  return params;
}

// Weights and bias from a flat params vector (bias last, `outputs` values).
void SetParams(const std::vector<float>& params, int64_t outputs, std::vector<int64_t> weight_shape,
               v1::Tensor* weights, v1::Tensor* bias) {
  const auto split = params.end() - outputs;
  for (int64_t d : weight_shape) weights->add_shape(d);
  weights->mutable_values()->Add(params.begin(), split);
  bias->add_shape(outputs);
  bias->mutable_values()->Add(split, params.end());
}

// Dimensions that multiply into a parameter count stay well inside int64.
bool Positive(int32_t v) { return v >= 1 && v <= (1 << 16); }

// A body's largest tensor (parameters of one layer, or one example's
// activation): 2^24 floats (64 MiB). Products are taken in double, so that
// four dimensions of 2^16 cannot wrap.
constexpr double kMaxTensorFloats = double{1 << 24};

// A body's work per example: 2^32 multiply-adds (minutes per example on a
// microcontroller); sizes alone would let a valid body cost 2^48.
constexpr int64_t kMaxMultiplyAdds = int64_t{1} << 32;

absl::Status CheckCount(double count, const std::string& where) {
  if (count > kMaxTensorFloats) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": ", count, " values is over the limit of ", kMaxTensorFloats));
  }
  return absl::OkStatus();
}

}  // namespace

bool HasConvBody(const v1::Model& model) { return model.layers_size() > 0; }

absl::StatusOr<ly::LayerSpec> LayerFromProto(const v1::Layer& layer, int index) {
  const std::string where = absl::StrCat("layer ", index);
  switch (layer.kind_case()) {
    case v1::Layer::kDense: {
      const v1::DenseLayer& d = layer.dense();
      const std::string at = absl::StrCat(where, " (dense)");
      if (!Positive(d.inputs()) || !Positive(d.outputs())) {
        return absl::InvalidArgumentError(absl::StrCat(at, ": inputs and outputs in [1, 65536]"));
      }
      if (d.relu()) {
        return absl::InvalidArgumentError(
            absl::StrCat(at, ": set `activation`, not `relu`, in a convolutional body"));
      }
      if (absl::Status s = CheckCount(double{1} * d.inputs() * d.outputs(), at); !s.ok()) return s;
      ly::Dense out;
      out.in_features = d.inputs();
      out.out_features = d.outputs();
      absl::StatusOr<ly::Activation> act = ActivationFromProto(d.activation(), at);
      if (!act.ok()) return act.status();
      out.activation = *act;
      absl::StatusOr<std::vector<float>> params =
          ParamsFrom(d.weights(), d.bias(), int64_t{d.inputs()} * d.outputs(), d.outputs(), at);
      if (!params.ok()) return params.status();
      out.params = *std::move(params);
      return ly::LayerSpec(std::move(out));
    }
    case v1::Layer::kConv2D: {
      const v1::Conv2dLayer& c = layer.conv2d();
      const std::string at = absl::StrCat(where, " (conv2d)");
      ly::Conv2d out;
      out.in_channels = c.in_channels();
      out.out_channels = c.out_channels();
      out.window = WindowFromProto(c.window());
      if (!Positive(c.in_channels()) || !Positive(c.out_channels()) ||
          !Positive(out.window.kernel_h) || !Positive(out.window.kernel_w)) {
        return absl::InvalidArgumentError(
            absl::StrCat(at, ": channels and kernel sizes in [1, 65536]"));
      }
      absl::StatusOr<ly::Activation> act = ActivationFromProto(c.activation(), at);
      if (!act.ok()) return act.status();
      out.activation = *act;
      const double count = double{1} * out.window.kernel_h * out.window.kernel_w *
                           c.in_channels() * c.out_channels();
      if (absl::Status s = CheckCount(count, at); !s.ok()) return s;
      const int64_t weights = static_cast<int64_t>(count);
      absl::StatusOr<std::vector<float>> params =
          ParamsFrom(c.weights(), c.bias(), weights, c.out_channels(), at);
      if (!params.ok()) return params.status();
      out.params = *std::move(params);
      return ly::LayerSpec(std::move(out));
    }
    case v1::Layer::kDepthwiseConv2D: {
      const v1::DepthwiseConv2dLayer& c = layer.depthwise_conv2d();
      const std::string at = absl::StrCat(where, " (depthwise_conv2d)");
      ly::DepthwiseConv2d out;
      out.in_channels = c.in_channels();
      out.channel_multiplier = c.channel_multiplier();
      out.window = WindowFromProto(c.window());
      if (!Positive(c.in_channels()) || !Positive(c.channel_multiplier()) ||
          !Positive(out.window.kernel_h) || !Positive(out.window.kernel_w)) {
        return absl::InvalidArgumentError(
            absl::StrCat(at, ": channels, multiplier and kernel sizes in [1, 65536]"));
      }
      absl::StatusOr<ly::Activation> act = ActivationFromProto(c.activation(), at);
      if (!act.ok()) return act.status();
      out.activation = *act;
      const int64_t channels = int64_t{c.in_channels()} * c.channel_multiplier();
      if (absl::Status s = CheckCount(double{1} * out.window.kernel_h * out.window.kernel_w * channels,
                                      at);
          !s.ok()) {
        return s;
      }
      const int64_t weights = int64_t{out.window.kernel_h} * out.window.kernel_w * channels;
      absl::StatusOr<std::vector<float>> params =
          ParamsFrom(c.weights(), c.bias(), weights, channels, at);
      if (!params.ok()) return params.status();
      out.params = *std::move(params);
      return ly::LayerSpec(std::move(out));
    }
    case v1::Layer::kAvgPool2D: {
      ly::AvgPool2d out;
      out.window = WindowFromProto(layer.avg_pool2d().window());
      out.count_include_pad = layer.avg_pool2d().count_include_pad();
      return ly::LayerSpec(out);
    }
    case v1::Layer::kMaxPool2D: {
      ly::MaxPool2d out;
      out.window = WindowFromProto(layer.max_pool2d().window());
      return ly::LayerSpec(out);
    }
    case v1::Layer::kGlobalAvgPool2D:
      return ly::LayerSpec(ly::GlobalAvgPool2d{});
    case v1::Layer::kFlatten:
      return ly::LayerSpec(ly::Flatten{});
    case v1::Layer::kActivation: {
      const std::string at = absl::StrCat(where, " (activation)");
      absl::StatusOr<ly::Activation> act = ActivationFromProto(layer.activation().activation(), at);
      if (!act.ok()) return act.status();
      if (*act == ly::Activation::kNone) {
        return absl::InvalidArgumentError(absl::StrCat(at, ": no activation named"));
      }
      ly::ActivationLayer out;
      out.activation = *act;
      return ly::LayerSpec(out);
    }
    case v1::Layer::KIND_NOT_SET:
      break;
  }
  return absl::InvalidArgumentError(absl::StrCat(where, ": no layer type set"));
}

v1::Layer LayerToProto(const ly::LayerSpec& spec) {
  v1::Layer out;
  std::visit(
      [&out](const auto& l) {
        using T = std::decay_t<decltype(l)>;
        if constexpr (std::is_same_v<T, ly::Dense>) {
          v1::DenseLayer* d = out.mutable_dense();
          d->set_inputs(l.in_features);
          d->set_outputs(l.out_features);
          d->set_activation(ActivationToProto(l.activation));
          SetParams(l.params, l.out_features, {l.out_features, l.in_features},
                    d->mutable_weights(), d->mutable_bias());
        } else if constexpr (std::is_same_v<T, ly::Conv2d>) {
          v1::Conv2dLayer* c = out.mutable_conv2d();
          c->set_in_channels(l.in_channels);
          c->set_out_channels(l.out_channels);
          *c->mutable_window() = WindowToProto(l.window);
          c->set_activation(ActivationToProto(l.activation));
          SetParams(l.params, l.out_channels,
                    {l.window.kernel_h, l.window.kernel_w, l.in_channels, l.out_channels},
                    c->mutable_weights(), c->mutable_bias());
        } else if constexpr (std::is_same_v<T, ly::DepthwiseConv2d>) {
          v1::DepthwiseConv2dLayer* c = out.mutable_depthwise_conv2d();
          c->set_in_channels(l.in_channels);
          c->set_channel_multiplier(l.channel_multiplier);
          *c->mutable_window() = WindowToProto(l.window);
          c->set_activation(ActivationToProto(l.activation));
          SetParams(l.params, l.out_channels(),
                    {l.window.kernel_h, l.window.kernel_w, l.out_channels()},
                    c->mutable_weights(), c->mutable_bias());
        } else if constexpr (std::is_same_v<T, ly::AvgPool2d>) {
          *out.mutable_avg_pool2d()->mutable_window() = WindowToProto(l.window);
          out.mutable_avg_pool2d()->set_count_include_pad(l.count_include_pad);
        } else if constexpr (std::is_same_v<T, ly::MaxPool2d>) {
          *out.mutable_max_pool2d()->mutable_window() = WindowToProto(l.window);
        } else if constexpr (std::is_same_v<T, ly::GlobalAvgPool2d>) {
          out.mutable_global_avg_pool2d();
        } else if constexpr (std::is_same_v<T, ly::Flatten>) {
          out.mutable_flatten();
        } else {
          static_assert(std::is_same_v<T, ly::ActivationLayer>, "a layer type without a codec");
          out.mutable_activation()->set_activation(ActivationToProto(l.activation));
        }
      },
      spec);
  return out;
}

absl::StatusOr<ly::Network> NetworkFromProto(const v1::Model& model) {
  if (!HasConvBody(model)) return absl::InvalidArgumentError("the model has no convolutional body");
  if (model.body_size() > 0) {
    return absl::InvalidArgumentError("a model has either dense `body` or `layers`, not both");
  }
  const v1::Shape3& s = model.input_shape();
  if (!Positive(s.h()) || !Positive(s.w()) || !Positive(s.c()) ||
      int64_t{s.h()} * s.w() * s.c() > (int64_t{1} << 24)) {
    return absl::InvalidArgumentError(
        absl::StrCat("input_shape ", s.h(), "x", s.w(), "x", s.c(), " is not a valid example"));
  }
  const ly::Shape input{s.h(), s.w(), s.c()};
  if (model.input_dim() != input.size()) {
    return absl::InvalidArgumentError(absl::StrCat("input_dim ", model.input_dim(),
                                                   " is not input_shape's ", input.size()));
  }
  std::vector<ly::LayerSpec> layers;
  layers.reserve(static_cast<size_t>(model.layers_size()));
  for (int i = 0; i < model.layers_size(); ++i) {
    absl::StatusOr<ly::LayerSpec> layer = LayerFromProto(model.layers(i), i);
    if (!layer.ok()) return layer.status();
    layers.push_back(*std::move(layer));
  }
  absl::StatusOr<ly::Network> net = client::ToAbsl(ly::Network::Create(input, std::move(layers)));
  if (!net.ok()) return net.status();
  if (net->multiply_adds() > kMaxMultiplyAdds) {
    return absl::InvalidArgumentError(absl::StrCat("the body takes ", net->multiply_adds(),
                                                   " multiply-adds per example, over the limit of ",
                                                   kMaxMultiplyAdds));
  }
  for (size_t i = 1; i < net->shapes().size(); ++i) {
    const ly::Shape& out = net->shapes()[i];
    if (absl::Status s = CheckCount(static_cast<double>(out.size()),
                                    absl::StrCat("layer ", i - 1, " output"));
        !s.ok()) {
      return s;
    }
  }
  return net;
}

void SetConvBody(ly::Shape input, const std::vector<ly::LayerSpec>& layers, v1::Model& model) {
  model.clear_body();
  model.clear_layers();
  model.set_input_dim(static_cast<int32_t>(input.size()));
  model.mutable_input_shape()->set_h(input.h);
  model.mutable_input_shape()->set_w(input.w);
  model.mutable_input_shape()->set_c(input.c);
  for (const ly::LayerSpec& l : layers) *model.add_layers() = LayerToProto(l);
}

}  // namespace fedtiny
