// The layers that move no window: Flatten (NHWC to 1 x 1 x h*w*c, a copy in
// the same order; see dense.h for PyTorch's NCHW order) and ActivationLayer
// (ReLU or ReLU6 on its own, for a model that does not fuse it).
//
// No parameters. Value types; thread-safe to read. Forward allocates nothing
// and may run in place (y == x).
#ifndef FEDTINY_CLIENT_CORE_LAYERS_ELEMENTWISE_H_
#define FEDTINY_CLIENT_CORE_LAYERS_ELEMENTWISE_H_

#include <cstdint>
#include <cstring>

#include "client/core/layers/shape.h"
#include "client/core/status.h"
#include "client/core/str_cat.h"

namespace fedtiny::client::layers {

struct Flatten {
  static constexpr const char* kName = "flatten";

  [[nodiscard]] int64_t num_params() const { return 0; }
  [[nodiscard]] StatusOr<Shape> OutputShape(Shape in) const {
    if (!in.valid() || in.size() > INT32_MAX) {
      return InvalidArgumentError(StrCat(kName, ": invalid input shape"));
    }
    return Shape{1, 1, static_cast<int32_t>(in.size())};
  }
  void Forward(Shape in, const float* x, float* y) const {
    if (x != y) std::memmove(y, x, sizeof(float) * static_cast<size_t>(in.size()));
  }
};

struct ActivationLayer {
  static constexpr const char* kName = "activation";

  Activation activation = Activation::kRelu;

  [[nodiscard]] int64_t num_params() const { return 0; }
  [[nodiscard]] StatusOr<Shape> OutputShape(Shape in) const {
    if (!in.valid() || !ValidActivation(activation)) {
      return InvalidArgumentError(StrCat(kName, ": invalid input shape or activation"));
    }
    return in;
  }
  void Forward(Shape in, const float* x, float* y) const {
    if (x != y) std::memmove(y, x, sizeof(float) * static_cast<size_t>(in.size()));
    Activate(activation, y, in.size());
  }
};

}  // namespace fedtiny::client::layers

#endif  // FEDTINY_CLIENT_CORE_LAYERS_ELEMENTWISE_H_
