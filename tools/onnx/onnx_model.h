// ONNX import and export of the device core's layer types (client/core/layers,
// docs/models.md "ONNX import and export"): a model brought from PyTorch
// becomes a frozen body of layers and a trainable head of dense layers, and
// goes back to an ONNX graph a reference runtime can check.
//
// Layouts: ONNX is NCHW, the core NHWC without the N. Import permutes conv
// weights to HWIO ([kh][kw][in][out]), depthwise weights to [kh][kw][in * m],
// Gemm/MatMul weights to [in][out], and the input columns of a dense layer
// after a Flatten of an h x w x c map (h * w > 1) from PyTorch's CHW order to
// HWC. Export inverts each step.
//
// Free functions; thread-safe (no shared state).
#ifndef FEDTINY_TOOLS_ONNX_ONNX_MODEL_H_
#define FEDTINY_TOOLS_ONNX_ONNX_MODEL_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "client/core/layers/dense.h"
#include "client/core/layers/layer_spec.h"
#include "client/core/layers/shape.h"

namespace fedtiny::onnx_io {

// A model in the core's layers: the body runs first, then the head.
struct ImportedModel {
  client::layers::Shape input;  // h, w, c of one example (NHWC).
  std::vector<client::layers::LayerSpec> body;  // The frozen layers, in order.
  std::vector<client::layers::Dense> head;  // The trainable last layers; the
                                            // last has no activation (logits).
};

// ImportOnnx converts a serialized ONNX ModelProto: one float input [N, C, H,
// W] (or [N, F]) with static C, H, W (F), one output, a chain of the operators
// Conv, BatchNormalization (folded into the Conv or Gemm/MatMul before it),
// Relu, Clip (as ReLU or ReLU6), AveragePool, MaxPool, GlobalAveragePool,
// Flatten, Reshape (to [N, -1]), Gemm, MatMul, Add (a MatMul's or Gemm's bias),
// Pad (zeros, before a Conv or AveragePool), Identity and Constant. The last
// `head_layers` layers (after folding) form the head. kInvalidArgument, with
// the operator and node named where one is at fault, for unparsable bytes, any
// other operator or attribute the layers cannot run, a graph that is not a
// chain, tensors of the wrong size or holding NaN/Inf, and a head that is not
// `head_layers` >= 1 dense layers ending without an activation.
absl::StatusOr<ImportedModel> ImportOnnx(absl::string_view onnx_bytes,
                                         int head_layers);

// ExportOnnx is the inverse: a serialized ModelProto (opset 13; input "input"
// [N, C, H, W], or [N, F] when the first layer is dense on a 1 x 1 x F input;
// output "logits") computing what client::layers::Network computes on the body
// then the head. ImportOnnx of it gives back the same parameters.
// kInvalidArgument when the layers do not chain from `model.input` (the
// Network's check).
absl::StatusOr<std::string> ExportOnnx(const ImportedModel& model);

}  // namespace fedtiny::onnx_io

#endif  // FEDTINY_TOOLS_ONNX_ONNX_MODEL_H_
