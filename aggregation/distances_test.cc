// Distance-based methods (Krum, Multi-Krum, Bulyan, NNM) on updates that share
// a large common component, against explicit distance loops in double. The Gram
// shortcut ||a||^2 + ||b||^2 - 2 a.b cancels there unless the updates are
// centred.
#include "aggregation/distances.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <vector>

#include "aggregation/factory.h"
#include "aggregation/krum.h"
#include "aggregation/naive_reference.h"
#include "aggregation/nnm.h"
#include "gtest/gtest.h"
#include "tools/base/status_matchers.h"

namespace fedtiny::aggregation {
namespace {

using ::fedtiny::testing::IsOk;

// n updates: a per-coordinate offset in [-1000, 1000] shared by all, plus
// N(0, 0.1^2) noise, rounded to float.
naive::Mat OffsetUpdates(int n, int d, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> offset(-1000, 1000);
  std::normal_distribution<double> noise(0, 0.1);
  naive::Vec common(d);
  for (double& c : common) c = offset(rng);
  naive::Mat x(n, naive::Vec(d));
  for (auto& r : x)
    for (int j = 0; j < d; ++j)
      r[j] = static_cast<float>(common[j] + noise(rng));
  return x;
}

RowMatrixXf ToMatrix(const naive::Mat& x) {
  RowMatrixXf m(x.size(), x[0].size());
  for (size_t i = 0; i < x.size(); ++i)
    for (size_t j = 0; j < x[i].size(); ++j) m(i, j) = x[i][j];
  return m;
}

absl::StatusOr<Eigen::VectorXf> Aggregate(Aggregator& agg,
                                          const naive::Mat& x) {
  for (const naive::Vec& r : x) {
    std::vector<float> u(r.begin(), r.end());
    absl::Status s = agg.Accumulate(u, 1.0, {});
    if (!s.ok()) return s;
  }
  return agg.Report();
}

// |got - want| within `ulps` float spacings of want, per coordinate.
void ExpectWithinUlps(const Eigen::VectorXf& got, const naive::Vec& want,
                      double ulps) {
  ASSERT_EQ(got.size(), static_cast<int64_t>(want.size()));
  for (size_t j = 0; j < want.size(); ++j) {
    const float w = static_cast<float>(want[j]);
    const double ulp = std::nextafter(std::fabs(w), INFINITY) - std::fabs(w);
    EXPECT_NEAR(got[j], want[j], ulps * ulp) << "coordinate " << j;
  }
}

// Indices of the m smallest scores, asserting that the m-th and (m+1)-th differ
// clearly, so that the expected selection is not decided by rounding.
std::vector<int> SmallestScores(const naive::Vec& scores, int m) {
  std::vector<int> order(scores.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](int a, int b) { return scores[a] < scores[b]; });
  EXPECT_GT(scores[order[m]] - scores[order[m - 1]], 1e-6 * scores[order[m]]);
  order.resize(m);
  std::sort(order.begin(), order.end());
  return order;
}

TEST(PairwiseSquaredDistances, MatchNaiveLoopUnderLargeOffset) {
  for (uint32_t seed : {1, 2, 3}) {
    const naive::Mat x = OffsetUpdates(12, 16, seed);
    const RowMatrixXf m = ToMatrix(x);
    const Eigen::MatrixXd d2 = PairwiseSquaredDistances(
        ConstRowMatrixMap(m.data(), m.rows(), m.cols()));
    for (size_t i = 0; i < x.size(); ++i) {
      for (size_t j = 0; j < x.size(); ++j) {
        const double want = naive::Dist2(x[i], x[j]);
        EXPECT_NEAR(d2(i, j), want, 1e-9 * want) << i << "," << j;
      }
    }
  }
}

// Issue #9 item 14: float32 [1000, 1000.01, 1000.03, 1000.06], d = 1. Scores
// with k = 2 neighbours are 1e-3, 5e-4, 1.3e-3, 3.4e-3: the best is 1000.01.
TEST(Krum, IssueExampleWithCommonOffset) {
  KrumAggregator krum(1, /*f=*/0, /*m=*/1);
  absl::StatusOr<Eigen::VectorXf> r =
      Aggregate(krum, {{1000.f}, {1000.01f}, {1000.03f}, {1000.06f}});
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ((*r)[0], 1000.01f);
  EXPECT_EQ(krum.selected(), std::vector<int>{1});
}

TEST(Krum, SelectionMatchesNaiveUnderLargeOffset) {
  const int n = 15, d = 16, f = 3;
  for (uint32_t seed : {11, 12, 13, 14, 15}) {
    const naive::Mat x = OffsetUpdates(n, d, seed);
    std::vector<int> all(n);
    std::iota(all.begin(), all.end(), 0);
    const naive::Vec scores = naive::KrumScores(x, all, n - f - 2);
    for (int m : {1, 5}) {
      const std::vector<int> want = SmallestScores(scores, m);
      KrumAggregator krum(d, f, m);
      absl::StatusOr<Eigen::VectorXf> r = Aggregate(krum, x);
      ASSERT_THAT(r, IsOk());
      std::vector<int> got = krum.selected();
      std::sort(got.begin(), got.end());
      EXPECT_EQ(got, want) << "seed " << seed << " m " << m;
      ExpectWithinUlps(*r, naive::Mean(x, want), 1);
    }
  }
}

TEST(Bulyan, MatchesNaiveUnderLargeOffset) {
  for (uint32_t seed : {21, 22, 23}) {
    const naive::Mat x = OffsetUpdates(15, 16, seed);
    absl::StatusOr<std::unique_ptr<Aggregator>> agg =
        MakeAggregator("bulyan:f=3", 16);
    ASSERT_THAT(agg, IsOk());
    absl::StatusOr<Eigen::VectorXf> r = Aggregate(**agg, x);
    ASSERT_THAT(r, IsOk());
    ExpectWithinUlps(*r, naive::Bulyan(x, 3), 1);
  }
}

// Mixing sums k floats of magnitude ~1000 in float: a few ulps. A wrong
// neighbour moves a coordinate by about 0.1 * sqrt(2) / k, hundreds of ulps.
TEST(Nnm, MixingMatchesNaiveUnderLargeOffset) {
  const int n = 15, d = 16, f = 3;
  for (uint32_t seed : {31, 32, 33}) {
    const naive::Mat x = OffsetUpdates(n, d, seed);
    const RowMatrixXf m = ToMatrix(x);
    const RowMatrixXf mixed =
        NearestNeighborMix(ConstRowMatrixMap(m.data(), n, d), f);
    const naive::Mat want = naive::NearestNeighborMix(x, f);
    for (int i = 0; i < n; ++i) {
      ExpectWithinUlps(mixed.row(i).transpose(), want[i], 4);
    }
  }
}

}  // namespace
}  // namespace fedtiny::aggregation
