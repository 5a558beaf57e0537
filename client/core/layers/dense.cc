#include "client/core/layers/dense.h"

#include <cstring>

#include "client/core/str_cat.h"

namespace fedtiny::client::layers {

StatusOr<Shape> Dense::OutputShape(Shape in) const {
  if (!in.valid() || in_features < 1 || out_features < 1 || in.size() != in_features) {
    return InvalidArgumentError(
        StrCat(kName, ": ", in.size(), " input features, expected ", in_features));
  }
  if (static_cast<int64_t>(params.size()) != num_params() || !ValidActivation(activation)) {
    return InvalidArgumentError(StrCat(kName, ": ", params.size(), " parameters, expected ",
                                       num_params(), ", or an unknown activation"));
  }
  return Shape{1, 1, out_features};
}

void Dense::Forward(Shape /*in*/, const float* x, float* y) const {
  const int64_t n = out_features;
  const float* w = params.data();
  std::memcpy(y, w + int64_t{in_features} * n, sizeof(float) * n);
  for (int64_t i = 0; i < in_features; ++i) {
    const float xv = x[i];
    const float* wr = w + i * n;
    for (int64_t o = 0; o < n; ++o) y[o] += xv * wr[o];
  }
  Activate(activation, y, n);
}

}  // namespace fedtiny::client::layers
