// LayerSpec: one layer of a Network, any of the layer types. Adding a type is
// its own file (the struct with kName, num_params(), OutputShape() and
// Forward(), and a `params` vector if it has parameters) plus its name in the
// variant below; the functions here dispatch with std::visit and need no edit.
//
// Value types; thread-safe to read.
#ifndef FEDTINY_CLIENT_CORE_LAYERS_LAYER_SPEC_H_
#define FEDTINY_CLIENT_CORE_LAYERS_LAYER_SPEC_H_

#include <cstdint>
#include <type_traits>
#include <variant>

#include "client/core/layers/conv2d.h"
#include "client/core/layers/dense.h"
#include "client/core/layers/depthwise_conv2d.h"
#include "client/core/layers/elementwise.h"
#include "client/core/layers/pooling.h"
#include "client/core/layers/shape.h"
#include "client/core/span.h"
#include "client/core/status.h"

namespace fedtiny::client::layers {

// The dispatch list.
using LayerSpec = std::variant<Conv2d, DepthwiseConv2d, AvgPool2d, MaxPool2d, GlobalAvgPool2d,
                               Flatten, ActivationLayer, Dense>;

namespace layer_spec_internal {
template <typename T, typename = void>
struct HasParams : std::false_type {};
template <typename T>
struct HasParams<T, std::void_t<decltype(std::declval<T&>().params)>> : std::true_type {};
}  // namespace layer_spec_internal

// LayerName is the type's kName ("conv2d", ...).
inline const char* LayerName(const LayerSpec& layer) {
  return std::visit([](const auto& l) { return l.kName; }, layer);
}

// NumParams is the number of trainable floats the type holds.
inline int64_t NumParams(const LayerSpec& layer) {
  return std::visit([](const auto& l) { return l.num_params(); }, layer);
}

// OutputShape as each type's (which codes they return, see there).
inline StatusOr<Shape> OutputShape(const LayerSpec& layer, Shape in) {
  return std::visit([in](const auto& l) { return l.OutputShape(in); }, layer);
}

// Forward runs one example; `in` must be accepted by OutputShape.
inline void Forward(const LayerSpec& layer, Shape in, const float* x, float* y) {
  std::visit([&](const auto& l) { l.Forward(in, x, y); }, layer);
}

// Params is the flat parameter vector (each type's header gives the layout);
// empty for a type without parameters. For the codec and the trainer.
inline Span<float> Params(LayerSpec& layer) {
  return std::visit(
      [](auto& l) -> Span<float> {
        if constexpr (layer_spec_internal::HasParams<std::decay_t<decltype(l)>>::value) {
          return Span<float>(l.params.data(), l.params.size());
        } else {
          return Span<float>();
        }
      },
      layer);
}
inline Span<const float> Params(const LayerSpec& layer) {
  return Params(const_cast<LayerSpec&>(layer));
}

}  // namespace fedtiny::client::layers

#endif  // FEDTINY_CLIENT_CORE_LAYERS_LAYER_SPEC_H_
