// Drift scores of an estimated distribution against a probe's reference, and
// a noise-aware alert state (docs/observability.md, "Reading drift").
//
// PSI (population stability index) = sum_i (a_i - r_i) ln(a_i / r_i); the
// usual reading is < 0.1 stable, 0.1..0.25 moderate, > 0.25 drift. The
// reference is floored at 1e-4; the estimate at its resolution: a_i >=
// max(1e-4, min(floor, r_i)), where `floor` is the largest standard deviation
// of a bin's k-RR estimate at this n and epsilon. A bin estimated at 0 is only
// known to be below about that, and a bare 1e-4 floor would let noise alone add
// (r_i - 1e-4) ln(r_i / 1e-4) (0.31 for r_i = 0.05); capping the floor at r_i
// keeps a floored bin from counting as drift upwards.
// JSD (Jensen-Shannon divergence, base 2, in [0, 1]) needs no
// floor. k-RR noise alone inflates PSI at small n, so the alert compares PSI
// both to those thresholds and to the 99th percentile PSI takes when nothing
// has drifted (the null), at this n and epsilon.
#ifndef FEDTINY_COORDINATOR_TELEMETRY_DRIFT_H_
#define FEDTINY_COORDINATOR_TELEMETRY_DRIFT_H_

#include <cstdint>
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "absl/synchronization/mutex.h"

namespace fedtiny::coordinator::telemetry {

inline constexpr double kPsiFloor = 1e-4;
inline constexpr double kPsiModerate = 0.1;
inline constexpr double kPsiDrift = 0.25;
// A shift: PSI above kShiftFactor times the null's 99th percentile and above
// kShiftMinPsi (docs/observability.md, "Reading drift"). Unlike the alert
// states (the usual PSI reading, an effect size), it asks whether privacy
// noise can explain the estimate at all: a drift in a fraction of a class's
// devices moves its PSI by the fraction's share only (a 20 % mixture stays
// below 0.1 even when the drifted devices alone are far past 0.25), yet is
// beyond noise once reports are many. Twice the 99th percentile keeps false
// shifts far rarer than 1 %; the floor keeps negligible shifts of huge
// fleets quiet.
inline constexpr double kShiftFactor = 2.0;
inline constexpr double kShiftMinPsi = 0.05;
// Fewer reports of a probe than this: no verdict (kInsufficientData).
inline constexpr int64_t kMinReports = 200;
// Monte Carlo trials behind each null quantile.
inline constexpr int kNullTrials = 400;

enum class DriftState { kInsufficientData, kStable, kModerate, kDrift };

// "insufficient_data", "stable", "moderate", "drift".
const char* DriftStateName(DriftState s);

double Psi(const std::vector<double>& estimate,
           const std::vector<double>& reference, double floor = kPsiFloor);

// PsiFloor is max(1e-4, sqrt(max variance)) of a k-bin estimate from n reports.
double PsiFloor(int k, double epsilon, int64_t n);
double Jsd(const std::vector<double>& a, const std::vector<double>& b);

// The n a null quantile is computed at: the largest 2^(j/4) <= n. Rounding
// down makes the threshold conservative (fewer reports, more noise) and lets
// one computation serve every n in the bucket.
int64_t NullBucket(int64_t n);

// Null99 returns the 99th percentile of PSI(projected k-RR estimate,
// reference) when the fleet follows `reference` exactly, at NullBucket(n)
// reports and `epsilon`: a deterministic Monte Carlo (kNullTrials draws of the
// reported counts, multinomial with probabilities q + r_i (p - q), a fixed
// seed derived from the inputs), computed once per (reference, epsilon,
// bucket) and cached. Thread-safe; the first call per key costs
// O(kNullTrials * k) random draws under the lock.
class NullPsiTable {
 public:
  double Null99(const std::vector<double>& reference, double epsilon, int64_t n)
      ABSL_LOCKS_EXCLUDED(mu_);

 private:
  using Key = std::tuple<std::vector<double>, double, int64_t>;
  absl::Mutex mu_;
  std::map<Key, double> cache_ ABSL_GUARDED_BY(mu_);
};

struct DriftVerdict {
  double psi = 0;
  double jsd = 0;
  double null_psi_99 = 0;
  DriftState state = DriftState::kInsufficientData;
  bool shift = false;  // Beyond noise (kShiftFactor, kShiftMinPsi); never below kMinReports.
};

// Assess computes PSI with PsiFloor(k, epsilon, NullBucket(n)), as the null is.
// With n < kMinReports, kInsufficientData (scores still filled);
// otherwise kDrift if psi > max(0.25, null99), kModerate if psi > max(0.1,
// null99), else kStable. `projected` is the simplex-projected estimate.
DriftVerdict Assess(const std::vector<double>& projected,
                    const std::vector<double>& reference, double epsilon,
                    int64_t n, NullPsiTable& nulls);

}  // namespace fedtiny::coordinator::telemetry

#endif  // FEDTINY_COORDINATOR_TELEMETRY_DRIFT_H_
