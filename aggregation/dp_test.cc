// DP noise, DP-FedAvg, adaptive clipping and the RDP accountant (checked against
// values published in Google's dp_accounting tests).
#include <cmath>
#include <memory>
#include <vector>

#include "aggregation/dp_fedavg.h"
#include "aggregation/random_source.h"
#include "aggregation/rdp_accountant.h"
#include "gtest/gtest.h"
#include "tools/base/status_matchers.h"

namespace fedtiny::aggregation {
namespace {

using ::fedtiny::testing::IsOk;
using ::fedtiny::testing::StatusIs;

struct Moments {
  double mean = 0, var = 0, within_one_sd = 0;
};

Moments Measure(RandomSource& src, double sd, int n) {
  std::vector<float> x(n);
  FillGaussian(src, sd, absl::MakeSpan(x));
  Moments m;
  for (float v : x) m.mean += v / n;
  for (float v : x) {
    m.var += (v - m.mean) * (v - m.mean) / (n - 1);
    m.within_one_sd += (std::fabs(v) < sd) ? 1.0 / n : 0;
  }
  return m;
}

TEST(GaussianNoise, SeededHasNormalMoments) {
  SeededRandomSource src(42);
  Moments m = Measure(src, 2.0, 400000);
  EXPECT_NEAR(m.mean, 0, 0.02);                   // ~6 standard errors.
  EXPECT_NEAR(m.var, 4.0, 4.0 * 0.015);
  EXPECT_NEAR(m.within_one_sd, 0.682689, 0.005);  // Phi(1) - Phi(-1).
}

TEST(GaussianNoise, OpenSslHasNormalMomentsAndNeverRepeats) {
  OpenSslRandomSource src;
  Moments m = Measure(src, 1.0, 400000);
  EXPECT_NEAR(m.mean, 0, 0.01);
  EXPECT_NEAR(m.var, 1.0, 0.015);
  std::vector<uint64_t> a(4), b(4);
  src.Fill(absl::MakeSpan(a));
  src.Fill(absl::MakeSpan(b));
  EXPECT_NE(a, b);
}

TEST(DpFedAvg, WithoutNoiseIsMeanOfClippedUpdates) {
  DpFedAvgOptions o;
  o.clip_norm = 5;
  o.noise_multiplier = 0;
  DpFedAvgAggregator agg(2, o, std::make_shared<SeededRandomSource>(1));
  ASSERT_THAT(agg.Accumulate({{6.f, 8.f}}, 3, {}), IsOk());   // Clipped to (3, 4).
  ASSERT_THAT(agg.Accumulate({{1.f, -1.f}}, 1, {}), IsOk());  // Kept.
  Eigen::VectorXf r = *agg.Report();
  EXPECT_NEAR(r[0], 2.0, 1e-6);
  EXPECT_NEAR(r[1], 1.5, 1e-6);
}

TEST(DpFedAvg, NoiseHasTheCalibratedScaleAndIsReleasedOnce) {
  DpFedAvgOptions o;
  o.clip_norm = 2;
  o.noise_multiplier = 1.5;
  o.expected_clients = 10;
  const int d = 200000;
  DpFedAvgAggregator agg(d, o, std::make_shared<SeededRandomSource>(9));
  std::vector<float> zero(d, 0.f);
  for (int i = 0; i < 10; ++i) ASSERT_THAT(agg.Accumulate(zero, 1, {}), IsOk());
  Eigen::VectorXf r = *agg.Report();
  const double sd = std::sqrt(r.cast<double>().squaredNorm() / d);
  EXPECT_NEAR(sd, 1.5 * 2 / 10, 0.3 * 0.01);
  EXPECT_EQ(*agg.Report(), r);  // The same release, not a fresh draw.
  EXPECT_THAT(agg.Accumulate(zero, 1, {}),
              StatusIs(absl::StatusCode::kFailedPrecondition));
}

TEST(DpFedAvg, AdaptiveClipMovesTowardsTheQuantile) {
  DpFedAvgOptions o;
  o.clip_norm = 1;
  o.noise_multiplier = 0;
  o.adaptive_clipping = true;
  o.target_quantile = 0.5;
  o.clip_learning_rate = 0.2;
  auto src = std::make_shared<SeededRandomSource>(3);
  DpFedAvgAggregator small(1, o, src);  // Every norm below C: shrink.
  for (int i = 0; i < 4; ++i) ASSERT_THAT(small.Accumulate({{0.1f}}, 1, {}), IsOk());
  EXPECT_NEAR(*small.NextClipNorm(), std::exp(-0.2 * 0.5), 1e-12);
  DpFedAvgAggregator large(1, o, src);  // Every norm above C: grow.
  for (int i = 0; i < 4; ++i) ASSERT_THAT(large.Accumulate({{9.f}}, 1, {}), IsOk());
  EXPECT_NEAR(*large.NextClipNorm(), std::exp(0.2 * 0.5), 1e-12);
}

TEST(RdpAccountant, PublishedSampledGaussianValues) {
  // q = 0.01, sigma = 2.5, 50 steps: dp_accounting's
  // test_compute_rdp_poisson_sampled_gaussian (rtol 1e-4), fractional orders
  // included (their conservative series; see rdp_accountant.cc).
  RdpAccountant acc({1.5, 2.5, 5, 50, 100, INFINITY});
  ASSERT_THAT(acc.Compose(0.01, 2.5, 50), IsOk());
  const double want[] = {6.70579741e-04, 1.08548710e-03, 2.18075656e-03,
                         2.38460375e-02, 1.67416308e02};
  for (int k = 0; k < 5; ++k) {
    EXPECT_NEAR(acc.rdp()[k], want[k], want[k] * 1e-4) << "order index " << k;
  }
  EXPECT_TRUE(std::isinf(acc.rdp()[5]));
}

TEST(RdpAccountant, PublishedConversions) {
  // Constant RDP is pure DP: dp_accounting's test_compute_epsilon_delta_pure_dp.
  std::vector<double> orders, rdp;
  for (int a = 2; a <= 32; ++a) orders.push_back(a), rdp.push_back(1.1);
  absl::StatusOr<EpsilonAtDelta> e = RdpToEpsilon(orders, rdp, 1e-5);
  ASSERT_THAT(e, IsOk());
  EXPECT_NEAR(e->epsilon, 1.32783806176, 1e-9);
  EXPECT_EQ(e->order, 32);
  // A Gaussian with multiplier 4.530877117 is exactly (1, 1e-6)-DP.
  std::vector<double> fine;
  for (int i = 1000; i < 100000; ++i) fine.push_back(0.001 * i);
  RdpAccountant g(fine);
  ASSERT_THAT(g.Compose(1.0, 4.530877117, 1), IsOk());
  EXPECT_NEAR(g.GetEpsilon(1e-6)->epsilon, 1.0, 1e-6);
}

TEST(RdpAccountant, MonotoneAndValidated) {
  RdpAccountant a, b;
  ASSERT_THAT(a.Compose(0.01, 1.1, 100), IsOk());
  ASSERT_THAT(b.Compose(0.01, 1.1, 1000), IsOk());
  const double ea = a.GetEpsilon(1e-5)->epsilon, eb = b.GetEpsilon(1e-5)->epsilon;
  EXPECT_GT(ea, 0);
  EXPECT_GT(eb, ea);
  RdpAccountant none;
  EXPECT_EQ(none.GetEpsilon(1e-5)->epsilon, 0);
  EXPECT_THAT(a.Compose(1.5, 1, 1), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(a.GetEpsilon(0), StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace fedtiny::aggregation
