// The int8 variant of a convolutional body on the wire (model.proto: Model.layers
// with int8 tensors, Model.input_quant) and client/core/layers' Int8Network:
// what the server's post-training quantization ships and a device runs.
// Multipliers and shifts are not sent: they follow from the scales (a device
// recomputes them, and Int8Network::Create checks they agree).
//
// All functions are pure and thread-safe.
#ifndef FEDTINY_PROTO_INT8_LAYER_CODEC_H_
#define FEDTINY_PROTO_INT8_LAYER_CODEC_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "client/core/layers/int8_network.h"
#include "proto/model.pb.h"

namespace fedtiny {

// HasInt8ConvBody: a convolutional body in its int8 form (input_quant set).
bool HasInt8ConvBody(const v1::Model& model);

// Int8NetworkFromProto: kInvalidArgument naming the layer for anything
// malformed (a missing or miscounted tensor, a non-positive or non-finite
// scale, a zero point outside [-128, 127], float tensors, shapes that do not
// chain), or kOutOfRange when an accumulator or multiplier cannot fit.
absl::StatusOr<client::layers::Int8Network> Int8NetworkFromProto(const v1::Model& model);

// SetInt8ConvBody writes `net` as the model's body (input_shape, input_dim,
// input_quant, layers), clearing the dense body. kInvalidArgument for a
// clamp that is none of the activations' (which no quantizer makes).
absl::Status SetInt8ConvBody(const client::layers::Int8Network& net, v1::Model& model);

}  // namespace fedtiny

#endif  // FEDTINY_PROTO_INT8_LAYER_CODEC_H_
