// Reading an ONNX graph as a chain, before ImportOnnx converts it: the
// constants (initializers, Constant nodes, Identity of either), the one float
// input and its static dims, and the other nodes ordered from the input to the
// output, each taking the previous node's output and constants only. Plus the
// attribute accessors and the refusal message the importer shares.
//
// A GraphChain points into the ModelProto it was read from, which must outlive
// it. Free functions; thread-safe.
#ifndef FEDTINY_TOOLS_ONNX_ONNX_GRAPH_H_
#define FEDTINY_TOOLS_ONNX_ONNX_GRAPH_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "third_party/onnx/onnx.pb.h"

namespace fedtiny::onnx_io {

// The largest input dimension, kernel, stride or padding accepted: far above
// any model a device runs, and keeps int32 sizes from overflowing.
inline constexpr int64_t kMaxDim = int64_t{1} << 16;

struct GraphChain {
  int64_t opset = 13;  // The default domain's version.
  std::map<std::string, const onnx::TensorProto*> constants;
  std::vector<int32_t> input_dims;  // C, H, W; or F for a 2-D input.
  std::vector<const onnx::NodeProto*> chain;
};

// ReadChain reads `model`'s graph. kInvalidArgument for an operator outside
// the importer's list or domain (named: "unsupported operator 'Sigmoid' (node
// 'x')"), no nodes, other than one input and one output, an input that is not
// float [N, C, H, W] or [N, F] with static C, H, W (F) up to kMaxDim, a node
// with other than one non-constant input or with a second output, and a graph
// that is not a chain from the input to the output.
absl::StatusOr<GraphChain> ReadChain(const onnx::ModelProto& model);

// Refuse is kInvalidArgument "operator 'OP' (node 'NAME'): why".
absl::Status Refuse(const onnx::NodeProto& n, absl::string_view why);

// The attribute `name` of `n`, or null; the typed getters fall back to `dflt`.
const onnx::AttributeProto* Attr(const onnx::NodeProto& n,
                                 absl::string_view name);
int64_t IntAttr(const onnx::NodeProto& n, absl::string_view name, int64_t dflt);
float FloatAttr(const onnx::NodeProto& n, absl::string_view name, float dflt);
std::vector<int64_t> IntsAttr(const onnx::NodeProto& n, absl::string_view name,
                              std::vector<int64_t> dflt);

}  // namespace fedtiny::onnx_io

#endif  // FEDTINY_TOOLS_ONNX_ONNX_GRAPH_H_
