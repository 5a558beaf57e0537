#include "coordinator/telemetry/krr.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

namespace fedtiny::coordinator::telemetry {

namespace {

double Variance(double f, int64_t n, const KrrProbabilities& r) {
  const double d = r.p - r.q;
  return (r.q * (1 - r.q) + f * d * (1 - r.p - r.q)) /
         (static_cast<double>(n) * d * d);
}

}  // namespace

double MaxVariance(int k, double epsilon, int64_t n) {
  const KrrProbabilities r = KrrFor(k, epsilon);
  return std::max(Variance(0, n, r), Variance(1, n, r));
}

FrequencyEstimate Estimate(const std::vector<int64_t>& counts, double epsilon) {
  const int k = static_cast<int>(counts.size());
  FrequencyEstimate e;
  e.n = std::accumulate(counts.begin(), counts.end(), int64_t{0});
  const KrrProbabilities r = KrrFor(k, epsilon);
  const double inf = std::numeric_limits<double>::infinity();
  for (int i = 0; i < k; ++i) {
    if (e.n == 0) {
      e.raw.push_back(0);
      e.variance.push_back(inf);
      e.per_bin_95.push_back(inf);
      continue;
    }
    const double f =
        (static_cast<double>(counts[i]) / static_cast<double>(e.n) - r.q) /
        (r.p - r.q);
    e.raw.push_back(f);
    e.variance.push_back(Variance(std::clamp(f, 0.0, 1.0), e.n, r));
    e.per_bin_95.push_back(1.959963984540054 * std::sqrt(e.variance.back()));
  }
  e.max_variance = e.n == 0 ? inf : MaxVariance(k, epsilon, e.n);
  e.simultaneous_95 =
      NormalQuantile(1 - 0.05 / (2.0 * k)) * std::sqrt(e.max_variance);
  e.projected =
      e.n == 0 ? std::vector<double>(k, 1.0 / k) : ProjectToSimplex(e.raw);
  return e;
}

std::vector<double> ProjectToSimplex(const std::vector<double>& v) {
  std::vector<double> u = v;
  std::sort(u.begin(), u.end(), std::greater<double>());
  double cumulative = 0, theta = 0;
  for (size_t j = 0; j < u.size(); ++j) {
    cumulative += u[j];
    const double t = (cumulative - 1) / static_cast<double>(j + 1);
    if (u[j] - t > 0) theta = t;
  }
  std::vector<double> out(v.size());
  for (size_t i = 0; i < v.size(); ++i) out[i] = std::max(0.0, v[i] - theta);
  return out;
}

double NormalQuantile(double prob) {
  // Phi(z) = erfc(-z / sqrt 2) / 2 is increasing in z.
  double lo = -40, hi = 40;
  for (int i = 0; i < 200 && hi - lo > 1e-13; ++i) {
    const double mid = (lo + hi) / 2;
    (0.5 * std::erfc(-mid / std::sqrt(2.0)) < prob ? lo : hi) = mid;
  }
  return (lo + hi) / 2;
}

}  // namespace fedtiny::coordinator::telemetry
