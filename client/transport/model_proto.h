// Conversions between the wire model (proto/model.proto) and the SDK's types
// (client/core/model.h). client/core stays free of protobuf; the coordinator
// works on the wire model directly (proto/model_codec.h), so these live on the
// device's side of the wire. All functions are pure and thread-safe.
#ifndef FEDTINY_CLIENT_TRANSPORT_MODEL_PROTO_H_
#define FEDTINY_CLIENT_TRANSPORT_MODEL_PROTO_H_

#include "absl/status/statusor.h"
#include "client/core/model.h"
#include "proto/model.pb.h"

namespace fedtiny::client {

// BodyFromProto: the body, float32 and int8 layers as sent; a convolutional
// body (Model.layers) becomes the Body's front (proto/layer_codec.h). kInvalidArgument
// naming the layer when ValidateBody (proto/model_codec.h) fails.
absl::StatusOr<Body> BodyFromProto(const v1::Model& model);

// HeadFromProto: the head. kInvalidArgument naming the layer when ValidateHead
// (proto/model_codec.h) fails. Head::Flatten of the result equals HeadParams.
absl::StatusOr<Head> HeadFromProto(const v1::Model& model);

// ModelToProto: the wire model of `body` and `head`; `input_dim` is the body's,
// or the head's without a body. Float32 body layers stay float32; a front goes
// to Model.layers.
v1::Model ModelToProto(const Body& body, const Head& head);

}  // namespace fedtiny::client

#endif  // FEDTINY_CLIENT_TRANSPORT_MODEL_PROTO_H_
