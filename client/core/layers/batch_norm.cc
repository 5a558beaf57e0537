#include "client/core/layers/batch_norm.h"

#include <cmath>
#include <cstdint>
#include <vector>

#include "client/core/str_cat.h"

namespace fedtiny::client::layers {
namespace {

// Folds into params = weights (rows x channels, channel fastest) then bias.
Status Fold(const BatchNorm& bn, int64_t channels, std::vector<float>& params) {
  const size_t n = static_cast<size_t>(channels);
  if (bn.gamma.size() != n || bn.beta.size() != n || bn.mean.size() != n || bn.var.size() != n) {
    return InvalidArgumentError(StrCat("batch norm: statistics for ", bn.gamma.size(),
                                       " channels, the layer has ", channels));
  }
  if (params.size() % n != 0 || params.size() < n) {
    return InvalidArgumentError(StrCat("batch norm: ", params.size(), " layer parameters"));
  }
  for (size_t o = 0; o < n; ++o) {
    if (!(bn.var[o] + bn.eps > 0.f)) {
      return InvalidArgumentError("batch norm: var + eps must be positive");
    }
  }
  const size_t bias = params.size() - n;
  for (size_t o = 0; o < n; ++o) {
    // In double, so the fold adds no rounding beyond the final float's.
    const double s = double{bn.gamma[o]} / std::sqrt(double{bn.var[o]} + double{bn.eps});
    for (size_t at = o; at < bias; at += n) {
      params[at] = static_cast<float>(params[at] * s);
    }
    params[bias + o] = static_cast<float>((double{params[bias + o]} - bn.mean[o]) * s + bn.beta[o]);
  }
  return OkStatus();
}

}  // namespace

Status FoldBatchNorm(const BatchNorm& bn, Conv2d& layer) {
  if (static_cast<int64_t>(layer.params.size()) != layer.num_params()) {
    return InvalidArgumentError(StrCat("batch norm: ", layer.params.size(), " conv2d parameters"));
  }
  return Fold(bn, layer.out_channels, layer.params);
}

Status FoldBatchNorm(const BatchNorm& bn, DepthwiseConv2d& layer) {
  if (static_cast<int64_t>(layer.params.size()) != layer.num_params()) {
    return InvalidArgumentError(
        StrCat("batch norm: ", layer.params.size(), " depthwise_conv2d parameters"));
  }
  return Fold(bn, layer.out_channels(), layer.params);
}

Status FoldBatchNorm(const BatchNorm& bn, Dense& layer) {
  if (static_cast<int64_t>(layer.params.size()) != layer.num_params()) {
    return InvalidArgumentError(StrCat("batch norm: ", layer.params.size(), " dense parameters"));
  }
  return Fold(bn, layer.out_features, layer.params);
}

}  // namespace fedtiny::client::layers
