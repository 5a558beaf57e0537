#include "client/telemetry/krr.h"

#include "proto/telemetry_krr.h"

namespace fedtiny::client::telemetry {

uint32_t KaryRandomizedResponse(uint32_t true_bin, int k, double epsilon,
                                Randomness& rng) {
  if (k < 2) return 0;
  if (rng.UniformUnit() <= fedtiny::telemetry::KrrFor(k, epsilon).p) return true_bin;
  // One of the others, uniformly: draw in [0, k-2] and skip over the true bin.
  const uint32_t other =
      static_cast<uint32_t>(rng.UniformBelow(static_cast<uint64_t>(k - 1)));
  return other >= true_bin ? other + 1 : other;
}

}  // namespace fedtiny::client::telemetry
