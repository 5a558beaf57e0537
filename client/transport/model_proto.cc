#include "client/transport/model_proto.h"

#include <utility>
#include <variant>
#include <vector>

#include "proto/int8_layer_codec.h"
#include "proto/layer_codec.h"
#include "proto/model_codec.h"
#include "tools/base/status_macros.h"

namespace fedtiny::client {

namespace {

// `l` has passed the checks of proto/model_codec.h, so the maps stay in bounds.
DenseLayer FloatLayer(const v1::DenseLayer& l) {
  DenseLayer d;
  d.w = Eigen::Map<const Eigen::MatrixXf>(l.weights().values().data(), l.outputs(), l.inputs());
  d.b = Eigen::Map<const Eigen::VectorXf>(l.bias().values().data(), l.outputs());
  d.relu = l.relu();
  return d;
}

QuantizedDenseLayer Int8Layer(const v1::DenseLayer& l) {
  QuantizedDenseLayer q;
  q.q = Eigen::Map<const Eigen::Matrix<int8_t, Eigen::Dynamic, Eigen::Dynamic>>(
      reinterpret_cast<const int8_t*>(l.weights().int8_values().data()), l.outputs(), l.inputs());
  q.scale = l.weights().scale();
  q.zero_point = l.weights().zero_point();
  q.b = Eigen::Map<const Eigen::VectorXf>(l.bias().values().data(), l.outputs());
  q.relu = l.relu();
  return q;
}

void PutFloat(const DenseLayer& d, v1::DenseLayer& l) {
  l.set_inputs(d.in());
  l.set_outputs(d.out());
  l.set_relu(d.relu);
  l.mutable_weights()->add_shape(d.out());
  l.mutable_weights()->add_shape(d.in());
  l.mutable_weights()->mutable_values()->Add(d.w.data(), d.w.data() + d.w.size());
  l.mutable_bias()->mutable_values()->Add(d.b.data(), d.b.data() + d.b.size());
}

void PutInt8(const QuantizedDenseLayer& q, v1::DenseLayer& l) {
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

absl::StatusOr<Body> BodyFromProto(const v1::Model& model) {
  if (HasInt8ConvBody(model)) {
    ASSIGN_OR_RETURN(layers::Int8Network front, Int8NetworkFromProto(model));
    return Body(std::move(front));
  }
  if (HasConvBody(model)) {
    ASSIGN_OR_RETURN(layers::Network front, NetworkFromProto(model));
    return Body(std::move(front));
  }
  RETURN_IF_ERROR(ValidateBody(model));
  std::vector<BodyLayer> layers;
  for (const v1::DenseLayer& l : model.body()) {
    if (l.weights().values_size() > 0) {
      layers.push_back(FloatLayer(l));
    } else {
      layers.push_back(Int8Layer(l));
    }
  }
  return Body(std::move(layers));
}

absl::StatusOr<Head> HeadFromProto(const v1::Model& model) {
  RETURN_IF_ERROR(ValidateHead(model));
  Head head;
  for (const v1::DenseLayer& l : model.head()) head.layers.push_back(FloatLayer(l));
  return head;
}

v1::Model ModelToProto(const Body& body, const Head& head) {
  v1::Model m;
  m.set_input_dim(static_cast<int32_t>(body.input_dim(head.input_dim())));
  if (const layers::Network* front = body.front(); front != nullptr) {
    SetConvBody(front->input(), front->layers(), m);
  }
  if (const layers::Int8Network* front = body.int8_front(); front != nullptr) {
    // Only a clamp no activation makes fails, and no quantizer makes one.
    if (!SetInt8ConvBody(*front, m).ok()) m.clear_layers();
  }
  for (const BodyLayer& l : body.layers()) {
    if (const auto* d = std::get_if<DenseLayer>(&l)) {
      PutFloat(*d, *m.add_body());
    } else {
      PutInt8(std::get<QuantizedDenseLayer>(l), *m.add_body());
    }
  }
  for (const DenseLayer& d : head.layers) PutFloat(d, *m.add_head());
  return m;
}

}  // namespace fedtiny::client
