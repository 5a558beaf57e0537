#include "client/telemetry/krr.h"

#include <cmath>

namespace fedtiny::client::telemetry {

double KrrKeepProbability(double epsilon, int k) {
  // e^eps / (e^eps + k - 1), written as 1 / (1 + (k - 1) e^-eps) so a large
  // epsilon does not overflow.
  return 1.0 / (1.0 + (k - 1) * std::exp(-epsilon));
}

double KrrOtherProbability(double epsilon, int k) {
  return std::exp(-epsilon) / (1.0 + (k - 1) * std::exp(-epsilon));
}

uint32_t KaryRandomizedResponse(uint32_t true_bin, int k, double epsilon,
                                Randomness& rng) {
  if (k < 2) return 0;
  if (rng.UniformUnit() <= KrrKeepProbability(epsilon, k)) return true_bin;
  // One of the others, uniformly: draw in [0, k-2] and skip over the true bin.
  const uint32_t other =
      static_cast<uint32_t>(rng.UniformBelow(static_cast<uint64_t>(k - 1)));
  return other >= true_bin ? other + 1 : other;
}

}  // namespace fedtiny::client::telemetry
