// k-ary randomized response (proto/telemetry.proto): the report probabilities,
// the unbiased frequency estimate and its variance exactly as the contract
// states them, error bounds, and the projection onto the probability simplex.
// Pure functions; thread-safe.
#ifndef FEDTINY_COORDINATOR_TELEMETRY_KRR_H_
#define FEDTINY_COORDINATOR_TELEMETRY_KRR_H_

#include <cstdint>
#include <vector>

#include "proto/telemetry_krr.h"

namespace fedtiny::coordinator::telemetry {

// The report probabilities, shared with the devices (proto/telemetry_krr.h).
using ::fedtiny::telemetry::KrrFor;
using ::fedtiny::telemetry::KrrProbabilities;

// MaxVariance is the largest variance of one bin's estimate over f in [0, 1]
// from n >= 1 reports: the variance is linear in f, so it is at an end.
double MaxVariance(int k, double epsilon, int64_t n);

// What n reports with counts c_i say about the fleet's frequencies.
struct FrequencyEstimate {
  int64_t n = 0;
  // f_i = (c_i / n - q) / (p - q): unbiased, may be negative or above 1.
  std::vector<double> raw;
  // (q (1 - q) + f_i (p - q)(1 - p - q)) / (n (p - q)^2), with f_i the raw
  // estimate clipped to [0, 1] (a plug-in estimate of the true variance).
  std::vector<double> variance;
  // The largest variance over f in [0, 1]: data-independent.
  double max_variance = 0;
  // 1.96 sqrt(variance_i): a per-bin 95% half-width (normal approximation).
  std::vector<double> per_bin_95;
  // z_{1 - 0.05 / (2k)} sqrt(max_variance): with probability >= 95% every bin
  // is within it at once (Bonferroni over k bins, normal approximation).
  double simultaneous_95 = 0;
  // The Euclidean projection of `raw` onto the probability simplex (>= 0,
  // sum 1): what distances and quantiles are computed from.
  std::vector<double> projected;
};

// Estimate turns per-bin report counts (k = counts.size() >= 2) into the
// estimate above. n = 0 gives all-zero raw estimates, infinite bounds and a
// uniform projection.
FrequencyEstimate Estimate(const std::vector<int64_t>& counts, double epsilon);

// ProjectToSimplex returns argmin ||x - v||_2 over x >= 0, sum x = 1 (Duchi et
// al. 2008, sort-based). Unlike clip-and-renormalize, it leaves an estimate
// already on the simplex unchanged and moves every bin by the same amount.
std::vector<double> ProjectToSimplex(const std::vector<double>& v);

// NormalQuantile returns z with Phi(z) = prob, 0 < prob < 1 (bisection on
// erfc, accurate to 1e-12).
double NormalQuantile(double prob);

}  // namespace fedtiny::coordinator::telemetry

#endif  // FEDTINY_COORDINATOR_TELEMETRY_KRR_H_
