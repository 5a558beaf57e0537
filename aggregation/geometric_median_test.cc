// The geometric median at its default settings keeps its breakdown point of
// 1/2: far outliers move it by no more than the honest spread allows.
#include "aggregation/geometric_median.h"

#include <cmath>
#include <random>
#include <vector>

#include "aggregation/factory.h"
#include "aggregation/naive_reference.h"
#include "gtest/gtest.h"
#include "tools/base/status_matchers.h"

namespace fedtiny::aggregation {
namespace {

using ::fedtiny::testing::IsOk;

naive::Mat UniformPoints(int n, int d, double hi, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> u(0, hi);
  naive::Mat x(n, naive::Vec(d));
  for (auto& r : x)
    for (double& v : r) v = static_cast<float>(u(rng));
  return x;
}

naive::Vec Aggregate(absl::string_view spec, const naive::Mat& x) {
  absl::StatusOr<std::unique_ptr<Aggregator>> agg =
      MakeAggregator(spec, x[0].size());
  EXPECT_THAT(agg, IsOk());
  for (const naive::Vec& r : x) {
    std::vector<float> u(r.begin(), r.end());
    EXPECT_THAT((*agg)->Accumulate(u, 1.0, {}), IsOk());
  }
  absl::StatusOr<Eigen::VectorXf> z = (*agg)->Report();
  EXPECT_THAT(z, IsOk());
  return z.ok() ? naive::Vec(z->data(), z->data() + z->size()) : naive::Vec();
}

// Issue #9 item 15: 12 unit-weight updates, d = 8, honest coordinates in
// [0, scale], f of them replaced by `far` in every coordinate. With honest
// points within r of their mean m, the geometric median lies within r n / (n -
// 2f) of m (at distance R beyond that, the honest unit vectors outweigh the f
// others). The default aggregator must also agree with a long double-precision
// Weiszfeld.
void ExpectBounded(double scale, double far, int f) {
  const int n = 12, d = 8;
  const naive::Mat honest = UniformPoints(n - f, d, scale, 40 + f);
  naive::Mat x = honest;
  for (int i = 0; i < f; ++i) x.push_back(naive::Vec(d, far));
  std::vector<int> rows(n - f);
  for (int i = 0; i < n - f; ++i) rows[i] = i;
  const naive::Vec m = naive::Mean(honest, rows);
  double r = 0;
  for (const naive::Vec& h : honest)
    r = std::max(r, std::sqrt(naive::Dist2(h, m)));

  const naive::Vec z = Aggregate("geometric_median", x);
  ASSERT_EQ(z.size(), static_cast<size_t>(d));
  EXPECT_LE(std::sqrt(naive::Dist2(z, m)), r * n / (n - 2 * f))
      << "scale " << scale << " far " << far << " f " << f;
  EXPECT_LE(std::sqrt(naive::Dist2(z, naive::GeometricMedian(x))), 1e-3 * r)
      << "scale " << scale << " far " << far << " f " << f;
}

TEST(GeometricMedian, DefaultsKeepBreakdownPointAgainstFarOutliers) {
  for (double far : {1e8, 1e10}) {
    for (int f = 1; f <= 5; ++f) ExpectBounded(2.5, far, f);
  }
}

// The smoothing must follow the data's scale: updates of size 1e-7 are normal.
TEST(GeometricMedian, DefaultsHoldForTinyUpdates) {
  for (int f = 1; f <= 5; ++f) ExpectBounded(2.5e-7, 1.0, f);
}

// The weighted mean of these five is the update (0, 0), and three of the others
// sit near (1, 0): the median is there, not at the start. Smoothed Weiszfeld
// weighs the update it sits on by 1 / nu and barely moves.
TEST(GeometricMedian, LeavesAnUpdateItStartsOnUnlessItIsTheMedian) {
  const naive::Mat x = {{0, 0}, {1, 0}, {1, 0.1}, {1, -0.1}, {-3, 0}};
  const naive::Vec z = Aggregate("geometric_median", x);
  const naive::Vec want = naive::GeometricMedian(x);
  EXPECT_GT(want[0], 0.5);
  EXPECT_LE(std::sqrt(naive::Dist2(z, want)), 1e-4);
  // When the update it starts on is the median, it stays: (0, 0) is the
  // weighted mean and the median of the four corners and the centre.
  const naive::Vec centre = Aggregate(
      "geometric_median", {{0, 0}, {1, 1}, {-1, 1}, {1, -1}, {-1, -1}});
  EXPECT_EQ(centre, naive::Vec({0, 0}));
}

TEST(GeometricMedian, RestartsFromTheMedianOnlyWhenTheMeanIsFarOff) {
  const naive::Mat honest = UniformPoints(7, 8, 2.5, 9);
  naive::Mat x = honest;
  GeometricMedianAggregator benign(8);
  for (const naive::Vec& r : x) {
    ASSERT_THAT(
        benign.Accumulate(std::vector<float>(r.begin(), r.end()), 1, {}),
        IsOk());
  }
  ASSERT_THAT(benign.Report(), IsOk());
  EXPECT_FALSE(benign.last_restarted());
  GeometricMedianAggregator attacked(8);
  for (int i = 0; i < 5; ++i) x.push_back(naive::Vec(8, 1e10));
  for (const naive::Vec& r : x) {
    ASSERT_THAT(
        attacked.Accumulate(std::vector<float>(r.begin(), r.end()), 1, {}),
        IsOk());
  }
  ASSERT_THAT(attacked.Report(), IsOk());
  EXPECT_TRUE(attacked.last_restarted());
}

TEST(GeometricMedian, WithoutOutliersMatchesNaive) {
  for (int n : {3, 12, 25}) {
    const naive::Mat x = UniformPoints(n, 20, 1.0, n);
    const naive::Vec z = Aggregate("geometric_median", x);
    const naive::Vec want = naive::GeometricMedian(x);
    EXPECT_LE(std::sqrt(naive::Dist2(z, want)), 1e-4) << n;
  }
}

}  // namespace
}  // namespace fedtiny::aggregation
