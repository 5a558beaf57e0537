// k-RR against the proto's formulas, computed here independently, and its
// output frequencies against p and q over many draws (fixed seed; bounds of 5
// binomial standard deviations). Also the coordinator's estimator, from the
// proto's comment, recovering a known fleet distribution.
#include "client/telemetry/krr.h"

#include <cmath>
#include <vector>

#include "client/telemetry/randomness.h"
#include "gtest/gtest.h"
#include "proto/telemetry_krr.h"

namespace fedtiny::client::telemetry {
namespace {

struct Case {
  double epsilon;
  int k;
};

TEST(KrrTest, ProbabilitiesAreTheProtosFormulas) {
  for (const Case c :
       {Case{0.1, 2}, Case{1, 4}, Case{2, 10}, Case{4, 64}, Case{30, 3}}) {
    const double e = std::exp(c.epsilon);
    const double p = e / (e + c.k - 1), q = 1 / (e + c.k - 1);
    const fedtiny::telemetry::KrrProbabilities r = fedtiny::telemetry::KrrFor(c.k, c.epsilon);
    EXPECT_NEAR(r.p, p, 1e-12 * p);
    EXPECT_NEAR(r.q, q, 1e-12 * q);
    EXPECT_NEAR(p + (c.k - 1) * q, 1.0, 1e-12);
    EXPECT_NEAR(std::log(p / q), c.epsilon, 1e-9);  // The privacy ratio.
  }
}

TEST(KrrTest, OutputFrequenciesMatchPAndQ) {
  auto rng = MakeSeededRandomness(15);
  const int64_t n = 200000;
  for (const Case c : {Case{0.5, 2}, Case{1, 4}, Case{2, 10}, Case{4, 64}}) {
    const uint32_t truth = static_cast<uint32_t>(c.k / 2);
    std::vector<int64_t> counts(c.k);
    for (int64_t i = 0; i < n; ++i)
      ++counts[KaryRandomizedResponse(truth, c.k, c.epsilon, *rng)];
    const double e = std::exp(c.epsilon);
    for (int b = 0; b < c.k; ++b) {
      const double prob =
          b == static_cast<int>(truth) ? e / (e + c.k - 1) : 1 / (e + c.k - 1);
      const double sd = std::sqrt(n * prob * (1 - prob));
      EXPECT_NEAR(static_cast<double>(counts[b]), n * prob, 5 * sd)
          << "eps " << c.epsilon << " k " << c.k << " bin " << b;
    }
  }
}

TEST(KrrTest, FirstAndLastBinsAreReachable) {
  auto rng = MakeSeededRandomness(3);
  std::vector<int64_t> counts(5);
  for (int i = 0; i < 20000; ++i)
    ++counts[KaryRandomizedResponse(0, 5, 0.1, *rng)];
  for (int b = 0; b < 5; ++b) EXPECT_GT(counts[b], 3000) << b;
  std::vector<int64_t> last(5);
  for (int i = 0; i < 20000; ++i)
    ++last[KaryRandomizedResponse(4, 5, 0.1, *rng)];
  for (int b = 0; b < 5; ++b) EXPECT_GT(last[b], 3000) << b;
}

// The proto's estimator f_i = (c_i / n - q) / (p - q) recovers the devices'
// true distribution within 5 of its standard deviations (the proto's
// variance formula).
TEST(KrrTest, TheProtosEstimatorRecoversTheFleetDistribution) {
  auto rng = MakeSeededRandomness(99);
  const std::vector<double> f = {0.5, 0.25, 0.15, 0.1, 0.0};
  const int k = 5;
  const double eps = 1.5;
  const int64_t n = 100000;
  std::vector<int64_t> c(k);
  for (int64_t d = 0; d < n; ++d) {
    // Device d's true bin, in proportion to f.
    const double u = (d + 0.5) / n;
    int truth = 0;
    for (double acc = f[0]; u > acc && truth < k - 1; acc += f[++truth]) {
    }
    ++c[KaryRandomizedResponse(truth, k, eps, *rng)];
  }
  const double e = std::exp(eps), p = e / (e + k - 1), q = 1 / (e + k - 1);
  for (int i = 0; i < k; ++i) {
    const double est = (static_cast<double>(c[i]) / n - q) / (p - q);
    const double var =
        (q * (1 - q) + f[i] * (p - q) * (1 - p - q)) / (n * (p - q) * (p - q));
    EXPECT_NEAR(est, f[i], 5 * std::sqrt(var)) << i;
  }
}

TEST(RandomnessTest, UniformBelowIsUniformAndInRange) {
  auto rng = MakeSeededRandomness(7);
  std::vector<int64_t> counts(7);
  const int64_t n = 70000;
  for (int64_t i = 0; i < n; ++i) {
    const uint64_t v = rng->UniformBelow(7);
    ASSERT_LT(v, 7u);
    ++counts[v];
  }
  for (int64_t c : counts)
    EXPECT_NEAR(c, n / 7.0, 5 * std::sqrt(n / 7.0 * 6 / 7));
  for (int i = 0; i < 1000; ++i) {
    const double u = rng->UniformUnit();
    ASSERT_GT(u, 0.0);
    ASSERT_LE(u, 1.0);
  }
}

TEST(RandomnessTest, OpenSslWordsDiffer) {
  auto rng = MakeOpenSslRandomness();
  const uint64_t a = rng->Next64(), b = rng->Next64(), c = rng->Next64();
  EXPECT_FALSE(a == b && b == c);
}

}  // namespace
}  // namespace fedtiny::client::telemetry
