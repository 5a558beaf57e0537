// k-ary randomized response (k-RR), exactly as proto/telemetry.proto states
// it: over k bins, a device reports its true bin with probability
//   p = e^eps / (e^eps + k - 1)
// and each other bin with probability
//   q = 1 / (e^eps + k - 1),
// which is eps-locally differentially private (p / q = e^eps); p and q come
// from proto/telemetry_krr.h, which the coordinator shares. The coordinator
// inverts it (f_i = (c_i / n - q) / (p - q)); see the proto for the estimator.
//
// Free functions; as thread-safe as the Randomness passed in.
#ifndef FEDTINY_CLIENT_TELEMETRY_KRR_H_
#define FEDTINY_CLIENT_TELEMETRY_KRR_H_

#include <cstdint>

#include "client/telemetry/randomness.h"

namespace fedtiny::client::telemetry {

// KaryRandomizedResponse returns the reported bin for `true_bin` in [0, k):
// the true bin with probability p, else one of the k - 1 others uniformly
// (each then has probability (1 - p) / (k - 1) = q). Two draws at most.
uint32_t KaryRandomizedResponse(uint32_t true_bin, int k, double epsilon,
                                Randomness& rng);

}  // namespace fedtiny::client::telemetry

#endif  // FEDTINY_CLIENT_TELEMETRY_KRR_H_
