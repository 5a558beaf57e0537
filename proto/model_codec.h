// Conversions between the wire model (proto/model.proto) and the SDK's types,
// and the flat head layout shared by updates, aggregation and storage: layer by
// layer, weights (outputs x inputs, column-major) then bias.
#ifndef FEDTINY_PROTO_MODEL_CODEC_H_
#define FEDTINY_PROTO_MODEL_CODEC_H_

#include <vector>

#include "absl/status/statusor.h"
#include "client/core/model.h"
#include "proto/model.pb.h"

namespace fedtiny {

// kInvalidArgument naming the layer for shapes that do not fit, missing values,
// or non-finite weights.
absl::StatusOr<client::Body> BodyFromProto(const v1::Model& model);
absl::StatusOr<client::Head> HeadFromProto(const v1::Model& model);
v1::Model ModelToProto(const client::Body& body, const client::Head& head);

// The head's parameters, flat; and the inverse (kInvalidArgument for a wrong size).
absl::StatusOr<std::vector<float>> HeadParams(const v1::Model& model);
absl::Status SetHeadParams(absl::Span<const float> flat, v1::Model& model);

// The same model with every float32 body layer quantized to int8.
v1::Model Int8BodyVariant(const v1::Model& model);

}  // namespace fedtiny

#endif  // FEDTINY_PROTO_MODEL_CODEC_H_
