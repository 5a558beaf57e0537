// The on-device model: a frozen body of dense layers (float32, or int8 with a
// per-tensor scale and zero point) and a trainable head of float32 dense layers.
// Softmax cross-entropy on the head's output. Plain data types, no protobuf, so
// the core fits small devices; client/transport converts from proto/model.proto.
#ifndef FEDTINY_CLIENT_CORE_MODEL_H_
#define FEDTINY_CLIENT_CORE_MODEL_H_

#include <cstdint>
#include <memory>
#include <variant>
#include <vector>

#include "Eigen/Core"
#include "client/core/int8_inference.h"
#include "client/core/layers/int8_network.h"
#include "client/core/layers/network.h"
#include "client/core/span.h"
#include "client/core/status.h"

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

// One layer's float forward, y = act(x W^T + b) (x n x in, row-major); an int8
// layer's weights are dequantized first. The float reference that the integer
// path is calibrated on and checked against. Allocates.
RowMatrixXf DenseForward(const DenseLayer& layer, const RowMatrixXf& x);
RowMatrixXf DenseForward(const QuantizedDenseLayer& layer, const RowMatrixXf& x);

// Consecutive int8 layers of a Body, as the integer kernels run them: layers
// [first, first + body.layers.size()). A value type.
struct Int8Run {
  size_t first = 0;
  Int8Body body;
};

// The frozen body: dense layers, or a convolutional front (issue 16: a
// layers::Network on NHWC examples, float32, or its int8 form, a
// layers::Int8Network quantized by the server; the output flattened). Consecutive int8 dense layers run as integer kernels
// (int8_inference.h: int8 weights and activations, int32 accumulation,
// requantization between layers); a run's float input is quantized on entry
// and its int8 output dequantized on exit; float layers run in float.
//
// The int8 activations need ranges, which the bundle does not carry: they are
// measured on examples by the float reference (Calibrate). A body that was
// never calibrated calibrates each Features() call on the first
// kImplicitCalibrationRows rows of that call's inputs, without keeping the
// result: one call featurizing a device's whole data set is then calibrated on
// that data. Callers featurizing in several calls (train and test sets)
// calibrate once first, so that every call quantizes alike.
//
// Thread safety: Calibrate() mutates and must happen before the body is
// shared; everything const is thread-safe. A calibrated body holds its int8
// weights twice (the bundle's column-major layers and the kernels' row-major
// runs).
class Body {
 public:
  static constexpr int64_t kImplicitCalibrationRows = 256;

  Body() = default;
  explicit Body(std::vector<BodyLayer> layers) : layers_(std::move(layers)) {}
  // A convolutional body: `front` (unbound; each call binds its own copy to
  // a buffer of its own, so calls may run concurrently) and no dense layers
  // (a Dense is one of the front's layer types).
  explicit Body(layers::Network front);
  explicit Body(layers::Int8Network front);

  // Runs the body on `inputs` (n x input_dim, row-major): n x output_dim.
  // kInvalidArgument when the width does not match, or when an uncalibrated
  // int8 body is given non-finite inputs. With no layers, returns the inputs
  // (the head sees raw features). Allocates.
  StatusOr<RowMatrixXf> Features(const RowMatrixXf& inputs) const;

  // Every layer in float (DenseForward): the reference. kInvalidArgument for
  // a width mismatch.
  StatusOr<RowMatrixXf> FloatReferenceFeatures(const RowMatrixXf& inputs) const;

  // Calibrate measures each int8 run's input range and every int8 layer's
  // output range on `examples` (the float reference's activations, each range
  // widened to include 0) and builds the runs the integer kernels execute.
  // kInvalidArgument (no rows, a width mismatch, a non-finite example or
  // activation) or kOutOfRange (a bias or multiplier does not fit the
  // kernels' integers); the body is unchanged on error. Not thread-safe.
  Status Calibrate(const RowMatrixXf& examples);
  [[nodiscard]] bool calibrated() const { return calibrated_; }
  // The integer runs after Calibrate(), in layer order.
  [[nodiscard]] const std::vector<Int8Run>& int8_runs() const { return runs_; }

  // The device's path, allocating nothing: for a calibrated body whose layers
  // are all int8, `rows` examples (rows x input_dim floats, row-major) into
  // `out` (rows x output_dim floats), with `arena` holding at least
  // FeaturesArenaBytes(rows) bytes (int8 input and output, kernel scratch).
  // kFailedPrecondition (float layers, or not calibrated), kInvalidArgument
  // (null pointers, rows < 1), kResourceExhausted (arena too small). Only an
  // error status allocates (its message).
  Status FeaturesInto(const float* inputs, int64_t rows, float* out, Span<int8_t> arena) const;
  // 0 when FeaturesInto would fail with kFailedPrecondition (always, with a
  // convolutional front).
  [[nodiscard]] int64_t FeaturesArenaBytes(int64_t rows) const;

  int64_t input_dim(int64_t fallback) const;
  int64_t output_dim(int64_t fallback) const;
  const std::vector<BodyLayer>& layers() const { return layers_; }
  // Multiply-adds of one example through the body (front or dense layers).
  [[nodiscard]] int64_t multiply_adds() const;
  // The convolutional front (float or int8), or null.
  const layers::Network* front() const { return front_.get(); }
  const layers::Int8Network* int8_front() const { return int8_front_.get(); }
  int64_t weight_bytes() const;

 private:
  // The runs for `examples`; `strict` false (implicit calibration) leaves a
  // layer that cannot be converted to the float reference instead of failing.
  StatusOr<std::vector<Int8Run>> PlanRuns(const RowMatrixXf& examples, bool strict) const;
  StatusOr<RowMatrixXf> Run(const std::vector<Int8Run>& runs, const RowMatrixXf& inputs) const;
  bool HasInt8() const;
  // The front's output for `inputs` (n x front input size), or `inputs`
  // without a front. kInvalidArgument for a width mismatch.
  StatusOr<RowMatrixXf> RunFront(const RowMatrixXf& inputs) const;

  // At most one front. Shared by copies; immutable.
  std::shared_ptr<const layers::Network> front_;
  std::shared_ptr<const layers::Int8Network> int8_front_;
  std::vector<BodyLayer> layers_;
  std::vector<Int8Run> runs_;
  bool calibrated_ = false;
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
