#include "aggregation/fedavg.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "gtest/gtest.h"
#include "tools/base/status_matchers.h"

namespace fedtiny::aggregation {
namespace {

using ::fedtiny::testing::IsOk;
using ::fedtiny::testing::StatusIs;

TEST(FedAvgTest, KnownAnswer) {
  FedAvgAggregator agg(3);
  std::vector<float> a{1, 2, 3}, b{4, 5, 6}, c{7, 8, 9};
  ASSERT_THAT(agg.Accumulate(a, 1, {}), IsOk());
  ASSERT_THAT(agg.Accumulate(b, 1, {}), IsOk());
  ASSERT_THAT(agg.Accumulate(c, 2, {}), IsOk());
  absl::StatusOr<Eigen::VectorXf> r = agg.Report();
  ASSERT_THAT(r, IsOk());
  EXPECT_FLOAT_EQ((*r)[0], 4.75f);
  EXPECT_FLOAT_EQ((*r)[1], 5.75f);
  EXPECT_FLOAT_EQ((*r)[2], 6.75f);
}

TEST(FedAvgTest, MatchesNaiveLoopOnRandomInputs) {
  std::mt19937 rng(7);
  std::normal_distribution<float> g;
  std::uniform_real_distribution<double> w(0.5, 100);
  const int n = 37, d = 101;
  std::vector<std::vector<float>> ups(n, std::vector<float>(d));
  std::vector<double> ws(n);
  FedAvgAggregator agg(d);
  for (int i = 0; i < n; ++i) {
    for (float& v : ups[i]) v = g(rng);
    ws[i] = w(rng);
    ASSERT_THAT(agg.Accumulate(ups[i], ws[i], {}), IsOk());
  }
  absl::StatusOr<Eigen::VectorXf> r = agg.Report();
  ASSERT_THAT(r, IsOk());
  for (int j = 0; j < d; ++j) {
    double num = 0, den = 0;
    for (int i = 0; i < n; ++i) {
      num += ws[i] * ups[i][j];
      den += ws[i];
    }
    EXPECT_NEAR((*r)[j], num / den, 1e-5);
  }
}

// Example counts as weights may be huge: weight * update must not overflow
// (1e300 * 3e38 does in double). Reference: weights normalised first.
TEST(FedAvgTest, HugeUnequalWeightsMatchNormalisedNaive) {
  const float big = 3e38f;
  const std::vector<std::vector<float>> ups = {
      {big, -big, 1}, {-big, big, 2}, {big, big, 3}};
  const double ws[] = {1e300, 3e300, 2e300};
  FedAvgAggregator agg(3);
  for (int i = 0; i < 3; ++i)
    ASSERT_THAT(agg.Accumulate(ups[i], ws[i], {}), IsOk());
  absl::StatusOr<Eigen::VectorXf> r = agg.Report();
  ASSERT_THAT(r, IsOk());
  for (int j = 0; j < 3; ++j) {
    double want = 0, scale = 0;
    for (int i = 0; i < 3; ++i) {
      want += ws[i] / 6e300 * ups[i][j];
      scale = std::max(scale, std::fabs(double{ups[i][j]}));
    }
    EXPECT_NEAR((*r)[j], want, 1e-6 * scale) << j;
  }
}

TEST(FedAvgTest, RejectsBadInputAndKeepsState) {
  FedAvgAggregator agg(3);
  std::vector<float> good{1, 1, 1};
  ASSERT_THAT(agg.Accumulate(good, 1, {}), IsOk());
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  std::vector<float> with_nan{1, nan, 1}, with_inf{-inf, 1, 1}, short_u{1, 1};
  EXPECT_THAT(agg.Accumulate(with_nan, 1, {}),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(agg.Accumulate(with_inf, 1, {}),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(agg.Accumulate(short_u, 1, {}),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(agg.Accumulate(good, 0, {}),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(agg.Accumulate(good, -2, {}),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(agg.Accumulate(good, nan, {}),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_EQ(agg.num_updates(), 1);
  absl::StatusOr<Eigen::VectorXf> r = agg.Report();
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(*r, Eigen::VectorXf::Ones(3));
}

// The check and the blend share one pass, so by the time a NaN late in a long
// update is seen, the values before it have been blended: they must have gone
// to scratch, not into the mean. The error still names the first bad index.
TEST(FedAvgTest, LateNaNInLongUpdateChangesNothing) {
  const int d = 1001;
  FedAvgAggregator agg(d);
  std::vector<float> a(d), b(d, 5.f);
  for (int j = 0; j < d; ++j) a[j] = 0.25f * j;
  ASSERT_THAT(agg.Accumulate(a, 3, {}), IsOk());
  b[700] = std::numeric_limits<float>::quiet_NaN();
  b[999] = std::numeric_limits<float>::infinity();
  EXPECT_THAT(agg.Accumulate(b, 1, {}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       ::testing::HasSubstr("update value 700 is nan")));
  EXPECT_EQ(agg.num_updates(), 1);
  EXPECT_EQ(agg.total_weight(), 3);
  Eigen::VectorXf r = *agg.Report();
  for (int j = 0; j < d; ++j) ASSERT_EQ(r[j], a[j]) << j;
  // And the next good update blends into the untouched mean: (3a + 5) / 4.
  b[700] = b[999] = 5.f;
  ASSERT_THAT(agg.Accumulate(b, 1, {}), IsOk());
  r = *agg.Report();
  for (int j = 0; j < d; ++j) {
    ASSERT_NEAR(r[j], (3.0 * a[j] + 5.0) / 4.0, 1e-5) << j;
  }
}

TEST(FedAvgTest, ReportWithoutUpdatesFails) {
  FedAvgAggregator agg(4);
  EXPECT_FALSE(agg.CanReport());
  EXPECT_THAT(agg.Report(), StatusIs(absl::StatusCode::kFailedPrecondition));
}

TEST(FedAvgTest, MergeEqualsSingleAggregator) {
  std::mt19937 rng(3);
  std::normal_distribution<float> g;
  const int d = 16;
  FedAvgAggregator all(d), left(d), right(d);
  for (int i = 0; i < 20; ++i) {
    std::vector<float> u(d);
    for (float& v : u) v = g(rng);
    const double w = 1 + i;
    ASSERT_THAT(all.Accumulate(u, w, {}), IsOk());
    ASSERT_THAT((i % 2 ? left : right).Accumulate(u, w, {}), IsOk());
  }
  ASSERT_THAT(left.MergeWith(std::move(right)), IsOk());
  EXPECT_EQ(left.num_updates(), 20);
  EXPECT_TRUE(left.Report()->isApprox(*all.Report(), 1e-6f));
  FedAvgAggregator other_dim(d + 1);
  EXPECT_THAT(left.MergeWith(std::move(other_dim)),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace fedtiny::aggregation
