#include "tools/onnx/onnx_task.h"

#include <utility>
#include <variant>

#include "absl/strings/str_cat.h"
#include "client/core/layers/int8_network.h"
#include "client/platform/linux/status_bridge.h"
#include "client/transport/model_proto.h"
#include "proto/int8_layer_codec.h"
#include "proto/layer_codec.h"
#include "proto/model_codec.h"
#include "tools/base/status_macros.h"
#include "tools/onnx/onnx_model.h"

namespace fedtiny::onnx_io {
namespace {

namespace ly = client::layers;

// A head layer on the wire: layers::Dense's [in][out] params are the wire's
// "outputs x inputs, column-major" values as they are.
absl::StatusOr<v1::DenseLayer> HeadLayer(const ly::Dense& d, size_t index) {
  if (d.activation == ly::Activation::kRelu6) {
    return absl::InvalidArgumentError(absl::StrCat(
        "head layer ", index, ": ReLU6 in the head (the head trainer knows ReLU or none); "
                              "put that layer in the body (fewer --head_layers)"));
  }
  v1::DenseLayer out = LayerToProto(ly::LayerSpec(d)).dense();
  out.set_activation(v1::ACTIVATION_NONE);
  out.set_relu(d.activation == ly::Activation::kRelu);
  return out;
}

ly::Dense DenseOf(const v1::DenseLayer& l) {
  ly::Dense d;
  d.in_features = l.inputs();
  d.out_features = l.outputs();
  d.activation = l.relu() ? ly::Activation::kRelu : ly::Activation::kNone;
  d.params.assign(l.weights().values().begin(), l.weights().values().end());
  d.params.insert(d.params.end(), l.bias().values().begin(), l.bias().values().end());
  return d;
}

}  // namespace

absl::StatusOr<v1::Model> ModelFromOnnx(absl::string_view onnx_bytes, int head_layers) {
  ASSIGN_OR_RETURN(ImportedModel imported, ImportOnnx(onnx_bytes, head_layers));
  v1::Model model;
  if (imported.body.empty()) {
    // All dense: the head sees the input itself.
    model.set_input_dim(static_cast<int32_t>(imported.input.size()));
  } else {
    SetConvBody(imported.input, imported.body, model);
  }
  for (size_t i = 0; i < imported.head.size(); ++i) {
    ASSIGN_OR_RETURN(*model.add_head(), HeadLayer(imported.head[i], i));
  }
  RETURN_IF_ERROR(ValidateModel(model));
  return model;
}

absl::StatusOr<std::string> OnnxFromModel(const v1::Model& model) {
  RETURN_IF_ERROR(ValidateModel(model));
  if (HasInt8ConvBody(model)) {
    return absl::InvalidArgumentError("an int8 body does not export: export the float32 variant");
  }
  ImportedModel out;
  if (HasConvBody(model)) {
    ASSIGN_OR_RETURN(const ly::Network net, NetworkFromProto(model));
    out.input = net.input();
    out.body = net.layers();
  } else {
    out.input = ly::Shape{1, 1, model.input_dim()};
    for (const v1::DenseLayer& l : model.body()) {
      if (l.weights().values_size() == 0) {
        return absl::InvalidArgumentError(
            "an int8 body does not export: export the float32 variant");
      }
      out.body.push_back(DenseOf(l));
    }
  }
  for (const v1::DenseLayer& l : model.head()) out.head.push_back(DenseOf(l));
  return ExportOnnx(out);
}

absl::StatusOr<v1::Model> Int8Variant(const v1::Model& model, const client::RowMatrixXf& proxy) {
  if (!HasConvBody(model) || HasInt8ConvBody(model)) {
    return absl::InvalidArgumentError("int8 variant: needs a float convolutional body");
  }
  ASSIGN_OR_RETURN(const ly::Network net, NetworkFromProto(model));
  if (proxy.rows() < 1 || proxy.cols() != net.input().size()) {
    return absl::InvalidArgumentError(absl::StrCat("int8 variant: calibration needs examples of ",
                                                   net.input().size(), " values"));
  }
  ASSIGN_OR_RETURN(const ly::Int8Network q,
                   client::ToAbsl(ly::QuantizeNetwork(net, proxy.data(), proxy.rows())));
  v1::Model out = model;
  RETURN_IF_ERROR(SetInt8ConvBody(q, out));
  return out;
}

absl::StatusOr<double> ProxyAccuracy(const v1::Model& model, const client::RowMatrixXf& images,
                                     const std::vector<int32_t>& labels) {
  ASSIGN_OR_RETURN(const client::Body body, client::BodyFromProto(model));
  ASSIGN_OR_RETURN(const client::Head head, client::HeadFromProto(model));
  ASSIGN_OR_RETURN(const client::RowMatrixXf features, client::ToAbsl(body.Features(images)));
  ASSIGN_OR_RETURN(const client::Evaluation e,
                   client::ToAbsl(client::Evaluate(head, features, labels)));
  return e.accuracy;
}

}  // namespace fedtiny::onnx_io
