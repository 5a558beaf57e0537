// ExportOnnx (onnx_model.h): one or two ONNX nodes per core layer, weights
// permuted back to ONNX's NCHW layouts, opset 13.
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "client/core/layers/network.h"
#include "client/platform/linux/status_bridge.h"
#include "third_party/onnx/onnx.pb.h"
#include "tools/base/status_macros.h"
#include "tools/onnx/onnx_model.h"
#include "tools/onnx/onnx_tensor.h"

namespace fedtiny::onnx_io {
namespace {

namespace layers = client::layers;

constexpr int kOpset = 13;
constexpr int kIrVersion = 7;  // The IR of opset 13 (ONNX 1.8).

// Builds the graph layer by layer. Not thread-safe; owns nothing but names.
class Exporter {
 public:
  explicit Exporter(onnx::GraphProto* g) : g_(g) {}

  void Input(layers::Shape in, int rank);
  void Layer(const layers::LayerSpec& layer, layers::Shape in,
             layers::Shape out);
  void Output(layers::Shape out);

 private:
  onnx::NodeProto* Node(const std::string& op,
                        std::vector<std::string> constants = {});
  std::string Const(const std::string& what, const std::vector<int64_t>& dims,
                    const std::vector<float>& values);
  void Ints(onnx::NodeProto* n, const std::string& name,
            std::vector<int64_t> v);
  void Int(onnx::NodeProto* n, const std::string& name, int64_t v);
  void Window(onnx::NodeProto* n, const layers::Window& w,
              bool kernel_dilation);
  void Act(layers::Activation act);

  void Emit(const layers::Conv2d& l, layers::Shape in);
  void Emit(const layers::DepthwiseConv2d& l, layers::Shape in);
  void Emit(const layers::AvgPool2d& l, layers::Shape);
  void Emit(const layers::MaxPool2d& l, layers::Shape);
  void Emit(const layers::GlobalAvgPool2d&, layers::Shape) {
    Node("GlobalAveragePool");
  }
  void Emit(const layers::Flatten&, layers::Shape);
  void Emit(const layers::ActivationLayer& l, layers::Shape) {
    Act(l.activation);
  }
  void Emit(const layers::Dense& l, layers::Shape in);

  onnx::GraphProto* g_;
  std::string at_ = "input";  // The activation's tensor.
  int rank_ = 4;
  // What a 2-D activation was before ONNX's Flatten (CHW order) flattened it.
  layers::Shape map_;
  int count_ = 0;
};

onnx::NodeProto* Exporter::Node(const std::string& op,
                                std::vector<std::string> constants) {
  onnx::NodeProto* n = g_->add_node();
  n->set_op_type(op);
  n->set_name(absl::StrCat(op, "_", count_++));
  n->add_input(at_);
  for (auto& c : constants) n->add_input(std::move(c));
  at_ = n->name() + "_out";
  n->add_output(at_);
  return n;
}

std::string Exporter::Const(const std::string& what,
                            const std::vector<int64_t>& dims,
                            const std::vector<float>& values) {
  const std::string name = absl::StrCat("c", count_, "_", what);
  SetFloatTensor(name, dims, values, g_->add_initializer());
  return name;
}

void Exporter::Ints(onnx::NodeProto* n, const std::string& name,
                    std::vector<int64_t> v) {
  auto* a = n->add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INTS);
  for (int64_t x : v) a->add_ints(x);
}

void Exporter::Int(onnx::NodeProto* n, const std::string& name, int64_t v) {
  auto* a = n->add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INT);
  a->set_i(v);
}

void Exporter::Window(onnx::NodeProto* n, const layers::Window& w,
                      bool dilations) {
  Ints(n, "kernel_shape", {w.kernel_h, w.kernel_w});
  Ints(n, "strides", {w.stride_h, w.stride_w});
  if (dilations) Ints(n, "dilations", {w.dilation_h, w.dilation_w});
  const layers::Padding& p = w.padding;
  Ints(n, "pads", {p.top, p.left, p.bottom, p.right});
}

void Exporter::Act(layers::Activation act) {
  if (act == layers::Activation::kRelu) {
    Node("Relu");
  } else if (act == layers::Activation::kRelu6) {
    const std::string lo = Const("min", {}, {0.f});
    const std::string hi = Const("max", {}, {6.f});
    Node("Clip", {lo, hi});
  }
}

void Exporter::Emit(const layers::Conv2d& l, layers::Shape) {
  const int64_t kk = int64_t{l.window.kernel_h} * l.window.kernel_w;
  const int64_t in = l.in_channels, out = l.out_channels;
  std::vector<float> w(kk * in * out);
  for (int64_t o = 0; o < out; ++o)
    for (int64_t i = 0; i < in; ++i)
      for (int64_t k = 0; k < kk; ++k)
        w[(o * in + i) * kk + k] = l.params[(k * in + i) * out + o];
  const std::vector<float> b(l.params.end() - out, l.params.end());
  const std::string wn =
      Const("weight", {out, in, l.window.kernel_h, l.window.kernel_w}, w);
  onnx::NodeProto* n = Node("Conv", {wn, Const("bias", {out}, b)});
  Window(n, l.window, true);
  Int(n, "group", 1);
  Act(l.activation);
}

