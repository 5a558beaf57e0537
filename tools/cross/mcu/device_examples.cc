#include "tools/cross/mcu/device_examples.h"

#include <cmath>

namespace fedtiny::mcu {
float ExampleStream::Noise() {
  s_ ^= s_ >> 12;
  s_ ^= s_ << 25;
  s_ ^= s_ >> 27;
  const uint64_t r = s_ * 0x2545F4914F6CDD1Dull;
  return static_cast<float>(r >> 40) / static_cast<float>(1u << 23) - 1.0f;
}

int32_t ExampleStream::Next(float* out) {
  const int32_t label = static_cast<int32_t>(next_++ % classes_);
  const float width = static_cast<float>(input_dim_) / (2.0f * classes_);
  const float centre = (label + 0.5f) * static_cast<float>(input_dim_) / classes_;
  for (int64_t j = 0; j < input_dim_; ++j) {
    const float d = (static_cast<float>(j) - centre) / width;
    const float v = std::exp(-d * d) + 0.1f * Noise();
    out[j] = v < 0 ? 0 : (v > 1 ? 1 : v);
  }
  return label;
}

Examples MakeExamples(int64_t count, int64_t input_dim, int32_t classes, uint64_t seed) {
  Examples e;
  e.inputs.resize(count, input_dim);
  e.labels.resize(count);
  ExampleStream stream(input_dim, classes, seed);
  for (int64_t i = 0; i < count; ++i) e.labels[i] = stream.Next(e.inputs.row(i).data());
  return e;
}

}  // namespace fedtiny::mcu
