// The float head of the real DS-CNN (two dense layers) as plain loops, shared
// by the host generator (cnn_model_gen.cc, which writes the expected top-1)
// and the Cortex-M program (cnn_model_perf.cc), so that both compute the same
// floats in the same order: both files are compiled with -ffp-contract=off,
// and IEEE single-precision multiply and add round the same on x86-64, the
// Cortex-M4F/M7 FPUs and libgcc's soft float. Free functions; thread-safe.
#ifndef FEDTINY_TOOLS_CROSS_PERF_CNN_HEAD_H_
#define FEDTINY_TOOLS_CROSS_PERF_CNN_HEAD_H_

#include <cstdint>

namespace fedtiny::cnn_model {

// One dense layer: weights [in][out] (the wire's column-major outputs x
// inputs), then a ReLU or not.
struct HeadLayerView {
  int32_t in = 0;
  int32_t out = 0;
  bool relu = false;
  const float* weights = nullptr;
  const float* bias = nullptr;
};

inline constexpr int32_t kMaxHeadWidth = 256;

// HeadTop1: the index of the largest logit (the first on ties) of `count`
// layers on `x`; -1 when a layer is wider than kMaxHeadWidth.
inline int32_t HeadTop1(const HeadLayerView* layers, int32_t count, const float* x) {
  float a[kMaxHeadWidth], b[kMaxHeadWidth];
  const float* in = x;
  float* out = a;
  for (int32_t l = 0; l < count; ++l) {
    const HeadLayerView& d = layers[l];
    if (d.out > kMaxHeadWidth) return -1;
    for (int32_t o = 0; o < d.out; ++o) {
      float acc = d.bias[o];
      for (int32_t i = 0; i < d.in; ++i) acc += in[i] * d.weights[i * d.out + o];
      out[o] = d.relu && acc < 0 ? 0.f : acc;
    }
    in = out;
    out = out == a ? b : a;
  }
  int32_t best = 0;
  for (int32_t o = 1; o < layers[count - 1].out; ++o) {
    if (in[o] > in[best]) best = o;
  }
  return best;
}

}  // namespace fedtiny::cnn_model

#endif  // FEDTINY_TOOLS_CROSS_PERF_CNN_HEAD_H_
