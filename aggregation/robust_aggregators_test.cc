// Every method against an independent naive computation on random inputs, the
// known answers, and behaviour under attack.
#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "aggregation/bulyan.h"
#include "aggregation/centered_clipping.h"
#include "aggregation/coordinate_median.h"
#include "aggregation/factory.h"
#include "aggregation/fedavg.h"
#include "aggregation/geometric_median.h"
#include "aggregation/krum.h"
#include "aggregation/naive_reference.h"
#include "aggregation/nnm.h"
#include "aggregation/norm_bounding.h"
#include "aggregation/trimmed_mean.h"
#include "gtest/gtest.h"
#include "tools/base/status_matchers.h"

namespace fedtiny::aggregation {
namespace {

using ::fedtiny::testing::IsOk;
using ::fedtiny::testing::StatusIs;

naive::Mat RandomUpdates(int n, int d, uint32_t seed, double scale = 1.0) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> g(0, scale);
  naive::Mat x(n, naive::Vec(d));
  for (auto& r : x)
    for (double& v : r) v = static_cast<float>(g(rng));  // Exactly float values.
  return x;
}

Eigen::VectorXf Aggregate(Aggregator& agg, const naive::Mat& x) {
  for (const naive::Vec& r : x) {
    std::vector<float> u(r.begin(), r.end());
    EXPECT_THAT(agg.Accumulate(u, 1.0, {}), IsOk());
  }
  absl::StatusOr<Eigen::VectorXf> out = agg.Report();
  EXPECT_THAT(out, IsOk());
  return out.ok() ? *out : Eigen::VectorXf();
}

Eigen::VectorXf Aggregate(absl::string_view spec, const naive::Mat& x) {
  absl::StatusOr<std::unique_ptr<Aggregator>> agg = MakeAggregator(spec, x[0].size());
  EXPECT_THAT(agg, IsOk());
  return Aggregate(**agg, x);
}

void ExpectNear(const Eigen::VectorXf& got, const naive::Vec& want, double tol) {
  ASSERT_EQ(got.size(), static_cast<int64_t>(want.size()));
  for (size_t j = 0; j < want.size(); ++j) {
    EXPECT_NEAR(got[j], want[j], tol * (1 + std::fabs(want[j]))) << "coordinate " << j;
  }
}

const naive::Mat kThree = {{1, 2, 3}, {4, 5, 6}, {7, 8, 9}};

TEST(KnownAnswers, TrimmedMeanAndMedian) {
  ExpectNear(Aggregate("trimmed_mean:beta=0.3334", kThree), {4, 5, 6}, 1e-7);
  TrimmedMeanAggregator tm(3, 1.0 / 3.0);
  EXPECT_EQ(tm.TrimCount(3), 1);
  ExpectNear(Aggregate(tm, kThree), {4, 5, 6}, 1e-7);
  ExpectNear(Aggregate("median", kThree), {4, 5, 6}, 1e-7);
}

TEST(Median, MatchesNaiveOddAndEven) {
  for (int n : {1, 2, 7, 10, 33}) {
    naive::Mat x = RandomUpdates(n, 150, 100 + n);
    ExpectNear(Aggregate("median", x), naive::Median(x), 1e-6);
  }
}

TEST(TrimmedMean, MatchesNaive) {
  for (double beta : {0.0, 0.1, 0.2, 0.45}) {
    naive::Mat x = RandomUpdates(21, 130, 7);
    TrimmedMeanAggregator agg(130, beta);
    ExpectNear(Aggregate(agg, x), naive::TrimmedMean(x, agg.TrimCount(21)), 1e-5);
  }
}

// Order statistics on hard inputs: heavy ties, both signs, zeros of both signs,
// extreme magnitudes, and dims that are not a multiple of the kernel's block.
// Selection is exact, so the median may mix +-1e30 with tiny values; sums of
// kept values may not (they would cancel differently in any order), so the
// trimmed mean draws from a pool without them.
TEST(OrderStatistics, TiesSignsAndMagnitudesMatchNaive) {
  std::mt19937 rng(17);
  const float pool[] = {0.f, -0.f, 1.f, -1.f, 3.5f, -2.25f, 1e-30f, -1e-38f,
                        7.f, 7.f, 1e30f, -1e30f};
  std::uniform_int_distribution<int> pick_any(0, 11), pick_moderate(0, 9);
  for (int n : {1, 2, 3, 4, 9, 16, 31}) {
    for (int d : {1, 63, 64, 65, 200}) {
      naive::Mat x(n, naive::Vec(d));
      for (auto& r : x)
        for (double& v : r) v = pool[pick_any(rng)];
      ExpectNear(Aggregate("median", x), naive::Median(x), 1e-6);
      for (auto& r : x)
        for (double& v : r) v = pool[pick_moderate(rng)];
      for (double beta : {0.1, 0.25, 0.4}) {
        TrimmedMeanAggregator agg(d, beta);
        if (2 * agg.TrimCount(n) >= n) continue;
        ExpectNear(Aggregate(agg, x), naive::TrimmedMean(x, agg.TrimCount(n)), 1e-6);
      }
    }
  }
}

TEST(Krum, MatchesNaiveAndNeedsEnoughUpdates) {
  naive::Mat x = RandomUpdates(15, 40, 3);
  ExpectNear(Aggregate("krum:f=3", x), naive::MultiKrum(x, 3, 1), 1e-6);
  ExpectNear(Aggregate("multi_krum:f=3,m=5", x), naive::MultiKrum(x, 3, 5), 1e-5);
  KrumAggregator small(2, /*f=*/2, /*m=*/1);  // Needs n >= 2f + 3 = 7.
  for (int i = 0; i < 6; ++i) ASSERT_THAT(small.Accumulate({{1.f, 2.f}}, 1, {}), IsOk());
  EXPECT_FALSE(small.CanReport());
  EXPECT_THAT(small.Report(), StatusIs(absl::StatusCode::kFailedPrecondition));
}

TEST(Bulyan, MatchesNaive) {
  naive::Mat x = RandomUpdates(11, 60, 5);
  ExpectNear(Aggregate("bulyan:f=2", x), naive::Bulyan(x, 2), 1e-5);
}

TEST(GeometricMedian, ClosedForms) {
  // In one dimension the geometric median of an odd set is the median.
  GeometricMedianAggregator one_d(1, {.nu = 1e-9, .tolerance = 1e-12, .max_iterations = 1000});
  EXPECT_NEAR(Aggregate(one_d, {{1}, {2}, {10}})[0], 2.0, 1e-3);
  // The Fermat point of an equilateral triangle is its centroid.
  const double h = std::sqrt(3.0) / 2;
  Eigen::VectorXf z = Aggregate("geometric_median:tol=1e-12,iters=1000",
                          {{0, 0}, {1, 0}, {0.5, h}});
  EXPECT_NEAR(z[0], 0.5, 1e-4);
  EXPECT_NEAR(z[1], h / 3, 1e-4);
}

TEST(GeometricMedian, IsFirstOrderOptimalOnRandomInputs) {
  naive::Mat x = RandomUpdates(25, 20, 11);
  GeometricMedianAggregator agg(20, {.tolerance = 1e-10, .max_iterations = 2000});
  Eigen::VectorXf z = Aggregate(agg, x);
  naive::Vec zv(z.data(), z.data() + z.size());
  // The sum of unit vectors from z to the points vanishes at the optimum.
  naive::Vec grad(20, 0.0);
  for (const naive::Vec& r : x) {
    const double dist = std::sqrt(naive::Dist2(r, zv));
    for (int j = 0; j < 20; ++j) grad[j] += (zv[j] - r[j]) / dist;
  }
  double gnorm = 0;
  for (double g : grad) gnorm += g * g;
  EXPECT_LT(std::sqrt(gnorm), 1e-2);
  // And it beats the mean and every input point on the objective.
  const double obj = naive::GeoObjective(x, zv);
  std::vector<int> all(25);
  for (int i = 0; i < 25; ++i) all[i] = i;
  EXPECT_LT(obj, naive::GeoObjective(x, naive::Mean(x, all)));
  for (const naive::Vec& r : x) EXPECT_LT(obj, naive::GeoObjective(x, r));
  EXPECT_GT(agg.last_iterations(), 1);
}

TEST(CenteredClipping, MatchesNaive) {
  naive::Mat x = RandomUpdates(12, 30, 9, 3.0);
  ExpectNear(Aggregate("centered_clipping:tau=2,iters=3", x),
             naive::CenteredClipping(x, 2, 3), 1e-5);
  // With a radius larger than every update, one step from zero is the mean.
  std::vector<int> all(12);
  for (int i = 0; i < 12; ++i) all[i] = i;
  ExpectNear(Aggregate("centered_clipping:tau=1e6,iters=1", x), naive::Mean(x, all), 1e-5);
}

TEST(Nnm, MixingMatchesNaive) {
  naive::Mat x = RandomUpdates(9, 25, 13);
  RowMatrixXf m(9, 25);
  for (int i = 0; i < 9; ++i)
    for (int j = 0; j < 25; ++j) m(i, j) = x[i][j];
  RowMatrixXf mixed = NearestNeighborMix(ConstRowMatrixMap(m.data(), 9, 25), 2);
  naive::Mat want = naive::NearestNeighborMix(x, 2);
  for (int i = 0; i < 9; ++i) {
    ExpectNear(mixed.row(i).transpose(), want[i], 1e-5);
  }
  ExpectNear(Aggregate("nnm:f=2+median", x), naive::Median(want), 1e-5);
}

TEST(NormBounding, ScalesOnlyLargeUpdates) {
  NormBoundingAggregator agg(5.0, std::make_unique<FedAvgAggregator>(2));
  ASSERT_THAT(agg.Accumulate({{6.f, 8.f}}, 1, {}), IsOk());  // Norm 10 -> 5.
  ASSERT_THAT(agg.Accumulate({{3.f, 0.f}}, 1, {}), IsOk());  // Norm 3, kept.
  EXPECT_EQ(agg.num_clipped(), 1);
  Eigen::VectorXf r = *agg.Report();
  EXPECT_NEAR(r[0], (3.0 + 3.0) / 2, 1e-6);
  EXPECT_NEAR(r[1], (4.0 + 0.0) / 2, 1e-6);
}

// Seven honest updates near `center`, three attackers far away: every robust
// method stays near the honest centre, FedAvg does not.
TEST(UnderAttack, RobustMethodsHoldWhereFedAvgBreaks) {
  const int d = 50;
  naive::Mat x = RandomUpdates(7, d, 21, 0.1);
  for (auto& r : x)
    for (double& v : r) v += 1.0;
  for (int a = 0; a < 3; ++a) x.push_back(naive::Vec(d, 1000.0));
  auto err = [&](const Eigen::VectorXf& r) {
    return (r - Eigen::VectorXf::Ones(d)).norm() / std::sqrt(d);
  };
  EXPECT_GT(err(Aggregate("fedavg", x)), 100);
  for (const char* spec :
       {"median", "trimmed_mean:beta=0.3", "krum:f=3", "multi_krum:f=3,m=4",
        "geometric_median", "nnm:f=3+trimmed_mean:beta=0.3",
        "norm_bound:c=10+fedavg"}) {
    EXPECT_LT(err(Aggregate(spec, x)), 0.5) << spec;
  }
}

TEST(Buffered, RejectionsLeaveStateAndMergeIsExact) {
  naive::Mat x = RandomUpdates(14, 20, 31);
  for (const char* spec : {"median", "krum:f=2", "geometric_median", "bulyan:f=2",
                           "nnm:f=2+median", "norm_bound:c=1+median"}) {
    auto all = *MakeAggregator(spec, 20);
    auto left = *MakeAggregator(spec, 20);
    auto right = *MakeAggregator(spec, 20);
    for (size_t i = 0; i < x.size(); ++i) {
      std::vector<float> u(x[i].begin(), x[i].end());
      ASSERT_THAT(all->Accumulate(u, 1, {}), IsOk());
      ASSERT_THAT((i < 6 ? left : right)->Accumulate(u, 1, {}), IsOk());
    }
    std::vector<float> bad(20, 1.f);
    bad[3] = std::numeric_limits<float>::quiet_NaN();
    EXPECT_THAT(left->Accumulate(bad, 1, {}), StatusIs(absl::StatusCode::kInvalidArgument));
    EXPECT_THAT(left->Accumulate(std::vector<float>(19, 1.f), 1, {}),
                StatusIs(absl::StatusCode::kInvalidArgument));
    EXPECT_EQ(left->num_updates(), 6) << spec;
    ASSERT_THAT(left->MergeWith(std::move(*right)), IsOk()) << spec;
    EXPECT_EQ(left->num_updates(), 14);
    EXPECT_TRUE(left->Report()->isApprox(*all->Report(), 1e-6f)) << spec;
    auto other = *MakeAggregator("trimmed_mean:beta=0.1", 20);
    EXPECT_THAT(left->MergeWith(std::move(*other)),
                StatusIs(absl::StatusCode::kInvalidArgument));
  }
}

}  // namespace
}  // namespace fedtiny::aggregation
