#include "proto/model_codec.h"

#include <cmath>
#include <cstdint>
#include <string>

#include "absl/strings/str_cat.h"
#include "proto/int8_layer_codec.h"
#include "proto/layer_codec.h"
#include "tools/base/int8_quant.h"
#include "tools/base/status_macros.h"

namespace fedtiny {

namespace {

bool AllFinite(const google::protobuf::RepeatedField<float>& values) {
  for (float v : values) {
    if (!std::isfinite(v)) return false;
  }
  return true;
}

absl::Status CheckLayer(const v1::DenseLayer& l, const std::string& where) {
  const int64_t n = static_cast<int64_t>(l.inputs()) * l.outputs();
  if (l.inputs() <= 0 || l.outputs() <= 0 || l.bias().values_size() != l.outputs()) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": bad shape or bias"));
  }
  const bool f32 = l.weights().values_size() == n;
  const bool i8 = static_cast<int64_t>(l.weights().int8_values().size()) == n;
  if (f32 == i8) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": weights need exactly ", n, " float32 or int8 values"));
  }
  if (!AllFinite(l.weights().values()) || !AllFinite(l.bias().values())) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": NaN/Inf"));
  }
  if (i8 && !(l.weights().scale() > 0 && std::isfinite(l.weights().scale()))) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": int8 scale must be > 0"));
  }
  return absl::OkStatus();
}

int64_t NumParams(const v1::Model& model) {
  int64_t n = 0;
  for (const v1::DenseLayer& l : model.head()) n += l.weights().values_size() + l.bias().values_size();
  return n;
}

v1::DenseLayer Int8Layer(const v1::DenseLayer& l) {
  const Int8Affine affine = ChooseInt8Affine(l.weights().values());
  std::string q(static_cast<size_t>(l.weights().values_size()), '\0');
  QuantizeInt8(l.weights().values(), affine,
               absl::MakeSpan(reinterpret_cast<int8_t*>(q.data()), q.size()));
  v1::DenseLayer out;
  out.set_inputs(l.inputs());
  out.set_outputs(l.outputs());
  out.set_relu(l.relu());
  out.mutable_weights()->add_shape(l.outputs());
  out.mutable_weights()->add_shape(l.inputs());
  out.mutable_weights()->set_int8_values(std::move(q));
  out.mutable_weights()->set_scale(affine.scale);
  out.mutable_weights()->set_zero_point(affine.zero_point);
  *out.mutable_bias()->mutable_values() = l.bias().values();
  return out;
}

}  // namespace

absl::Status ValidateBody(const v1::Model& model) {
  if (HasInt8ConvBody(model)) return Int8NetworkFromProto(model).status();
  if (HasConvBody(model)) return NetworkFromProto(model).status();
  int64_t width = model.input_dim();
  for (int i = 0; i < model.body_size(); ++i) {
    const v1::DenseLayer& l = model.body(i);
    RETURN_IF_ERROR(CheckLayer(l, absl::StrCat("body layer ", i)));
    if (l.inputs() != width) {
      return absl::InvalidArgumentError(absl::StrCat("body layer ", i, ": input width mismatch"));
    }
    width = l.outputs();
  }
  return absl::OkStatus();
}

absl::Status ValidateHead(const v1::Model& model) {
  if (model.head_size() == 0) return absl::InvalidArgumentError("head has no layers");
  for (int i = 0; i < model.head_size(); ++i) {
    const v1::DenseLayer& l = model.head(i);
    RETURN_IF_ERROR(CheckLayer(l, absl::StrCat("head layer ", i)));
    if (l.weights().values_size() == 0) {
      return absl::InvalidArgumentError(absl::StrCat("head layer ", i, ": must be float32"));
    }
    if (l.activation() != v1::ACTIVATION_NONE) {
      return absl::InvalidArgumentError(
          absl::StrCat("head layer ", i, ": the head's activation is `relu` (ReLU or none)"));
    }
    if (i > 0 && model.head(i - 1).outputs() != l.inputs()) {
      return absl::InvalidArgumentError(
          absl::StrCat("head layer ", i, " input width differs from layer ", i - 1));
    }
  }
  if (model.head(model.head_size() - 1).relu()) {
    return absl::InvalidArgumentError("the head's last layer must be linear (logits)");
  }
  return absl::OkStatus();
}

absl::StatusOr<int64_t> BodyOutputWidth(const v1::Model& model) {
  if (HasInt8ConvBody(model)) {
    ASSIGN_OR_RETURN(const client::layers::Int8Network net, Int8NetworkFromProto(model));
    return net.output().size();
  }
  if (HasConvBody(model)) {
    ASSIGN_OR_RETURN(const client::layers::Network net, NetworkFromProto(model));
    return net.output().size();
  }
  RETURN_IF_ERROR(ValidateBody(model));
  return model.body_size() == 0 ? int64_t{model.input_dim()}
                                : int64_t{model.body(model.body_size() - 1).outputs()};
}

absl::Status ValidateModel(const v1::Model& model) {
  ASSIGN_OR_RETURN(const int64_t features, BodyOutputWidth(model));
  RETURN_IF_ERROR(ValidateHead(model));
  if (features != model.head(0).inputs()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the body's output width (", features, ") differs from the head's input (",
        model.head(0).inputs(), ")"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<float>> HeadParams(const v1::Model& model) {
  RETURN_IF_ERROR(ValidateHead(model));
  std::vector<float> flat;
  flat.reserve(static_cast<size_t>(NumParams(model)));
  for (const v1::DenseLayer& l : model.head()) {
    flat.insert(flat.end(), l.weights().values().begin(), l.weights().values().end());
    flat.insert(flat.end(), l.bias().values().begin(), l.bias().values().end());
  }
  return flat;
}

absl::Status SetHeadParams(absl::Span<const float> flat, v1::Model& model) {
  RETURN_IF_ERROR(ValidateHead(model));
  if (static_cast<int64_t>(flat.size()) != NumParams(model)) {
    return absl::InvalidArgumentError(
        absl::StrCat("head has ", NumParams(model), " parameters, got ", flat.size()));
  }
  const float* p = flat.data();
  for (v1::DenseLayer& l : *model.mutable_head()) {
    for (float& w : *l.mutable_weights()->mutable_values()) w = *p++;
    for (float& b : *l.mutable_bias()->mutable_values()) b = *p++;
  }
  return absl::OkStatus();
}

v1::Model Int8BodyVariant(const v1::Model& model) {
  v1::Model out = model;
  for (int i = 0; i < out.body_size(); ++i) {
    if (model.body(i).weights().values_size() == 0) continue;  // Already int8.
    *out.mutable_body(i) = Int8Layer(model.body(i));
  }
  return out;
}

}  // namespace fedtiny
