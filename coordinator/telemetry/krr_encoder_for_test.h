// A seeded k-RR encoder for tests, written from proto/telemetry.proto: report
// the true bin with probability p = e^eps / (e^eps + k - 1), otherwise one of
// the other k - 1 bins uniformly (q each). Not thread-safe; owns its engine.
#ifndef FEDTINY_COORDINATOR_TELEMETRY_KRR_ENCODER_FOR_TEST_H_
#define FEDTINY_COORDINATOR_TELEMETRY_KRR_ENCODER_FOR_TEST_H_

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

namespace fedtiny::coordinator::telemetry {

class TestKrrEncoder {
 public:
  explicit TestKrrEncoder(uint64_t seed) : rng_(seed) {}

  int Encode(int true_bin, int k, double epsilon) {
    const double p = std::exp(epsilon) / (std::exp(epsilon) + k - 1);
    if (std::uniform_real_distribution<double>(0, 1)(rng_) < p) return true_bin;
    const int other = std::uniform_int_distribution<int>(0, k - 2)(rng_);
    return other < true_bin ? other : other + 1;
  }

  // A true bin drawn from `frequencies`.
  int Draw(const std::vector<double>& frequencies) {
    return std::discrete_distribution<int>(frequencies.begin(),
                                           frequencies.end())(rng_);
  }

  // Counts of the reports of a fleet of exactly round(n f_i) devices in bin i:
  // what the proto's variance describes (the devices' values fixed, only the
  // randomized response random).
  std::vector<int64_t> FleetCounts(const std::vector<double>& frequencies,
                                   int n, double epsilon) {
    const int k = static_cast<int>(frequencies.size());
    std::vector<int64_t> counts(k, 0);
    for (int b = 0; b < k; ++b) {
      const int devices = static_cast<int>(std::lround(frequencies[b] * n));
      for (int i = 0; i < devices; ++i) ++counts[Encode(b, k, epsilon)];
    }
    return counts;
  }

  // Counts of n reports from devices whose true bins are drawn from
  // `frequencies` (sampling adds f (1 - f) / n to each bin's variance).
  std::vector<int64_t> Counts(const std::vector<double>& frequencies, int n,
                              double epsilon) {
    const int k = static_cast<int>(frequencies.size());
    std::vector<int64_t> counts(k, 0);
    for (int i = 0; i < n; ++i) ++counts[Encode(Draw(frequencies), k, epsilon)];
    return counts;
  }

 private:
  std::mt19937_64 rng_;
};

}  // namespace fedtiny::coordinator::telemetry

#endif  // FEDTINY_COORDINATOR_TELEMETRY_KRR_ENCODER_FOR_TEST_H_
