// The shapes, paddings and fused activations every layer type of
// client/core/layers shares.
//
// Layout: one example is an NHWC tensor without the N, i.e. height x width x
// channels, channels fastest (TFLite's layout: a depthwise or pointwise
// convolution's inner loop runs over contiguous channels). A batch is rows of
// such examples back to back. A flat vector (a dense layer's input or output) is
// the shape 1 x 1 x n.
//
// Plain value types; thread-safe to read.
#ifndef FEDTINY_CLIENT_CORE_LAYERS_SHAPE_H_
#define FEDTINY_CLIENT_CORE_LAYERS_SHAPE_H_

#include <algorithm>
#include <cstdint>

namespace fedtiny::client::layers {

// One example's height x width x channels.
struct Shape {
  int32_t h = 1;
  int32_t w = 1;
  int32_t c = 1;

  // size() is the number of floats of one example.
  [[nodiscard]] int64_t size() const { return int64_t{h} * w * c; }
  [[nodiscard]] bool valid() const { return h >= 1 && w >= 1 && c >= 1; }
  friend bool operator==(const Shape& a, const Shape& b) {
    return a.h == b.h && a.w == b.w && a.c == b.c;
  }
  friend bool operator!=(const Shape& a, const Shape& b) { return !(a == b); }
};

// Zero cells added around the input of a convolution or a pooling, on each side
// separately, so that both TensorFlow's "same" (the extra cell at the bottom and
// right) and PyTorch's symmetric `padding=p` (p on all four sides) map onto it.
struct Padding {
  int32_t top = 0;
  int32_t left = 0;
  int32_t bottom = 0;
  int32_t right = 0;

  // Symmetric(p) is PyTorch's padding=p.
  static Padding Symmetric(int32_t p) { return Padding{p, p, p, p}; }
  [[nodiscard]] bool valid() const { return top >= 0 && left >= 0 && bottom >= 0 && right >= 0; }
};

// WindowOutput is the number of window positions along one axis of `in` cells
// with `pad_a` + `pad_b` padding, a window of `kernel` taps `dilation` apart and
// the given stride (PyTorch's floor formula); < 1 when no window fits.
inline int32_t WindowOutput(int32_t in, int32_t pad_a, int32_t pad_b, int32_t kernel,
                            int32_t stride, int32_t dilation) {
  const int64_t span = int64_t{dilation} * (kernel - 1) + 1;
  const int64_t room = int64_t{in} + pad_a + pad_b - span;
  if (room < 0 || stride < 1) return 0;
  return static_cast<int32_t>(room / stride + 1);
}

// SamePadding is TensorFlow's padding="SAME" along one axis: the output is
// ceil(in / stride) cells, the odd cell of padding goes after (bottom/right).
// Returns {before, after}.
struct AxisPadding {
  int32_t before = 0;
  int32_t after = 0;
};
inline AxisPadding SamePadding(int32_t in, int32_t kernel, int32_t stride, int32_t dilation = 1) {
  const int64_t out = (int64_t{in} + stride - 1) / stride;
  const int64_t span = int64_t{dilation} * (kernel - 1) + 1;
  const int64_t total = std::max<int64_t>(0, (out - 1) * stride + span - in);
  return AxisPadding{static_cast<int32_t>(total / 2), static_cast<int32_t>(total - total / 2)};
}

// An activation fused into a layer (applied to its output) or run standalone
// (activation.h).
enum class Activation : int32_t {
  kNone = 0,
  kRelu = 1,   // max(0, x)
  kRelu6 = 2,  // min(max(0, x), 6), PyTorch's ReLU6 and TFLite's RELU6
};

// Activate applies `act` to y[0, n) in place.
inline void Activate(Activation act, float* y, int64_t n) {
  if (act == Activation::kRelu) {
    for (int64_t i = 0; i < n; ++i) y[i] = y[i] > 0.f ? y[i] : 0.f;
  } else if (act == Activation::kRelu6) {
    for (int64_t i = 0; i < n; ++i) y[i] = std::min(6.f, y[i] > 0.f ? y[i] : 0.f);
  }
}

inline bool ValidActivation(Activation act) {
  return act == Activation::kNone || act == Activation::kRelu || act == Activation::kRelu6;
}

}  // namespace fedtiny::client::layers

#endif  // FEDTINY_CLIENT_CORE_LAYERS_SHAPE_H_
