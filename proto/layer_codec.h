// The convolutional body on the wire (Model.layers, Model.input_shape; issue 16)
// and client/core/layers' types: one conversion per layer type, both ways,
// shared by the coordinator (validation, ONNX import and export, variants) and
// the device's transport. The parameters keep the core's flat layouts
// (docs/models.md), so a float layer's Tensor.values is exactly its `params`.
//
// All functions are pure and thread-safe.
#ifndef FEDTINY_PROTO_LAYER_CODEC_H_
#define FEDTINY_PROTO_LAYER_CODEC_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "client/core/layers/layer_spec.h"
#include "client/core/layers/network.h"
#include "client/core/layers/shape.h"
#include "proto/model.pb.h"

namespace fedtiny {

// The pieces every layer type shares (also used by proto/int8_layer_codec.h).
// ActivationFromProto: kInvalidArgument "<where>: unknown activation N".
absl::StatusOr<client::layers::Activation> ActivationFromProto(v1::Activation a,
                                                               const std::string& where);
v1::Activation ActivationToProto(client::layers::Activation a);
// Zero strides and dilations read as 1 (proto3's default).
client::layers::Window WindowFromProto(const v1::Window& w);
v1::Window WindowToProto(const client::layers::Window& w);

// HasConvBody: the model's body is Model.layers (not the dense Model.body).
bool HasConvBody(const v1::Model& model);

// LayerFromProto: the float layer. kInvalidArgument naming the layer `index`
// and the field for no type set, a tensor of the wrong size or kind (int8
// weights are the int8 variant's: see Int8... in proto/int8_layer_codec.h), a
// non-finite value, or an unknown activation. The shape is checked later, by
// NetworkFromProto.
absl::StatusOr<client::layers::LayerSpec> LayerFromProto(const v1::Layer& layer, int index);

// LayerToProto: the inverse (float32 tensors with their shapes).
v1::Layer LayerToProto(const client::layers::LayerSpec& layer);

// NetworkFromProto: the float body of a model with HasConvBody, every shape
// checked from input_shape on (layers::Network::Create), and input_dim equal to
// input_shape's size; no tensor or activation over 2^24 values, no more than
// 2^32 multiply-adds per example. kInvalidArgument naming the layer.
absl::StatusOr<client::layers::Network> NetworkFromProto(const v1::Model& model);

// SetConvBody: writes `input` and `layers` as the model's body (input_shape,
// input_dim, layers), clearing the dense body.
void SetConvBody(client::layers::Shape input, const std::vector<client::layers::LayerSpec>& layers,
                 v1::Model& model);

}  // namespace fedtiny

#endif  // FEDTINY_PROTO_LAYER_CODEC_H_
