// What the coordinator needs of a wire model (proto/model.proto) without the
// SDK's types: its shape check, the flat head layout and the int8 variant. The
// SDK converts to its own types in client/transport/model_proto.h, after the
// same checks.
//
// The flat head layout, used by updates (proto/delta_codec.h), aggregation,
// storage and client::Head::Flatten (client/transport/model_proto_test.cc
// checks that they agree), is defined here: head layer by head layer, the
// weights' float32 values in the order DenseLayer.weights holds them (outputs x
// inputs, column-major), then the bias's values.
//
// All functions are pure and thread-safe.
#ifndef FEDTINY_PROTO_MODEL_CODEC_H_
#define FEDTINY_PROTO_MODEL_CODEC_H_

#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "proto/model.pb.h"

namespace fedtiny {

// ValidateBody: a convolutional body (Model.layers) must pass
// NetworkFromProto (proto/layer_codec.h), or Int8NetworkFromProto
// (proto/int8_layer_codec.h) in its int8 form. Otherwise every body layer has positive widths, a bias of `outputs`
// values, exactly inputs x outputs float32 or int8 weights (int8 with a
// positive finite scale), finite values, and takes the previous layer's output
// width (the first takes `input_dim`). kInvalidArgument naming the layer.
absl::Status ValidateBody(const v1::Model& model);

// BodyOutputWidth: ValidateBody, then the width the body hands the head
// (input_dim without a body). kInvalidArgument.
absl::StatusOr<int64_t> BodyOutputWidth(const v1::Model& model);

// ValidateHead: at least one head layer, each as a body layer but float32 only,
// consecutive widths agree and the last layer is linear (logits).
// kInvalidArgument naming the layer.
absl::Status ValidateHead(const v1::Model& model);

// ValidateModel: ValidateBody, ValidateHead, and the body's output width (or
// `input_dim` without a body) equals the head's input width. kInvalidArgument.
absl::Status ValidateModel(const v1::Model& model);

// HeadParams: the head's parameters in the flat layout; kInvalidArgument when
// ValidateHead fails.
absl::StatusOr<std::vector<float>> HeadParams(const v1::Model& model);

// SetHeadParams: the inverse, writing `flat` into the head's values.
// kInvalidArgument, changing nothing, when ValidateHead fails or `flat` is not
// the head's parameter count.
absl::Status SetHeadParams(absl::Span<const float> flat, v1::Model& model);

// Int8BodyVariant: the same model with every float32 body layer quantized to
// int8 (tools/base/int8_quant.h); int8 layers and the head are kept. For a
// model that passes ValidateBody, the result passes it too.
v1::Model Int8BodyVariant(const v1::Model& model);

}  // namespace fedtiny

#endif  // FEDTINY_PROTO_MODEL_CODEC_H_
