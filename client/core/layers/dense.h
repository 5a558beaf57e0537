// Dense: y = act(W x + b) over one example flattened in NHWC order (any input
// shape; the output is 1 x 1 x out_features).
//
// Parameters, flat: the weights as [in_features][out_features] (PyTorch's
// weight[o][i] is params[i * out + o]; the same memory as model.h's column-major
// out x in DenseLayer::w), then the bias[out_features].
//
// Note on PyTorch's flatten: PyTorch flattens NCHW (channel slowest), this core
// NHWC (channel fastest). A PyTorch Linear after nn.Flatten of a C x H x W map
// has its input columns permuted: column (c * H + y) * W + x here is
// (y * W + x) * C + c. Importers permute; after a global average pooling
// (H = W = 1) the orders agree.
//
// A value type; thread-safe to read. Forward allocates nothing.
#ifndef FEDTINY_CLIENT_CORE_LAYERS_DENSE_H_
#define FEDTINY_CLIENT_CORE_LAYERS_DENSE_H_

#include <cstdint>
#include <vector>

#include "client/core/layers/shape.h"
#include "client/core/status.h"

namespace fedtiny::client::layers {

struct Dense {
  static constexpr const char* kName = "dense";

  int32_t in_features = 1;
  int32_t out_features = 1;
  Activation activation = Activation::kNone;
  std::vector<float> params;

  [[nodiscard]] int64_t num_params() const { return (int64_t{in_features} + 1) * out_features; }
  // 1 x 1 x out_features; kInvalidArgument when in.size() != in_features,
  // params of the wrong size or an unknown activation.
  [[nodiscard]] StatusOr<Shape> OutputShape(Shape in) const;
  void Forward(Shape in, const float* x, float* y) const;
};

}  // namespace fedtiny::client::layers

#endif  // FEDTINY_CLIENT_CORE_LAYERS_DENSE_H_
