// TestGraph: hand-built ONNX graphs for tools/onnx's tests (the attribute and
// refusal cases PyTorch's exporter does not write). A chain: each Node() takes
// the previous node's output and the named constants. Test-only; not
// thread-safe.
#ifndef FEDTINY_TOOLS_ONNX_ONNX_TEST_GRAPH_H_
#define FEDTINY_TOOLS_ONNX_ONNX_TEST_GRAPH_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "third_party/onnx/onnx.pb.h"
#include "tools/onnx/onnx_tensor.h"

namespace fedtiny::onnx_io {

inline onnx::AttributeProto Int(const std::string& name, int64_t v) {
  onnx::AttributeProto a;
  a.set_name(name);
  a.set_type(onnx::AttributeProto::INT);
  a.set_i(v);
  return a;
}
inline onnx::AttributeProto Ints(const std::string& name,
                                 std::vector<int64_t> v) {
  onnx::AttributeProto a;
  a.set_name(name);
  a.set_type(onnx::AttributeProto::INTS);
  for (int64_t x : v) a.add_ints(x);
  return a;
}
inline onnx::AttributeProto Str(const std::string& name, const std::string& v) {
  onnx::AttributeProto a;
  a.set_name(name);
  a.set_type(onnx::AttributeProto::STRING);
  a.set_s(v);
  return a;
}

inline onnx::AttributeProto Float(const std::string& name, float v) {
  onnx::AttributeProto a;
  a.set_name(name);
  a.set_type(onnx::AttributeProto::FLOAT);
  a.set_f(v);
  return a;
}

class TestGraph {
 public:
  // `dims` of the float input "input"; -1 is a dynamic (named) dimension.
  explicit TestGraph(std::vector<int64_t> dims) {
    model_.set_ir_version(7);
    model_.add_opset_import()->set_version(13);
    auto* t = g()->add_input();
    t->set_name("input");
    auto* tt = t->mutable_type()->mutable_tensor_type();
    tt->set_elem_type(onnx::TensorProto::FLOAT);
    for (int64_t d : dims) {
      if (d < 0) {
        tt->mutable_shape()->add_dim()->set_dim_param("dyn");
      } else {
        tt->mutable_shape()->add_dim()->set_dim_value(d);
      }
    }
    tensors_.push_back("input");
  }

  void ExtraInput(const std::string& name) {
    *g()->add_input() = g()->input(0);
    g()->mutable_input(g()->input_size() - 1)->set_name(name);
  }

  // Init adds an initializer (raw_data, or float_data when `float_data`).
  void Init(const std::string& name, std::vector<int64_t> dims,
            std::vector<float> values, bool float_data = false) {
    onnx::TensorProto* t = g()->add_initializer();
    SetFloatTensor(name, dims, values, t);
    if (float_data) {
      t->clear_raw_data();
      for (float v : values) t->add_float_data(v);
    }
  }

  // InitInts adds an int64 initializer (int64_data).
  void InitInts(const std::string& name, std::vector<int64_t> dims,
                std::vector<int64_t> values) {
    onnx::TensorProto* t = g()->add_initializer();
    t->set_name(name);
    t->set_data_type(onnx::TensorProto::INT64);
    for (int64_t d : dims) t->add_dims(d);
    for (int64_t v : values) t->add_int64_data(v);
  }

  // Node adds `op` on the last tensor and `constants`.
  void Node(const std::string& op, std::vector<std::string> constants,
            std::vector<onnx::AttributeProto> attrs = {},
            std::string name = "") {
    std::vector<std::string> inputs = {tensors_.back()};
    inputs.insert(inputs.end(), constants.begin(), constants.end());
    Raw(op, inputs, attrs, name);
  }
  // Raw adds `op` on exactly `inputs`.
  void Raw(const std::string& op, std::vector<std::string> inputs,
           std::vector<onnx::AttributeProto> attrs = {},
           std::string name = "") {
    onnx::NodeProto* n = g()->add_node();
    n->set_op_type(op);
    n->set_name(name.empty() ? absl::StrCat(op, tensors_.size()) : name);
    for (auto& in : inputs) n->add_input(in);
    for (auto& a : attrs) *n->add_attribute() = a;
    tensors_.push_back(absl::StrCat("t", tensors_.size()));
    n->add_output(tensors_.back());
  }
  // Tensor(k) is the k-th tensor made (0: the input).
  std::string Tensor(int k) const { return tensors_[k]; }

  // Bytes is the serialized model, its output the last tensor.
  std::string Bytes() {
    onnx::ModelProto m = model_;
    m.mutable_graph()->add_output()->set_name(tensors_.back());
    return m.SerializeAsString();
  }

 private:
  onnx::GraphProto* g() { return model_.mutable_graph(); }
  onnx::ModelProto model_;
  std::vector<std::string> tensors_;
};

}  // namespace fedtiny::onnx_io

#endif  // FEDTINY_TOOLS_ONNX_ONNX_TEST_GRAPH_H_
