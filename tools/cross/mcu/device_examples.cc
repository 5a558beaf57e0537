#include "tools/cross/mcu/device_examples.h"

#include <cmath>

namespace fedtiny::mcu {
namespace {

// xorshift64*: small, fast, and the same everywhere.
class Noise {
 public:
  explicit Noise(uint64_t seed) : s_(seed * 0x9E3779B97F4A7C15ull + 1) {}
  // Uniform in [-1, 1).
  float Next() {
    s_ ^= s_ >> 12;
    s_ ^= s_ << 25;
    s_ ^= s_ >> 27;
    const uint64_t r = s_ * 0x2545F4914F6CDD1Dull;
    return static_cast<float>(r >> 40) / static_cast<float>(1u << 23) - 1.0f;
  }

 private:
  uint64_t s_;
};

}  // namespace

Examples MakeExamples(int64_t count, int64_t input_dim, int32_t classes, uint64_t seed) {
  Examples e;
  e.inputs.resize(count, input_dim);
  e.labels.resize(count);
  Noise noise(seed);
  const float width = static_cast<float>(input_dim) / (2.0f * classes);
  for (int64_t i = 0; i < count; ++i) {
    const int32_t label = static_cast<int32_t>(i % classes);
    const float centre = (label + 0.5f) * static_cast<float>(input_dim) / classes;
    for (int64_t j = 0; j < input_dim; ++j) {
      const float d = (static_cast<float>(j) - centre) / width;
      const float v = std::exp(-d * d) + 0.1f * noise.Next();
      e.inputs(i, j) = v < 0 ? 0 : (v > 1 ? 1 : v);
    }
    e.labels[i] = label;
  }
  return e;
}

}  // namespace fedtiny::mcu
