#include "proto/model_codec.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "tools/base/status_macros.h"

namespace fedtiny {

namespace {

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
  for (float v : l.weights().values())
    if (!std::isfinite(v)) return absl::InvalidArgumentError(absl::StrCat(where, ": NaN/Inf"));
  for (float v : l.bias().values())
    if (!std::isfinite(v)) return absl::InvalidArgumentError(absl::StrCat(where, ": NaN/Inf"));
  if (i8 && !(l.weights().scale() > 0 && std::isfinite(l.weights().scale()))) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": int8 scale must be > 0"));
  }
  return absl::OkStatus();
}

client::DenseLayer FloatLayer(const v1::DenseLayer& l) {
  client::DenseLayer d;
  d.w = Eigen::Map<const Eigen::MatrixXf>(l.weights().values().data(), l.outputs(), l.inputs());
  d.b = Eigen::Map<const Eigen::VectorXf>(l.bias().values().data(), l.outputs());
  d.relu = l.relu();
  return d;
}

void PutFloat(const client::DenseLayer& d, v1::DenseLayer& l) {
  l.set_inputs(d.in());
  l.set_outputs(d.out());
  l.set_relu(d.relu);
  l.mutable_weights()->add_shape(d.out());
  l.mutable_weights()->add_shape(d.in());
  l.mutable_weights()->mutable_values()->Add(d.w.data(), d.w.data() + d.w.size());
  l.mutable_bias()->mutable_values()->Add(d.b.data(), d.b.data() + d.b.size());
}

void PutInt8(const client::QuantizedDenseLayer& q, v1::DenseLayer& l) {
  l.set_inputs(q.in());
  l.set_outputs(q.out());
  l.set_relu(q.relu);
  l.mutable_weights()->add_shape(q.out());
  l.mutable_weights()->add_shape(q.in());
  l.mutable_weights()->set_int8_values(reinterpret_cast<const char*>(q.q.data()), q.q.size());
  l.mutable_weights()->set_scale(q.scale);
  l.mutable_weights()->set_zero_point(q.zero_point);
  l.mutable_bias()->mutable_values()->Add(q.b.data(), q.b.data() + q.b.size());
}

}  // namespace

absl::StatusOr<client::Body> BodyFromProto(const v1::Model& model) {
  std::vector<client::BodyLayer> layers;
  int64_t width = model.input_dim();
  for (int i = 0; i < model.body_size(); ++i) {
    const v1::DenseLayer& l = model.body(i);
    RETURN_IF_ERROR(CheckLayer(l, absl::StrCat("body layer ", i)));
    if (l.inputs() != width) {
      return absl::InvalidArgumentError(absl::StrCat("body layer ", i, ": input width mismatch"));
    }
    width = l.outputs();
    if (l.weights().values_size() > 0) {
      layers.push_back(FloatLayer(l));
    } else {
      client::QuantizedDenseLayer q;
      q.q = Eigen::Map<const Eigen::Matrix<int8_t, Eigen::Dynamic, Eigen::Dynamic>>(
          reinterpret_cast<const int8_t*>(l.weights().int8_values().data()), l.outputs(),
          l.inputs());
      q.scale = l.weights().scale();
      q.zero_point = l.weights().zero_point();
      q.b = Eigen::Map<const Eigen::VectorXf>(l.bias().values().data(), l.outputs());
      q.relu = l.relu();
      layers.push_back(std::move(q));
    }
  }
  return client::Body(std::move(layers));
}

absl::StatusOr<client::Head> HeadFromProto(const v1::Model& model) {
  client::Head head;
  for (int i = 0; i < model.head_size(); ++i) {
    const v1::DenseLayer& l = model.head(i);
    RETURN_IF_ERROR(CheckLayer(l, absl::StrCat("head layer ", i)));
    if (l.weights().values_size() == 0) {
      return absl::InvalidArgumentError(absl::StrCat("head layer ", i, ": must be float32"));
    }
    head.layers.push_back(FloatLayer(l));
  }
  RETURN_IF_ERROR(head.Validate());
  return head;
}

v1::Model ModelToProto(const client::Body& body, const client::Head& head) {
  v1::Model m;
  m.set_input_dim(static_cast<int32_t>(body.input_dim(head.input_dim())));
  for (const client::BodyLayer& l : body.layers()) {
    if (const auto* d = std::get_if<client::DenseLayer>(&l)) {
      PutFloat(*d, *m.add_body());
    } else {
      PutInt8(std::get<client::QuantizedDenseLayer>(l), *m.add_body());
    }
  }
  for (const client::DenseLayer& d : head.layers) PutFloat(d, *m.add_head());
  return m;
}

absl::StatusOr<std::vector<float>> HeadParams(const v1::Model& model) {
  ASSIGN_OR_RETURN(client::Head head, HeadFromProto(model));
  return head.Flatten();
}

absl::Status SetHeadParams(absl::Span<const float> flat, v1::Model& model) {
  ASSIGN_OR_RETURN(client::Head head, HeadFromProto(model));
  RETURN_IF_ERROR(head.Unflatten(flat));
  for (int i = 0; i < model.head_size(); ++i) {
    v1::DenseLayer* l = model.mutable_head(i);
    const client::DenseLayer& d = head.layers[i];
    l->mutable_weights()->mutable_values()->Assign(d.w.data(), d.w.data() + d.w.size());
    l->mutable_bias()->mutable_values()->Assign(d.b.data(), d.b.data() + d.b.size());
  }
  return absl::OkStatus();
}

v1::Model Int8BodyVariant(const v1::Model& model) {
  v1::Model out = model;
  for (int i = 0; i < out.body_size(); ++i) {
    const v1::DenseLayer& l = model.body(i);
    if (l.weights().values_size() == 0) continue;  // Already int8.
    v1::DenseLayer q;
    PutInt8(client::Quantize(FloatLayer(l)), q);
    *out.mutable_body(i) = q;
  }
  return out;
}

}  // namespace fedtiny
