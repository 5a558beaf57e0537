#include "tools/onnx/onnx_graph.h"

#include <iterator>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "tools/base/status_macros.h"

namespace fedtiny::onnx_io {
namespace {

using onnx::NodeProto;

// The operators ImportOnnx converts (onnx_import.cc).
bool Supported(const NodeProto& n) {
  static const auto* ops = new std::set<std::string>{"Conv",
                                                     "BatchNormalization",
                                                     "Relu",
                                                     "Clip",
                                                     "AveragePool",
                                                     "MaxPool",
                                                     "GlobalAveragePool",
                                                     "Flatten",
                                                     "Reshape",
                                                     "Gemm",
                                                     "MatMul",
                                                     "Add",
                                                     "Pad",
                                                     "Identity",
                                                     "Constant"};
  return (n.domain().empty() || n.domain() == "ai.onnx") &&
         ops->count(n.op_type()) > 0;
}

absl::Status ReadConstants(const onnx::GraphProto& g, GraphChain& out) {
  for (const auto& t : g.initializer()) out.constants[t.name()] = &t;
  for (const auto& n : g.node()) {
    if (n.op_type() == "Constant") {
      const auto* value = Attr(n, "value");
      if (value == nullptr || !value->has_t() || n.output_size() != 1) {
        return Refuse(n, "only the 'value' (tensor) form is supported");
      }
      out.constants[n.output(0)] = &value->t();
    } else if (n.op_type() == "Identity" && n.input_size() == 1 &&
               out.constants.count(n.input(0)) > 0 && n.output_size() == 1) {
      out.constants[n.output(0)] = out.constants[n.input(0)];
    }
  }
  return absl::OkStatus();
}

// ReadInput finds the one graph input that is not an initializer.
absl::StatusOr<std::string> ReadInput(const onnx::GraphProto& g,
                                      GraphChain& out) {
  std::vector<const onnx::ValueInfoProto*> inputs;
  for (const auto& in : g.input()) {
    if (out.constants.count(in.name()) == 0) inputs.push_back(&in);
  }
  if (inputs.size() != 1 || g.output_size() != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("the graph has ", inputs.size(), " inputs and ",
                     g.output_size(), " outputs (one of each supported)"));
  }
  const auto& type = inputs[0]->type().tensor_type();
  const auto& dims = type.shape().dim();
  if (type.elem_type() != onnx::TensorProto::FLOAT ||
      (dims.size() != 4 && dims.size() != 2)) {
    return absl::InvalidArgumentError(
        absl::StrCat("input '", inputs[0]->name(),
                     "': a float tensor [N, C, H, W] or [N, F] is needed"));
  }
  int64_t size = 1;
  for (int i = 1; i < dims.size(); ++i) {
    if (!dims[i].has_dim_value() || dims[i].dim_value() < 1 ||
        dims[i].dim_value() > kMaxDim) {
      return absl::InvalidArgumentError(
          absl::StrCat("input '", inputs[0]->name(), "': dimension ", i,
                       " is dynamic or out of range"));
    }
    size *= dims[i].dim_value();
    out.input_dims.push_back(static_cast<int32_t>(dims[i].dim_value()));
  }
  if (size > kMaxDim * 64) {
    return absl::InvalidArgumentError(
        absl::StrCat("input '", inputs[0]->name(), "': ", size,
                     " values per example is too many"));
  }
  return inputs[0]->name();
}

// Chain orders the non-constant nodes from `input` to the graph's output.
absl::Status Chain(const onnx::GraphProto& g, const std::string& input,
                   GraphChain& out) {
  std::multimap<std::string, const NodeProto*> consumers;
  int data_nodes = 0;
  for (const auto& n : g.node()) {
    if (n.output_size() > 0 && out.constants.count(n.output(0)) > 0) continue;
    ++data_nodes;
    if (n.output_size() == 0 || n.output(0).empty())
      return Refuse(n, "has no output");
    int data_inputs = 0;
    for (const auto& in : n.input()) {
      if (in.empty() || out.constants.count(in) > 0) continue;
      ++data_inputs;
      consumers.emplace(in, &n);
    }
    if (data_inputs != 1) {
      return Refuse(
          n, absl::StrCat("takes ", data_inputs,
                          " non-constant inputs; only a chain of single-input "
                          "operators is supported"));
    }
    for (int i = 1; i < n.output_size(); ++i) {
      if (!n.output(i).empty())
        return Refuse(n, "a second output is not supported");
    }
  }
  std::string at = input;
  while (at != g.output(0).name()) {
    const auto range = consumers.equal_range(at);
    const auto count = std::distance(range.first, range.second);
    if (count != 1 || static_cast<int>(out.chain.size()) >= data_nodes) {
      return absl::InvalidArgumentError(absl::StrCat(
          "the graph is not a chain: tensor '", at, "' feeds ", count,
          " nodes before reaching the output '", g.output(0).name(), "'"));
    }
    out.chain.push_back(range.first->second);
    at = out.chain.back()->output(0);
  }
  if (static_cast<int>(out.chain.size()) != data_nodes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the graph is not a chain: ", data_nodes - out.chain.size(),
        " nodes are off the input-to-output path"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<GraphChain> ReadChain(const onnx::ModelProto& model) {
  GraphChain out;
  for (const auto& o : model.opset_import()) {
    if (o.domain().empty() || o.domain() == "ai.onnx") out.opset = o.version();
  }
  const onnx::GraphProto& g = model.graph();
  for (const auto& n : g.node()) {
    if (!Supported(n)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "unsupported operator '", n.domain().empty() ? "" : n.domain() + ".",
          n.op_type(), "' (node '", n.name(), "')"));
    }
  }
  if (g.node_size() == 0)
    return absl::InvalidArgumentError("the ONNX graph has no nodes");
  RETURN_IF_ERROR(ReadConstants(g, out));
  ASSIGN_OR_RETURN(const std::string input, ReadInput(g, out));
  RETURN_IF_ERROR(Chain(g, input, out));
  return out;
}

absl::Status Refuse(const NodeProto& n, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(
      "operator '", n.op_type(), "' (node '", n.name(), "'): ", why));
}

const onnx::AttributeProto* Attr(const NodeProto& n, absl::string_view name) {
  for (const auto& a : n.attribute()) {
    if (a.name() == name) return &a;
  }
  return nullptr;
}

int64_t IntAttr(const NodeProto& n, absl::string_view name, int64_t dflt) {
  const auto* a = Attr(n, name);
  return a != nullptr ? a->i() : dflt;
}

float FloatAttr(const NodeProto& n, absl::string_view name, float dflt) {
  const auto* a = Attr(n, name);
  return a != nullptr ? a->f() : dflt;
}

std::vector<int64_t> IntsAttr(const NodeProto& n, absl::string_view name,
                              std::vector<int64_t> dflt) {
  const auto* a = Attr(n, name);
  if (a == nullptr) return dflt;
  return std::vector<int64_t>(a->ints().begin(), a->ints().end());
}

}  // namespace fedtiny::onnx_io
