// Injected randomness. DP noise in production comes from OpenSSL's CSPRNG, never
// from a small seed; the simulator injects a seeded source so that runs repeat.
#ifndef FEDTINY_AGGREGATION_RANDOM_SOURCE_H_
#define FEDTINY_AGGREGATION_RANDOM_SOURCE_H_

#include <cstdint>
#include <random>

#include "absl/types/span.h"

namespace fedtiny::aggregation {

// RandomSource fills buffers with uniformly random 64-bit words. Implementations
// say whether they are thread-safe.
class RandomSource {
 public:
  virtual ~RandomSource() = default;
  virtual void Fill(absl::Span<uint64_t> out) = 0;
};

// OpenSSL's RAND_bytes (a DRBG seeded by the OS). Thread-safe. Aborts if OpenSSL
// cannot produce randomness, as continuing without noise would break privacy.
class OpenSslRandomSource final : public RandomSource {
 public:
  void Fill(absl::Span<uint64_t> out) override;
};

// A reproducible stream from a 64-bit seed (std::mt19937_64). For simulation and
// tests only: predictable, so it gives no privacy. Not thread-safe.
class SeededRandomSource final : public RandomSource {
 public:
  explicit SeededRandomSource(uint64_t seed) : engine_(seed) {}
  void Fill(absl::Span<uint64_t> out) override;

 private:
  std::mt19937_64 engine_;
};

// Fills `out` with independent N(0, stddev^2) samples (Box-Muller on 53-bit
// uniforms drawn from `source`).
void FillGaussian(RandomSource& source, double stddev, absl::Span<float> out);

}  // namespace fedtiny::aggregation

#endif  // FEDTINY_AGGREGATION_RANDOM_SOURCE_H_
