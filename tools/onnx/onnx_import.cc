// ImportOnnx (onnx_model.h): walks the graph's chain (onnx_graph.h) from its
// input to its output, one node at a time, turning each into a core layer (or
// into a change of the last one: batch-norm folding, a fused activation, a
// MatMul's bias).
#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "client/core/layers/batch_norm.h"
#include "client/core/layers/network.h"
#include "client/platform/linux/status_bridge.h"
#include "third_party/onnx/onnx.pb.h"
#include "tools/base/status_macros.h"
#include "tools/onnx/onnx_graph.h"
#include "tools/onnx/onnx_model.h"
#include "tools/onnx/onnx_tensor.h"

namespace fedtiny::onnx_io {
namespace {

namespace layers = client::layers;
using onnx::NodeProto;

// The state of the walk: the activation so far (NHWC shape; rank 2 or 4 in
// ONNX's terms) and the layers made. One Run per Importer; not thread-safe; it
// points into the ModelProto given to Run, which outlives it.
class Importer {
 public:
  absl::StatusOr<ImportedModel> Run(const onnx::ModelProto& model,
                                    int head_layers);

 private:
  absl::Status Convert(const NodeProto& n);
  // Const reads constant input `input`: floats (of `size` values unless -1),
  // or int64 values when `ints`.
  absl::StatusOr<Tensor> Const(const NodeProto& n, int input, int64_t size = -1,
                               bool ints = false) const;
  bool HasInput(const NodeProto& n, int i) const {
    return n.input_size() > i && !n.input(i).empty();
  }
  absl::StatusOr<layers::Padding> WindowPadding(const NodeProto& n, int kh,
                                                int kw,
                                                const layers::Window& w) const;
  absl::Status Push(const NodeProto& n, layers::LayerSpec layer, bool foldable);

  absl::Status Conv(const NodeProto& n);
  absl::Status BatchNormalization(const NodeProto& n);
  absl::Status Activation(const NodeProto& n, layers::Activation act);
  absl::Status Clip(const NodeProto& n);
  absl::Status Pool(const NodeProto& n, bool average);
  absl::Status Flatten(const NodeProto& n);
  absl::Status Reshape(const NodeProto& n);
  absl::Status Dense(const NodeProto& n, const Tensor& w, bool transposed,
                     const Tensor* bias);
  absl::Status Gemm(const NodeProto& n);
  absl::Status Add(const NodeProto& n);
  absl::Status Pad(const NodeProto& n);

