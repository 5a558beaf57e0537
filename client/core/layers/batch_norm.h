// Folding an inference-mode batch norm into the layer before it (PyTorch's
// BatchNorm2d / BatchNorm1d in eval(): y = gamma * (x - mean) / sqrt(var + eps)
// + beta, per output channel). The folded layer computes conv-then-norm in one:
//   w'[.., o] = w[.., o] * s[o],  b'[o] = (b[o] - mean[o]) * s[o] + beta[o],
//   s[o] = gamma[o] / sqrt(var[o] + eps).
// Every foldable layer keeps its output channel as the weights' last index, so
// one loop serves all three. A fused activation stays after the norm (PyTorch's
// conv -> bn -> relu order).
//
// Free functions; not thread-safe on the same layer (they modify it).
#ifndef FEDTINY_CLIENT_CORE_LAYERS_BATCH_NORM_H_
#define FEDTINY_CLIENT_CORE_LAYERS_BATCH_NORM_H_

#include "client/core/layers/conv2d.h"
#include "client/core/layers/dense.h"
#include "client/core/layers/depthwise_conv2d.h"
#include "client/core/span.h"
#include "client/core/status.h"

namespace fedtiny::client::layers {

// The running statistics and affine parameters, one value per channel.
struct BatchNorm {
  Span<const float> gamma;
  Span<const float> beta;
  Span<const float> mean;
  Span<const float> var;
  float eps = 1e-5f;  // PyTorch's default.
};

// FoldBatchNorm folds `bn` into `layer`. kInvalidArgument (the layer unchanged)
// when a span's size is not the layer's output channel count, the layer's
// params have the wrong size, or var + eps is not positive.
Status FoldBatchNorm(const BatchNorm& bn, Conv2d& layer);
Status FoldBatchNorm(const BatchNorm& bn, DepthwiseConv2d& layer);
Status FoldBatchNorm(const BatchNorm& bn, Dense& layer);

}  // namespace fedtiny::client::layers

#endif  // FEDTINY_CLIENT_CORE_LAYERS_BATCH_NORM_H_
