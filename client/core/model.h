// The on-device model: a frozen body of dense layers (float32, or int8 with a
// per-tensor scale and zero point) and a trainable head of float32 dense layers.
// Softmax cross-entropy on the head's output. Plain data types, no protobuf, so
// the core fits small devices; client/transport converts from proto/model.proto.
#ifndef FEDTINY_CLIENT_CORE_MODEL_H_
#define FEDTINY_CLIENT_CORE_MODEL_H_

#include <cstdint>
#include <variant>
#include <vector>

#include "Eigen/Core"
#include "client/core/status.h"
#include "client/core/span.h"

namespace fedtiny::client {

using RowMatrixXf =
    Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// y = act(W x + b); W is out x in.
struct DenseLayer {
  Eigen::MatrixXf w;
  Eigen::VectorXf b;
  bool relu = true;
  int64_t in() const { return w.cols(); }
  int64_t out() const { return w.rows(); }
};

// W ~= scale * (q - zero_point), q int8; bias stays float.
struct QuantizedDenseLayer {
  Eigen::Matrix<int8_t, Eigen::Dynamic, Eigen::Dynamic> q;
  float scale = 1;
  int32_t zero_point = 0;
  Eigen::VectorXf b;
  bool relu = true;
  int64_t in() const { return q.cols(); }
  int64_t out() const { return q.rows(); }
};

// Per-tensor affine int8 quantization of a float layer (min/max calibrated;
// tools/base/int8_quant.h, the same as the coordinator's int8 bundles).
QuantizedDenseLayer Quantize(const DenseLayer& layer);

using BodyLayer = std::variant<DenseLayer, QuantizedDenseLayer>;

// The frozen body. Immutable after construction; Features() is thread-safe.
class Body {
 public:
  Body() = default;
  explicit Body(std::vector<BodyLayer> layers) : layers_(std::move(layers)) {}

  // Runs the body on `inputs` (n x input_dim, row-major): n x output_dim.
  // kInvalidArgument when the width does not match. With no layers, returns the
  // inputs (the head sees raw features).
  StatusOr<RowMatrixXf> Features(const RowMatrixXf& inputs) const;
  int64_t input_dim(int64_t fallback) const;
  int64_t output_dim(int64_t fallback) const;
  const std::vector<BodyLayer>& layers() const { return layers_; }
  int64_t weight_bytes() const;

 private:
  std::vector<BodyLayer> layers_;
};

// The trainable head. A value type; not thread-safe.
struct Head {
  std::vector<DenseLayer> layers;  // The last layer has relu = false (logits).

  // Checks that consecutive widths agree and the last layer is linear.
  Status Validate() const;
  int64_t num_params() const;
  int64_t input_dim() const { return layers.front().in(); }
  int64_t num_classes() const { return layers.back().out(); }
  // Each layer's weights (column-major) then bias, layer by layer, as one flat
  // vector: the flat head layout of the wire (defined in proto/model_codec.h),
  // the update format the coordinator aggregates.
  std::vector<float> Flatten() const;
  // The inverse; kInvalidArgument for a wrong size.
  Status Unflatten(Span<const float> flat);
};

// A head of the given widths (e.g. {128, 64, 10}) with Glorot-uniform weights
// and zero biases, from `seed`.
Head MakeHead(const std::vector<int64_t>& widths, uint64_t seed);

// Mean softmax cross-entropy and accuracy of `head` on `features` (n x in).
struct Evaluation {
  double loss = 0;
  double accuracy = 0;
  int64_t examples = 0;
};
StatusOr<Evaluation> Evaluate(const Head& head, const RowMatrixXf& features,
                                    Span<const int32_t> labels);

}  // namespace fedtiny::client

#endif  // FEDTINY_CLIENT_CORE_MODEL_H_
