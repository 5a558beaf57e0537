#include "coordinator/telemetry/drift.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>

#include "coordinator/telemetry/krr.h"

namespace fedtiny::coordinator::telemetry {

const char* DriftStateName(DriftState s) {
  switch (s) {
    case DriftState::kStable:
      return "stable";
    case DriftState::kModerate:
      return "moderate";
    case DriftState::kDrift:
      return "drift";
    default:
      return "insufficient_data";
  }
}

double Psi(const std::vector<double>& estimate,
           const std::vector<double>& reference, double floor) {
  double psi = 0;
  for (size_t i = 0; i < estimate.size() && i < reference.size(); ++i) {
    const double r = std::max(reference[i], kPsiFloor);
    const double a =
        std::max(estimate[i], std::max(kPsiFloor, std::min(floor, r)));
    psi += (a - r) * std::log(a / r);
  }
  return psi;
}

double Jsd(const std::vector<double>& a, const std::vector<double>& b) {
  double jsd = 0;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) {
    const double m = (a[i] + b[i]) / 2;
    if (a[i] > 0) jsd += 0.5 * a[i] * std::log2(a[i] / m);
    if (b[i] > 0) jsd += 0.5 * b[i] * std::log2(b[i] / m);
  }
  return std::max(0.0, jsd);
}

double PsiFloor(int k, double epsilon, int64_t n) {
  if (n < 1) return kPsiFloor;
  return std::max(kPsiFloor, std::sqrt(MaxVariance(k, epsilon, n)));
}

int64_t NullBucket(int64_t n) {
  if (n < 1) return 1;
  const int j = static_cast<int>(
      std::floor(4 * std::log2(static_cast<double>(n)) + 1e-9));
  return std::min<int64_t>(
      n, static_cast<int64_t>(std::floor(std::exp2(j / 4.0) + 1e-9)));
}

namespace {

// FNV-1a over the key's bytes: the same key always draws the same numbers.
uint64_t SeedOf(const std::vector<double>& reference, double epsilon,
                int64_t n) {
  uint64_t h = 1469598103934665603ull;
  auto mix = [&h](const void* p, size_t size) {
    const unsigned char* b = static_cast<const unsigned char*>(p);
    for (size_t i = 0; i < size; ++i) h = (h ^ b[i]) * 1099511628211ull;
  };
  for (double r : reference) mix(&r, sizeof r);
  mix(&epsilon, sizeof epsilon);
  mix(&n, sizeof n);
  return h;
}

// One multinomial draw of n reports over `probs` by conditional binomials.
std::vector<int64_t> Multinomial(int64_t n, const std::vector<double>& probs,
                                 std::mt19937_64& rng) {
  std::vector<int64_t> counts(probs.size(), 0);
  double left = 1;
  for (size_t i = 0; i + 1 < probs.size() && n > 0; ++i) {
    const double p = left > 0 ? std::clamp(probs[i] / left, 0.0, 1.0) : 0;
    counts[i] = std::binomial_distribution<int64_t>(n, p)(rng);
    n -= counts[i];
    left -= probs[i];
  }
  counts.back() += n;
  return counts;
}

double ComputeNull99(const std::vector<double>& reference, double epsilon,
                     int64_t n) {
  const int k = static_cast<int>(reference.size());
  const KrrProbabilities r = KrrFor(k, epsilon);
  std::vector<double> reported(k);
  for (int i = 0; i < k; ++i) reported[i] = r.q + reference[i] * (r.p - r.q);
  std::mt19937_64 rng(SeedOf(reference, epsilon, n));
  std::vector<double> psis;
  for (int t = 0; t < kNullTrials; ++t) {
    psis.push_back(
        Psi(Estimate(Multinomial(n, reported, rng), epsilon).projected,
            reference, PsiFloor(k, epsilon, n)));
  }
  std::sort(psis.begin(), psis.end());
  return psis[static_cast<size_t>(std::ceil(0.99 * kNullTrials)) - 1];
}

}  // namespace

double NullPsiTable::Null99(const std::vector<double>& reference,
                            double epsilon, int64_t n) {
  const int64_t bucket = NullBucket(n);
  absl::MutexLock lock(&mu_);
  Key key{reference, epsilon, bucket};
  auto it = cache_.find(key);
  if (it != cache_.end()) return it->second;
  const double q = ComputeNull99(reference, epsilon, bucket);
  cache_.emplace(std::move(key), q);
  return q;
}

DriftVerdict Assess(const std::vector<double>& projected,
                    const std::vector<double>& reference, double epsilon,
                    int64_t n, NullPsiTable& nulls) {
  DriftVerdict v;
  v.psi =
      Psi(projected, reference,
          PsiFloor(static_cast<int>(reference.size()), epsilon, NullBucket(n)));
  v.jsd = Jsd(projected, reference);
  if (n < kMinReports) return v;
  v.null_psi_99 = nulls.Null99(reference, epsilon, n);
  v.shift = v.psi > std::max(kShiftMinPsi, kShiftFactor * v.null_psi_99);
  if (v.psi > std::max(kPsiDrift, v.null_psi_99)) {
    v.state = DriftState::kDrift;
  } else if (v.psi > std::max(kPsiModerate, v.null_psi_99)) {
    v.state = DriftState::kModerate;
  } else {
    v.state = DriftState::kStable;
  }
  return v;
}

}  // namespace fedtiny::coordinator::telemetry
