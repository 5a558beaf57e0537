// The k-RR estimator against simulated fleets (a seeded encoder written from
// the proto's formula), and the drift scores against hand-computed values.
#include <cmath>
#include <cstdio>
#include <numeric>
#include <vector>

#include "coordinator/telemetry/drift.h"
#include "coordinator/telemetry/krr.h"
#include "coordinator/telemetry/krr_encoder_for_test.h"
#include "gtest/gtest.h"

namespace fedtiny::coordinator::telemetry {
namespace {

const std::vector<double> kTruth = {0.30, 0.20, 0.15, 0.10,
                                    0.10, 0.08, 0.05, 0.02};

TEST(KrrTest, ProbabilitiesSumToOne) {
  for (double eps : {0.5, 1.0, 4.0}) {
    const KrrProbabilities r = KrrFor(8, eps);
    EXPECT_NEAR(r.p + 7 * r.q, 1.0, 1e-12);
    EXPECT_NEAR(std::log(r.p / r.q), eps, 1e-12);
  }
}

TEST(KrrTest, EstimateMatchesTheFormulaByHand) {
  // k = 2, eps = ln 3: p = 3/4, q = 1/4. 100 reports, 60 in bin 0:
  // f_0 = (0.6 - 0.25) / 0.5 = 0.7; var = (3/16 + 0.7 * 0.5 * 0) / (100 *
  // 0.25).
  const FrequencyEstimate e = Estimate({60, 40}, std::log(3.0));
  EXPECT_NEAR(e.raw[0], 0.7, 1e-12);
  EXPECT_NEAR(e.raw[1], 0.3, 1e-12);
  EXPECT_NEAR(e.variance[0], (3.0 / 16) / 25, 1e-12);
  EXPECT_NEAR(e.per_bin_95[0], 1.959963984540054 * std::sqrt(0.0075), 1e-12);
  // Bonferroni over 2 bins: z at 1 - 0.0125.
  EXPECT_NEAR(e.simultaneous_95, 2.241402727604947 * std::sqrt(0.0075), 1e-9);
}

TEST(KrrTest, NormalQuantile) {
  EXPECT_NEAR(NormalQuantile(0.975), 1.959963984540054, 1e-9);
  EXPECT_NEAR(NormalQuantile(0.5), 0.0, 1e-9);
  EXPECT_NEAR(NormalQuantile(0.01), -2.326347874040841, 1e-9);
}

TEST(KrrTest, ProjectionOntoSimplex) {
  const std::vector<double> on = {0.2, 0.3, 0.5};
  const std::vector<double> same = ProjectToSimplex(on);
  for (int i = 0; i < 3; ++i) EXPECT_NEAR(same[i], on[i], 1e-12);
  // Each bin moves by the same theta = 0.1.
  const std::vector<double> down = ProjectToSimplex({0.5, 0.5, 0.3});
  EXPECT_NEAR(down[0], 0.4, 1e-12);
  EXPECT_NEAR(down[2], 0.2, 1e-12);
  // Negative bins go to 0, theta = (1.25 - 1) / 1 on the one positive...
  // checked by hand: v = {1.25, -0.1, -0.15}: theta = 0.25, x = {1, 0, 0}.
  const std::vector<double> clip = ProjectToSimplex({1.25, -0.1, -0.15});
  EXPECT_NEAR(clip[0], 1.0, 1e-12);
  EXPECT_EQ(clip[1], 0.0);
  // v = {0.7, 0.5, -0.2}: theta = (1.2 - 1) / 2 = 0.1, x = {0.6, 0.4, 0}.
  const std::vector<double> two = ProjectToSimplex({0.7, 0.5, -0.2});
  EXPECT_NEAR(two[0], 0.6, 1e-12);
  EXPECT_NEAR(two[1], 0.4, 1e-12);
  EXPECT_EQ(two[2], 0.0);
}

// 10,000 reports per trial, 100 trials per epsilon: the mean estimate is the
// truth within 4 standard errors, the spread is the formula's, the per-bin
// 95% bound covers about 95% of bins and the simultaneous one at least 95%
// of whole trials. Prints the figures docs/experiments.md records.
TEST(KrrTest, UnbiasedWithinTheDocumentedBoundAt10000Reports) {
  constexpr int kReports = 10000, kTrials = 100;
  const int k = static_cast<int>(kTruth.size());
  for (double eps : {1.0, 2.0, 3.0, 4.0}) {
    TestKrrEncoder encoder(static_cast<uint64_t>(eps * 1000));
    std::vector<double> sum(k, 0), sum_sq(k, 0);
    int bins_covered = 0, trials_covered = 0;
    double max_error_sum = 0, bound_sum = 0, simultaneous = 0;
    for (int t = 0; t < kTrials; ++t) {
      const FrequencyEstimate e =
          Estimate(encoder.FleetCounts(kTruth, kReports, eps), eps);
      double max_error = 0;
      for (int i = 0; i < k; ++i) {
        const double err = e.raw[i] - kTruth[i];
        sum[i] += e.raw[i];
        sum_sq[i] += err * err;
        bins_covered += std::abs(err) <= e.per_bin_95[i];
        max_error = std::max(max_error, std::abs(err));
        bound_sum += e.per_bin_95[i] / k;
      }
      trials_covered += max_error <= e.simultaneous_95;
      max_error_sum += max_error;
      simultaneous = e.simultaneous_95;
      EXPECT_NEAR(std::accumulate(e.projected.begin(), e.projected.end(), 0.0),
                  1.0, 1e-9);
    }
    const KrrProbabilities r = KrrFor(k, eps);
    for (int i = 0; i < k; ++i) {
      const double d = r.p - r.q;
      const double var = (r.q * (1 - r.q) + kTruth[i] * d * (1 - r.p - r.q)) /
                         (kReports * d * d);
      EXPECT_NEAR(sum[i] / kTrials, kTruth[i], 4 * std::sqrt(var / kTrials))
          << eps << " " << i;
      const double ratio = sum_sq[i] / kTrials / var;
      EXPECT_GT(ratio, 0.6) << eps << " " << i;
      EXPECT_LT(ratio, 1.5) << eps << " " << i;
    }
    const double per_bin_coverage =
        static_cast<double>(bins_covered) / (kTrials * k);
    EXPECT_GT(per_bin_coverage, 0.92) << eps;
    EXPECT_GE(trials_covered, 93) << eps;
    std::printf(
        "eps=%.0f mean_max_abs_error=%.4f mean_per_bin_bound=%.4f "
        "simultaneous_bound=%.4f "
        "per_bin_coverage=%.3f simultaneous_coverage=%.2f\n",
        eps, max_error_sum / kTrials, bound_sum / kTrials, simultaneous,
        per_bin_coverage, trials_covered / static_cast<double>(kTrials));
  }
}

TEST(DriftTest, PsiAndJsdAgainstClosedForms) {
  // PSI({1/2, 1/2}, {1/4, 3/4}) = 1/4 ln 2 + (-1/4) ln(2/3) = ln(3) / 4.
  EXPECT_NEAR(Psi({0.5, 0.5}, {0.25, 0.75}), std::log(3.0) / 4, 1e-12);
  // JSD = H(m) - (H(a) + H(b)) / 2, m = {3/8, 5/8}, in bits.
  auto h = [](std::vector<double> v) {
    double s = 0;
    for (double x : v) s -= x > 0 ? x * std::log2(x) : 0;
    return s;
  };
  EXPECT_NEAR(Jsd({0.5, 0.5}, {0.25, 0.75}),
              h({0.375, 0.625}) - (h({0.5, 0.5}) + h({0.25, 0.75})) / 2, 1e-12);
  EXPECT_NEAR(Jsd({1, 0}, {0, 1}), 1.0, 1e-12);
  EXPECT_NEAR(Jsd({0.2, 0.8}, {0.2, 0.8}), 0.0, 1e-12);
  EXPECT_NEAR(Psi({0.2, 0.8}, {0.2, 0.8}), 0.0, 1e-12);
  // A zero estimate is floored at 1e-4: (1e-4 - 0.5) ln(1e-4 / 0.5) + 0.5
  // ln(1.5 / 1.0)... by hand:
  EXPECT_NEAR(Psi({0.0, 1.0}, {0.5, 0.5}),
              (1e-4 - 0.5) * std::log(1e-4 / 0.5) + 0.5 * std::log(2.0), 1e-12);
}

TEST(DriftTest, TheEstimateIsFlooredAtItsResolutionCappedAtTheReference) {
  // k = 2, eps = ln 3, n = 100: the variance is 3/16 / 25 whatever f.
  EXPECT_NEAR(PsiFloor(2, std::log(3.0), 100), std::sqrt(0.0075), 1e-12);
  EXPECT_NEAR(Psi({0.0, 1.0}, {0.05, 0.95}, 0.03),
              (0.03 - 0.05) * std::log(0.03 / 0.05) + 0.05 * std::log(1 / 0.95),
              1e-12);
  // A floor above the reference stops at it: that bin adds nothing.
  EXPECT_NEAR(Psi({0.0, 1.0}, {0.05, 0.95}, 0.2), 0.05 * std::log(1 / 0.95),
              1e-12);
}

TEST(DriftTest, NullBucketsRoundDown) {
  EXPECT_EQ(NullBucket(1), 1);
  EXPECT_EQ(NullBucket(1024), 1024);
  EXPECT_EQ(NullBucket(1100), 1024);
  EXPECT_EQ(NullBucket(1300), 1217);  // floor(2^(41/4)).
}

TEST(DriftTest, NullQuantileIsDeterministicAndShrinksWithReports) {
  const std::vector<double> ref = {0.5, 0.3, 0.15, 0.05};
  NullPsiTable a, b;
  EXPECT_EQ(a.Null99(ref, 1.0, 500), b.Null99(ref, 1.0, 500));
  EXPECT_GT(a.Null99(ref, 1.0, 500), a.Null99(ref, 1.0, 50000));
  EXPECT_GT(a.Null99(ref, 0.5, 500), a.Null99(ref, 2.0, 500));
}

TEST(DriftTest, TwentyPercentShiftedDevicesAreFlaggedAndAnUnshiftedFleetIsNot) {
  const std::vector<double> ref = {0.5, 0.3, 0.15, 0.05};
  const std::vector<double> shifted = {0.0, 0.0, 0.0, 1.0};
  NullPsiTable nulls;
  for (double eps : {1.0, 2.0}) {
    for (uint64_t seed = 1; seed <= 5; ++seed) {
      TestKrrEncoder encoder(seed);
      std::vector<int64_t> same = encoder.Counts(ref, 5000, eps);
      std::vector<int64_t> drifted = encoder.Counts(ref, 4000, eps);
      const std::vector<int64_t> moved = encoder.Counts(shifted, 1000, eps);
      for (size_t i = 0; i < drifted.size(); ++i) drifted[i] += moved[i];
      const DriftVerdict ok =
          Assess(Estimate(same, eps).projected, ref, eps, 5000, nulls);
      const DriftVerdict bad =
          Assess(Estimate(drifted, eps).projected, ref, eps, 5000, nulls);
      EXPECT_EQ(ok.state, DriftState::kStable)
          << eps << " " << seed << " psi " << ok.psi;
      EXPECT_EQ(bad.state, DriftState::kDrift)
          << eps << " " << seed << " psi " << bad.psi;
      EXPECT_GT(bad.jsd, ok.jsd);
    }
  }
}

// A mild drift in a fifth of the devices (half their queries land on one
// class, as a camera gone wrong would make them) stays below the rubric's
// "drift", yet is a shift beyond noise at 16,000 reports; 40 fleets that did
// not drift never are.
TEST(DriftTest, ShiftFlagsAMixtureTheRubricMissesAndNoiseNever) {
  const std::vector<double> ref = {0.14, 0.12, 0.11, 0.1, 0.1, 0.09, 0.09, 0.09, 0.08, 0.08};
  std::vector<double> skewed(ref.size());
  for (size_t i = 0; i < ref.size(); ++i) skewed[i] = 0.5 * ref[i] + (i == 9 ? 0.5 : 0.0);
  const double eps = 2.0;
  const int n = 16000;
  NullPsiTable nulls;
  int shifts = 0, below_rubric = 0;
  for (uint64_t seed = 1; seed <= 5; ++seed) {
    TestKrrEncoder encoder(seed);
    std::vector<int64_t> counts = encoder.FleetCounts(ref, n * 4 / 5, eps);
    const std::vector<int64_t> moved = encoder.FleetCounts(skewed, n / 5, eps);
    for (size_t i = 0; i < counts.size(); ++i) counts[i] += moved[i];
    const DriftVerdict v = Assess(Estimate(counts, eps).projected, ref, eps, n, nulls);
    shifts += v.shift;
    below_rubric += v.state != DriftState::kDrift;
    EXPECT_TRUE(v.shift) << seed << " psi " << v.psi << " null " << v.null_psi_99;
  }
  EXPECT_EQ(shifts, 5);
  EXPECT_EQ(below_rubric, 5);  // The rubric alone would have missed every one.
  for (uint64_t seed = 1; seed <= 40; ++seed) {
    TestKrrEncoder encoder(1000 + seed);
    const DriftVerdict v =
        Assess(Estimate(encoder.Counts(ref, n, eps), eps).projected, ref, eps, n, nulls);
    EXPECT_FALSE(v.shift) << seed << " psi " << v.psi << " null " << v.null_psi_99;
  }
}

// At few reports and a small epsilon, noise alone pushes PSI past the fixed
// thresholds: the null quantile keeps those fleets from being called drifted.
TEST(DriftTest, NoiseAloneIsNotDriftAtSmallN) {
  const std::vector<double> ref(16, 1.0 / 16);
  NullPsiTable nulls;
  int naive_alarms = 0;
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    TestKrrEncoder encoder(100 + seed);
    const FrequencyEstimate e = Estimate(encoder.Counts(ref, 200, 0.3), 0.3);
    const DriftVerdict v = Assess(e.projected, ref, 0.3, 200, nulls);
    naive_alarms += v.psi > kPsiModerate;
    std::printf("small n: psi=%.3f null99=%.3f\n", v.psi, v.null_psi_99);
    EXPECT_NE(v.state, DriftState::kDrift)
        << seed << " psi " << v.psi << " null " << v.null_psi_99;
    EXPECT_GT(v.null_psi_99, kPsiModerate);
  }
  EXPECT_GT(naive_alarms, 0);
}

TEST(DriftTest, FewReportsGiveNoVerdict) {
  NullPsiTable nulls;
  const DriftVerdict v =
      Assess({0, 0, 0, 1}, {0.5, 0.3, 0.15, 0.05}, 4.0, kMinReports - 1, nulls);
  EXPECT_EQ(v.state, DriftState::kInsufficientData);
  EXPECT_GT(v.psi, 1.0);
}

}  // namespace
}  // namespace fedtiny::coordinator::telemetry