void Exporter::Emit(const layers::DepthwiseConv2d& l, layers::Shape) {
  const int64_t kk = int64_t{l.window.kernel_h} * l.window.kernel_w,
                out = l.out_channels();
  std::vector<float> w(kk * out);
  for (int64_t o = 0; o < out; ++o)
    for (int64_t k = 0; k < kk; ++k) w[o * kk + k] = l.params[k * out + o];
  const std::vector<float> b(l.params.end() - out, l.params.end());
  const std::string wn =
      Const("weight", {out, 1, l.window.kernel_h, l.window.kernel_w}, w);
  onnx::NodeProto* n = Node("Conv", {wn, Const("bias", {out}, b)});
  Window(n, l.window, true);
  Int(n, "group", l.in_channels);
  Act(l.activation);
}

void Exporter::Emit(const layers::AvgPool2d& l, layers::Shape) {
  onnx::NodeProto* n = Node("AveragePool");
  Window(n, l.window, false);
  Int(n, "count_include_pad", l.count_include_pad ? 1 : 0);
}

void Exporter::Emit(const layers::MaxPool2d& l, layers::Shape) {
  Window(Node("MaxPool"), l.window, false);
}

void Exporter::Emit(const layers::Flatten&, layers::Shape in) {
  Int(Node("Flatten"), "axis", 1);
  if (rank_ == 4) map_ = in;
  rank_ = 2;
}

// Dense is a Gemm (transB = 1, PyTorch's Linear); its columns go back to
// ONNX's CHW flatten order when the input is an h x w x c map with h * w > 1.
void Exporter::Emit(const layers::Dense& l, layers::Shape in) {
  if (rank_ == 4) Emit(layers::Flatten{}, in);
  const layers::Shape m = map_;
  map_ = layers::Shape{1, 1, l.out_features};
  const int64_t n_in = l.in_features, out = l.out_features;
  std::vector<float> w(n_in * out);
  for (int64_t i = 0; i < n_in; ++i) {
    // Column i (CHW) is core input j (HWC); a 1 x 1 x n input keeps the order.
    const int64_t c = i / (int64_t{m.h} * m.w), y = i / m.w % m.h, x = i % m.w;
    const int64_t j = (y * m.w + x) * m.c + c;
    for (int64_t o = 0; o < out; ++o) w[o * n_in + i] = l.params[j * out + o];
  }
  const std::vector<float> b(l.params.end() - out, l.params.end());
  const std::string wn = Const("weight", {out, n_in}, w);
  Int(Node("Gemm", {wn, Const("bias", {out}, b)}), "transB", 1);
  Act(l.activation);
}

void Exporter::Layer(const layers::LayerSpec& layer, layers::Shape in,
                     layers::Shape) {
  std::visit([&](const auto& l) { Emit(l, in); }, layer);
}

onnx::ValueInfoProto* Value(onnx::ValueInfoProto* v, const std::string& name,
                            std::vector<int64_t> dims) {
  v->set_name(name);
  auto* t = v->mutable_type()->mutable_tensor_type();
  t->set_elem_type(onnx::TensorProto::FLOAT);
  t->mutable_shape()->add_dim()->set_dim_param("N");
  for (int64_t d : dims) t->mutable_shape()->add_dim()->set_dim_value(d);
  return v;
}

void Exporter::Input(layers::Shape in, int rank) {
  rank_ = rank;
  map_ = layers::Shape{1, 1, static_cast<int32_t>(in.size())};
  if (rank == 2) {
    Value(g_->add_input(), "input", {in.c});
  } else {
    Value(g_->add_input(), "input", {in.c, in.h, in.w});
  }
}

void Exporter::Output(layers::Shape out) {
  // The last node's output becomes "logits" (an Identity when no layer made a
  // node).
  if (g_->node_size() == 0) Node("Identity");
  g_->mutable_node(g_->node_size() - 1)->set_output(0, "logits");
  if (rank_ == 2) {
    Value(g_->add_output(), "logits", {out.size()});
  } else {
    Value(g_->add_output(), "logits", {out.c, out.h, out.w});
  }
}

}  // namespace

absl::StatusOr<std::string> ExportOnnx(const ImportedModel& model) {
  std::vector<layers::LayerSpec> all = model.body;
  all.insert(all.end(), model.head.begin(), model.head.end());
  ASSIGN_OR_RETURN(const layers::Network net,
                   client::ToAbsl(layers::Network::Create(model.input, all)));
  onnx::ModelProto m;
  m.set_ir_version(kIrVersion);
  m.set_producer_name("fedtiny");
  auto* opset = m.add_opset_import();
  opset->set_domain("");
  opset->set_version(kOpset);
  onnx::GraphProto* g = m.mutable_graph();
  g->set_name("fedtiny");
  Exporter e(g);
  const bool flat = model.input.h == 1 && model.input.w == 1 &&
                    std::holds_alternative<layers::Dense>(all.front());
  e.Input(model.input, flat ? 2 : 4);
  for (size_t i = 0; i < all.size(); ++i)
    e.Layer(all[i], net.shapes()[i], net.shapes()[i + 1]);
  e.Output(net.output());
  std::string bytes;
  if (!m.SerializeToString(&bytes))
    return absl::InternalError("ONNX serialization failed");
  return bytes;
}

}  // namespace fedtiny::onnx_io
