// A task's model from an ONNX file and back (issue 16), and the variants the
// import builds: the glue between tools/onnx's layers (onnx_model.h) and the
// wire model (proto/model.proto) that `flctl models import|export` and the
// simulator use.
//
// All functions are pure and thread-safe.
#ifndef FEDTINY_TOOLS_ONNX_ONNX_TASK_H_
#define FEDTINY_TOOLS_ONNX_ONNX_TASK_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "client/core/model.h"
#include "proto/model.pb.h"

namespace fedtiny::onnx_io {

// ModelFromOnnx: the initial model of a task: the ONNX graph's frozen layers
// as the convolutional body (Model.layers), its last `head_layers` dense layers
// as the trainable head. kInvalidArgument naming an unsupported operator (see
// ImportOnnx), or for a head layer with ReLU6 (the head trainer knows ReLU
// only). The result passes ValidateModel.
absl::StatusOr<v1::Model> ModelFromOnnx(absl::string_view onnx_bytes, int head_layers);

// OnnxFromModel: the float32 model (a convolutional or dense body, and the
// head) as ONNX, NCHW, e.g. a committed version's head on the task's body.
// kInvalidArgument for an int8 body (export the float32 variant) or a model
// that fails ValidateModel.
absl::StatusOr<std::string> OnnxFromModel(const v1::Model& model);

// Int8Variant: the model's convolutional body quantized after training
// (layers::QuantizeNetwork) with activation ranges calibrated on `proxy`
// (rows x input_dim examples, e.g. the operator's proxy data), in its int8
// wire form; the head is kept. kInvalidArgument without a float
// convolutional body or with no examples.
absl::StatusOr<v1::Model> Int8Variant(const v1::Model& model, const client::RowMatrixXf& proxy);

// ProxyAccuracy: top-1 accuracy of the model (any body form) on `images`
// (rows x input_dim) and `labels`.
absl::StatusOr<double> ProxyAccuracy(const v1::Model& model, const client::RowMatrixXf& images,
                                     const std::vector<int32_t>& labels);

}  // namespace fedtiny::onnx_io

#endif  // FEDTINY_TOOLS_ONNX_ONNX_TASK_H_