  int64_t opset_ = 13;
  std::map<std::string, const onnx::TensorProto*> constants_;
  layers::Shape input_;
  layers::Shape shape_;
  int rank_ = 4;
  // The map a Flatten flattened (h * w > 1): the next dense layer's columns
  // come in CHW order.
  bool chw_columns_ = false;
  layers::Shape flattened_;
  bool foldable_ = false;  // The last layer's raw output is the activation.
  layers::Padding pending_pad_;
  bool has_pending_pad_ = false;
  std::vector<layers::LayerSpec> layers_;
};

absl::StatusOr<Tensor> Importer::Const(const NodeProto& n, int input,
                                       int64_t size, bool ints) const {
  if (!HasInput(n, input))
    return Refuse(n, absl::StrCat("input ", input, " is missing"));
  const auto it = constants_.find(n.input(input));
  if (it == constants_.end()) {
    return Refuse(
        n, absl::StrCat("input '", n.input(input), "' must be a constant"));
  }
  ASSIGN_OR_RETURN(Tensor t, ReadTensor(*it->second));
  if ((ints ? t.ints.size() : t.floats.size()) !=
      static_cast<size_t>(t.size())) {
    return Refuse(n, absl::StrCat("tensor '", n.input(input), "' must hold ",
                                  ints ? "int64" : "float", " values"));
  }
  if (size >= 0 &&
      (t.size() != size || t.floats.size() != static_cast<size_t>(size))) {
    return Refuse(n,
                  absl::StrCat("tensor '", n.input(input), "' holds ", t.size(),
                               " values, ", size, " float values expected"));
  }
  return t;
}

absl::Status Importer::Push(const NodeProto& n, layers::LayerSpec layer,
                            bool foldable) {
  const auto out = client::ToAbsl(layers::OutputShape(layer, shape_));
  if (!out.ok()) return Refuse(n, out.status().message());
  shape_ = *out;
  layers_.push_back(std::move(layer));
  foldable_ = foldable;
  return absl::OkStatus();
}

// WindowPadding is the padding of a Conv or pooling node (pads or auto_pad),
// plus any Pad just before it.
absl::StatusOr<layers::Padding> Importer::WindowPadding(
    const NodeProto& n, int kh, int kw, const layers::Window& w) const {
  const auto* auto_pad = Attr(n, "auto_pad");
  const std::string mode = auto_pad != nullptr ? auto_pad->s() : "NOTSET";
  layers::Padding p;
  if (mode == "SAME_UPPER") {
    const auto ph = layers::SamePadding(shape_.h, kh, w.stride_h, w.dilation_h);
    const auto pw = layers::SamePadding(shape_.w, kw, w.stride_w, w.dilation_w);
    p = layers::Padding{ph.before, pw.before, ph.after, pw.after};
  } else if (mode == "NOTSET") {
    const auto pads = IntsAttr(n, "pads", {0, 0, 0, 0});
    if (pads.size() != 4) return Refuse(n, "pads must have 4 values");
    for (int64_t v : pads) {
      if (v < 0 || v > kMaxDim) return Refuse(n, absl::StrCat("padding ", v));
    }
    p = layers::Padding{
        static_cast<int32_t>(pads[0]), static_cast<int32_t>(pads[1]),
        static_cast<int32_t>(pads[2]), static_cast<int32_t>(pads[3])};
  } else if (mode != "VALID") {
    return Refuse(
        n, absl::StrCat("auto_pad ", mode, " (NOTSET, VALID or SAME_UPPER)"));
  }
  p.top += pending_pad_.top;
  p.left += pending_pad_.left;
  p.bottom += pending_pad_.bottom;
  p.right += pending_pad_.right;
  return p;
}

// Window reads kernel_shape (or `kernel`), strides and dilations.
absl::StatusOr<layers::Window> ReadWindow(const NodeProto& n,
                                          std::vector<int64_t> kernel) {
  kernel = IntsAttr(n, "kernel_shape", kernel);
  const auto strides = IntsAttr(n, "strides", {1, 1});
  const auto dilations = IntsAttr(n, "dilations", {1, 1});
  if (kernel.size() != 2 || strides.size() != 2 || dilations.size() != 2) {
    return Refuse(n, "kernel_shape, strides and dilations must be 2-D");
  }
  for (int64_t v : {kernel[0], kernel[1], strides[0], strides[1], dilations[0],
                    dilations[1]}) {
    if (v < 1 || v > kMaxDim)
      return Refuse(n, "kernel, strides and dilations must be >= 1");
  }
  layers::Window w;
  w.kernel_h = static_cast<int32_t>(kernel[0]);
  w.kernel_w = static_cast<int32_t>(kernel[1]);
  w.stride_h = static_cast<int32_t>(strides[0]);
  w.stride_w = static_cast<int32_t>(strides[1]);
  w.dilation_h = static_cast<int32_t>(dilations[0]);
  w.dilation_w = static_cast<int32_t>(dilations[1]);
  return w;
}

absl::Status Importer::Conv(const NodeProto& n) {
  if (rank_ != 4) return Refuse(n, "needs a 4-D input");
  ASSIGN_OR_RETURN(Tensor w, Const(n, 1));
  if (w.dims.size() != 4 || w.floats.empty())
    return Refuse(n, "weights must be 4-D floats");
  const int64_t out = w.dims[0], per_group = w.dims[1], kh = w.dims[2],
                kw = w.dims[3];
  ASSIGN_OR_RETURN(layers::Window window, ReadWindow(n, {kh, kw}));
  if (window.kernel_h != kh || window.kernel_w != kw) {
    return Refuse(n, "kernel_shape differs from the weights");
  }
  ASSIGN_OR_RETURN(window.padding, WindowPadding(n, kh, kw, window));
  has_pending_pad_ = false;
  pending_pad_ = layers::Padding{};
  std::vector<float> bias(out, 0.f);
  if (HasInput(n, 2)) {
    ASSIGN_OR_RETURN(Tensor b, Const(n, 2, out));
    bias = b.floats;
  }
  const int64_t group = IntAttr(n, "group", 1), in = shape_.c;
  std::vector<float> params;
  if (group == 1 && per_group == in) {
    layers::Conv2d conv{static_cast<int32_t>(in), static_cast<int32_t>(out),
                        window};
    params.resize(kh * kw * in * out);
    for (int64_t o = 0; o < out; ++o)
      for (int64_t i = 0; i < in; ++i)
        for (int64_t k = 0; k < kh * kw; ++k) {
          params[(k * in + i) * out + o] = w.floats[(o * in + i) * kh * kw + k];
        }
    params.insert(params.end(), bias.begin(), bias.end());
    conv.params = std::move(params);
    return Push(n, std::move(conv), true);
  }
  if (group == in && group > 1 && per_group == 1 && out % in == 0) {
    layers::DepthwiseConv2d dw{static_cast<int32_t>(in),
                               static_cast<int32_t>(out / in), window};
    params.resize(kh * kw * out);
    for (int64_t o = 0; o < out; ++o)
      for (int64_t k = 0; k < kh * kw; ++k)
        params[k * out + o] = w.floats[o * kh * kw + k];
    params.insert(params.end(), bias.begin(), bias.end());
    dw.params = std::move(params);
    return Push(n, std::move(dw), true);
  }
  return Refuse(
      n, absl::StrCat(
             "group ", group, " with ", in, " input channels and weights ", out,
             "x", per_group,
             " (only group 1, or depthwise: group = ", "input channels)"));
}

absl::Status Importer::BatchNormalization(const NodeProto& n) {
  if (IntAttr(n, "training_mode", 0) != 0)
    return Refuse(n, "training_mode must be 0");
  if (!foldable_ || layers_.empty()) {
    return Refuse(n,
                  "only directly after a Conv, depthwise Conv, Gemm or MatMul "
                  "(it is folded "
                  "into that layer)");
  }
  const int64_t c = shape_.c;  // Channels, or features on a 1 x 1 x F vector.
  Tensor t[4];
  for (int i = 0; i < 4; ++i) {
    ASSIGN_OR_RETURN(t[i], Const(n, i + 1, c));
  }
  const layers::BatchNorm bn{t[0].floats, t[1].floats, t[2].floats, t[3].floats,
                             FloatAttr(n, "epsilon", 1e-5f)};
  const client::Status s = std::visit(
      [&](auto& l) -> client::Status {
        using T = std::decay_t<decltype(l)>;
        if constexpr (std::is_same_v<T, layers::Conv2d> ||
                      std::is_same_v<T, layers::DepthwiseConv2d> ||
                      std::is_same_v<T, layers::Dense>) {
          return layers::FoldBatchNorm(bn, l);
        } else {
          return client::InvalidArgumentError("not after a foldable layer");
        }
      },
      layers_.back());
  if (!s.ok()) return Refuse(n, s.message());
  return absl::OkStatus();
}

absl::Status Importer::Activation(const NodeProto& n, layers::Activation act) {
  if (foldable_) {
    layers::Activation* fused = std::visit(
        [](auto& l) -> layers::Activation* {
          using T = std::decay_t<decltype(l)>;
          if constexpr (std::is_same_v<T, layers::Conv2d> ||
                        std::is_same_v<T, layers::DepthwiseConv2d> ||
                        std::is_same_v<T, layers::Dense>) {
            return &l.activation;
          } else {
            return nullptr;
          }
        },
        layers_.back());
    if (fused != nullptr && *fused == layers::Activation::kNone) {
      *fused = act;
      foldable_ = false;
      return absl::OkStatus();
    }
  }
  return Push(n, layers::ActivationLayer{act}, false);
}

absl::Status Importer::Clip(const NodeProto& n) {
  float lo = -std::numeric_limits<float>::infinity(), hi = -lo;
  if (opset_ >= 11) {
    for (int i : {1, 2}) {
      if (!HasInput(n, i)) continue;
      ASSIGN_OR_RETURN(Tensor t, Const(n, i, 1));
      (i == 1 ? lo : hi) = t.floats[0];
    }
  } else {
    lo = FloatAttr(n, "min", lo);
    hi = FloatAttr(n, "max", hi);
  }
  if (lo == 0.f && hi == 6.f) return Activation(n, layers::Activation::kRelu6);
  if (lo == 0.f && hi >= std::numeric_limits<float>::max()) {
    return Activation(n, layers::Activation::kRelu);
  }
  return Refuse(
      n, absl::StrCat("Clip(", lo, ", ", hi,
                      ") is neither ReLU (min 0) nor ReLU6 (min 0, max 6)"));
}

absl::Status Importer::Pool(const NodeProto& n, bool average) {
  if (rank_ != 4) return Refuse(n, "needs a 4-D input");
  if (IntAttr(n, "ceil_mode", 0) != 0)
    return Refuse(n, "ceil_mode=1 is not supported");
  ASSIGN_OR_RETURN(layers::Window window, ReadWindow(n, {}));
  if (window.dilation_h != 1 || window.dilation_w != 1) {
    return Refuse(n, "dilations other than 1 are not supported");
  }
  bool count_pad = IntAttr(n, "count_include_pad", 0) != 0;
  if (has_pending_pad_) {
    // A zero Pad is counted by the pooling; its own padding must be counted
    // too.
    const auto own = IntsAttr(n, "pads", {0, 0, 0, 0});
    const bool own_pads =
        Attr(n, "auto_pad") != nullptr ||
        std::any_of(own.begin(), own.end(), [](int64_t v) { return v != 0; });
    if (!average || (own_pads && !count_pad)) {
      return Refuse(n,
                    "a Pad before it only as zeros counted by an AveragePool");
    }
    count_pad = true;
  }
  ASSIGN_OR_RETURN(window.padding,
                   WindowPadding(n, window.kernel_h, window.kernel_w, window));
  has_pending_pad_ = false;
  pending_pad_ = layers::Padding{};
  if (average) return Push(n, layers::AvgPool2d{window, count_pad}, false);
  return Push(n, layers::MaxPool2d{window}, false);
}

absl::Status Importer::Flatten(const NodeProto& n) {
  if (IntAttr(n, "axis", 1) != 1) return Refuse(n, "only axis 1 is supported");
  const layers::Shape before = shape_;
  RETURN_IF_ERROR(Push(n, layers::Flatten{}, false));
  if (rank_ == 4 && int64_t{before.h} * before.w > 1) {
    chw_columns_ = true;
    flattened_ = before;
  }
  rank_ = 2;
  return absl::OkStatus();
}

absl::Status Importer::Reshape(const NodeProto& n) {
  ASSIGN_OR_RETURN(Tensor s, Const(n, 1, -1, true));
  const int64_t size = shape_.size();
  const bool flat =
      s.ints.size() == 2 &&
      (s.ints[0] == 1 || (s.ints[0] == 0 && IntAttr(n, "allowzero", 0) == 0) ||
       (s.ints[0] == -1 && s.ints[1] == size)) &&
      (s.ints[1] == -1 || s.ints[1] == size);
  if (!flat)
    return Refuse(n, "only a reshape to [N, -1] (a flatten) is supported");
  return Flatten(n);
}

// Dense adds a dense layer from `w` ([in, out], or [out, in] when transposed).
absl::Status Importer::Dense(const NodeProto& n, const Tensor& w,
                             bool transposed, const Tensor* bias) {
  if (rank_ != 2) return Refuse(n, "needs a 2-D input (Flatten first)");
  if (w.dims.size() != 2 || w.floats.empty())
    return Refuse(n, "weights must be 2-D floats");
  const int64_t in = transposed ? w.dims[1] : w.dims[0];
  const int64_t out = transposed ? w.dims[0] : w.dims[1];
  if (in != shape_.c) {
    return Refuse(n, absl::StrCat("weights take ", in,
                                  " inputs, the activation has ", shape_.c));
  }
  if (bias != nullptr && bias->size() != out && bias->size() != 1) {
    return Refuse(n, absl::StrCat("bias holds ", bias->size(), " values, ", out,
                                  " expected"));
  }
  layers::Dense d{static_cast<int32_t>(in), static_cast<int32_t>(out)};
  d.params.resize((in + 1) * out);
  const layers::Shape m = flattened_;
  for (int64_t i = 0; i < in; ++i) {
    // Column i of PyTorch's CHW flatten is cell (y, x), channel c of the map.
    int64_t j = i;
    if (chw_columns_) {
      const int64_t c = i / (int64_t{m.h} * m.w), y = i / m.w % m.h,
                    x = i % m.w;
      j = (y * m.w + x) * m.c + c;
    }
    for (int64_t o = 0; o < out; ++o) {
      d.params[j * out + o] =
          transposed ? w.floats[o * in + i] : w.floats[i * out + o];
    }
  }
  for (int64_t o = 0; o < out; ++o) {
    d.params[in * out + o] =
        bias == nullptr ? 0.f : bias->floats[bias->size() == 1 ? 0 : o];
  }
  chw_columns_ = false;
  return Push(n, std::move(d), true);
}

absl::Status Importer::Gemm(const NodeProto& n) {
  if (IntAttr(n, "transA", 0) != 0 || FloatAttr(n, "alpha", 1.f) != 1.f ||
      FloatAttr(n, "beta", 1.f) != 1.f) {
    return Refuse(n, "only transA=0, alpha=1, beta=1");
  }
  ASSIGN_OR_RETURN(Tensor w, Const(n, 1));
  Tensor bias;
  if (HasInput(n, 2)) {
    ASSIGN_OR_RETURN(bias, Const(n, 2));
  }
  return Dense(n, w, IntAttr(n, "transB", 0) != 0,
               HasInput(n, 2) ? &bias : nullptr);
}

// Add is a MatMul's (or Gemm's) bias: a constant added to a dense layer's
// output.
absl::Status Importer::Add(const NodeProto& n) {
  auto* d =
      layers_.empty() ? nullptr : std::get_if<layers::Dense>(&layers_.back());
  if (!foldable_ || d == nullptr)
    return Refuse(n, "only as the bias of a MatMul or Gemm");
  const int bias_input = constants_.count(n.input(0)) > 0 ? 0 : 1;
  ASSIGN_OR_RETURN(Tensor b, Const(n, bias_input));
  if (b.floats.size() != static_cast<size_t>(d->out_features) &&
      b.floats.size() != 1) {
    return Refuse(n, absl::StrCat("bias holds ", b.size(), " values, ",
                                  d->out_features, " expected"));
  }
  const int64_t at = int64_t{d->in_features} * d->out_features;
  for (int64_t o = 0; o < d->out_features; ++o) {
    d->params[at + o] += b.floats[b.floats.size() == 1 ? 0 : o];
  }
  return absl::OkStatus();
}

// Pad (zeros on H and W) is kept for the Conv or AveragePool after it.
absl::Status Importer::Pad(const NodeProto& n) {
  if (rank_ != 4) return Refuse(n, "needs a 4-D input");
  const auto* mode = Attr(n, "mode");
  if (mode != nullptr && mode->s() != "constant")
    return Refuse(n, "only mode 'constant'");
  std::vector<int64_t> pads;
  float value = 0.f;
  if (opset_ >= 11) {
    ASSIGN_OR_RETURN(Tensor p, Const(n, 1, -1, true));
    pads = p.ints;
    if (HasInput(n, 2)) {
      ASSIGN_OR_RETURN(Tensor v, Const(n, 2, 1));
      value = v.floats[0];
    }
  } else {
    pads = IntsAttr(n, "pads", {});
    value = FloatAttr(n, "value", 0.f);
  }
  if (pads.size() != 8 || pads[0] != 0 || pads[1] != 0 || pads[4] != 0 ||
      pads[5] != 0 || value != 0.f) {
    return Refuse(n, "only zeros on height and width");
  }
  for (int i : {2, 3, 6, 7}) {
    if (pads[i] < 0 || pads[i] > kMaxDim)
      return Refuse(n, "padding out of range");
  }
  pending_pad_.top += static_cast<int32_t>(pads[2]);
  pending_pad_.left += static_cast<int32_t>(pads[3]);
  pending_pad_.bottom += static_cast<int32_t>(pads[6]);
  pending_pad_.right += static_cast<int32_t>(pads[7]);
  has_pending_pad_ = true;
  const layers::Padding& p = pending_pad_;
  if (std::max({p.top, p.left, p.bottom, p.right}) > kMaxDim) {
    return Refuse(n, "padding out of range");
  }
  return absl::OkStatus();
}

absl::Status Importer::Convert(const NodeProto& n) {
  const std::string& op = n.op_type();
  if (has_pending_pad_ && op != "Conv" && op != "AveragePool" && op != "Pad" &&
      op != "Identity") {
    return Refuse(n, "after a Pad, only a Conv or AveragePool is supported");
  }
  if (op == "Conv") return Conv(n);
  if (op == "BatchNormalization") return BatchNormalization(n);
  if (op == "Relu") return Activation(n, layers::Activation::kRelu);
  if (op == "Clip") return Clip(n);
  if (op == "AveragePool" || op == "MaxPool")
    return Pool(n, op == "AveragePool");
  if (op == "GlobalAveragePool") {
    if (rank_ != 4) return Refuse(n, "needs a 4-D input");
    return Push(n, layers::GlobalAvgPool2d{}, false);
  }
  if (op == "Flatten") return Flatten(n);
  if (op == "Reshape") return Reshape(n);
  if (op == "Gemm") return Gemm(n);
  if (op == "MatMul") {
    ASSIGN_OR_RETURN(Tensor w, Const(n, 1));
    return Dense(n, w, false, nullptr);
  }
  if (op == "Add") return Add(n);
  if (op == "Pad") return Pad(n);
  if (op == "Identity") return absl::OkStatus();
  return Refuse(n, "unsupported");
}

absl::StatusOr<ImportedModel> Importer::Run(const onnx::ModelProto& model,
                                            int head_layers) {
  if (head_layers < 1)
    return absl::InvalidArgumentError("head_layers must be at least 1");
  ASSIGN_OR_RETURN(GraphChain g, ReadChain(model));
  opset_ = g.opset;
  constants_ = std::move(g.constants);
  const std::vector<int32_t>& dims = g.input_dims;  // C, H, W or F.
  rank_ = dims.size() == 3 ? 4 : 2;
  input_ = rank_ == 4 ? layers::Shape{dims[1], dims[2], dims[0]}
                      : layers::Shape{1, 1, dims[0]};
  shape_ = input_;
  for (const NodeProto* n : g.chain) RETURN_IF_ERROR(Convert(*n));
  if (has_pending_pad_)
    return absl::InvalidArgumentError("the graph ends with a Pad");
  const int n = static_cast<int>(layers_.size());
  if (head_layers > n) {
    return absl::InvalidArgumentError(absl::StrCat(
        "head_layers ", head_layers, " but the model has ", n, " layers"));
  }
  ImportedModel out;
  out.input = input_;
  for (int i = 0; i < n; ++i) {
    if (i < n - head_layers) {
      out.body.push_back(std::move(layers_[i]));
      continue;
    }
    auto* d = std::get_if<layers::Dense>(&layers_[i]);
    if (d == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(
          "the last ", head_layers,
          " layers must be dense (Gemm or MatMul) to form the head; "
          "layer ",
          i, " is ", layers::LayerName(layers_[i])));
    }
    out.head.push_back(std::move(*d));
  }
  if (out.head.back().activation != layers::Activation::kNone) {
    return absl::InvalidArgumentError(
        "the last layer has an activation; the head must end with logits (no "
        "Relu/Clip)");
  }
  return out;
}

}  // namespace

absl::StatusOr<ImportedModel> ImportOnnx(absl::string_view onnx_bytes,
                                         int head_layers) {
  onnx::ModelProto model;
  if (onnx_bytes.size() > (size_t{1} << 30) ||
      !model.ParseFromArray(onnx_bytes.data(),
                            static_cast<int>(onnx_bytes.size()))) {
    return absl::InvalidArgumentError(
        "not an ONNX model: the protobuf does not parse");
  }
  if (!model.has_graph())
    return absl::InvalidArgumentError("not an ONNX model: no graph");
  return Importer().Run(model, head_layers);
}

}  // namespace fedtiny::onnx_io
