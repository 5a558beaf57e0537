// The contract every aggregator shares (aggregator.h) at the edges of double
// and float: huge weights, a total weight that overflows, and updates near the
// float limit. Issue #9 item 16.
#include "aggregation/aggregator.h"

#include <cmath>
#include <limits>
#include <memory>
#include <random>
#include <vector>

#include "aggregation/buffered_aggregator.h"
#include "aggregation/dp_fedavg.h"
#include "aggregation/factory.h"
#include "gtest/gtest.h"
#include "tools/base/status_matchers.h"

namespace fedtiny::aggregation {
namespace {

using ::fedtiny::testing::IsOk;
using ::fedtiny::testing::StatusIs;
using ::testing::HasSubstr;

// Every method and stage, with parameters that 12 updates satisfy.
const char* const kSpecs[] = {
    "fedavg",
    "median",
    "trimmed_mean:beta=0.1",
    "krum:f=2",
    "multi_krum:f=2,m=4",
    "geometric_median",
    "centered_clipping:tau=1e12,iters=3",
    "bulyan:f=2",
    "norm_bound:c=1e12+fedavg",
    "nnm:f=2+fedavg",
    "nnm:f=2+median",
    "nnm:f=2+geometric_median",
};

std::vector<std::vector<float>> RandomUpdates(int n, int d, float scale,
                                              uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> g;
  std::vector<std::vector<float>> x(n, std::vector<float>(d));
  for (auto& r : x)
    for (float& v : r) v = scale * g(rng);
  return x;
}

absl::StatusOr<Eigen::VectorXf> Aggregate(
    absl::string_view spec, const std::vector<std::vector<float>>& x,
    double weight) {
  absl::StatusOr<std::unique_ptr<Aggregator>> agg =
      MakeAggregator(spec, x[0].size());
  if (!agg.ok()) return agg.status();
  for (const auto& u : x) {
    absl::Status s = (*agg)->Accumulate(u, weight, {});
    if (!s.ok()) return s;
  }
  return (*agg)->Report();
}

// Equal weights, however large, are the unweighted case. FedAvg multiplied each
// update by its weight before dividing: 1e300 * 1e30 overflows.
TEST(HugeWeights, EqualHugeWeightsGiveTheUnitWeightResult) {
  const auto x = RandomUpdates(12, 20, 1e30f, 1);
  for (const char* spec : kSpecs) {
    absl::StatusOr<Eigen::VectorXf> unit = Aggregate(spec, x, 1.0);
    ASSERT_THAT(unit, IsOk()) << spec;
    for (double w : {3e38, 1e300}) {
      absl::StatusOr<Eigen::VectorXf> heavy = Aggregate(spec, x, w);
      ASSERT_THAT(heavy, IsOk()) << spec << " weight " << w;
      EXPECT_TRUE(heavy->allFinite()) << spec << " weight " << w;
      EXPECT_TRUE(heavy->isApprox(*unit, 1e-5f)) << spec << " weight " << w;
    }
  }
}

TEST(HugeWeights, TotalWeightOverflowIsInvalidArgument) {
  const auto x = RandomUpdates(12, 20, 1.0f, 2);
  for (const char* spec : kSpecs) {
    std::unique_ptr<Aggregator> agg = *MakeAggregator(spec, 20);
    ASSERT_THAT(agg->Accumulate(x[0], 1e308, {}), IsOk()) << spec;
    EXPECT_THAT(
        agg->Accumulate(x[1], 1e308, {}),
        StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("total weight")))
        << spec;
    EXPECT_EQ(agg->num_updates(), 1) << spec;
    // Shards whose totals are finite but whose sum is not cannot merge either.
    std::unique_ptr<Aggregator> other = *MakeAggregator(spec, 20);
    ASSERT_THAT(other->Accumulate(x[2], 1e308, {}), IsOk()) << spec;
    EXPECT_THAT(
        agg->MergeWith(std::move(*other)),
        StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("total weight")))
        << spec;
    EXPECT_EQ(agg->num_updates(), 1) << spec;
    EXPECT_EQ(other->num_updates(), 1) << spec;
  }
}

// Every method's output is a mean, median or convex combination of the updates
// (and, for centered clipping, its zero start), so each coordinate lies between
// the smallest and largest input value. Near the float limit, sums and
// differences taken in float overflow; the result must still be finite.
TEST(ExtremeValues, OutputsStayFiniteAndWithinTheInputRange) {
  const float big = std::numeric_limits<float>::max();
  const float pool[] = {big,   -big,   0.9f * big, -0.7f * big, 3e38f,
                        1e38f, -2e38f, 1.f,        -1.f,        0.f};
  std::mt19937 rng(3);
  std::uniform_int_distribution<int> pick(0, 9);
  const int n = 12, d = 70;  // d spans a 64-coordinate block and a remainder.
  std::vector<std::vector<float>> x(n, std::vector<float>(d));
  for (auto& r : x)
    for (float& v : r) v = pool[pick(rng)];
  for (int i = 0; i <= n / 2; ++i)
    x[i][5] = big;  // Even n: median of two maxima.
  for (const char* spec : kSpecs) {
    absl::StatusOr<Eigen::VectorXf> r = Aggregate(spec, x, 1.0);
    ASSERT_THAT(r, IsOk()) << spec;
    for (int j = 0; j < d; ++j) {
      float lo = 0, hi = 0;
      for (const auto& u : x) lo = std::min(lo, u[j]), hi = std::max(hi, u[j]);
      EXPECT_TRUE(std::isfinite((*r)[j])) << spec << " coordinate " << j;
      EXPECT_GE((*r)[j], lo) << spec << " coordinate " << j;
      EXPECT_LE((*r)[j], hi) << spec << " coordinate " << j;
    }
  }
}

// A method whose arithmetic overflows anyway (here, by construction).
class OverflowingAggregator final : public BufferedAggregator {
 public:
  OverflowingAggregator() : BufferedAggregator(3) {}
  std::string Name() const override { return "overflowing"; }

 protected:
  absl::StatusOr<Eigen::VectorXf> Compute(const ConstRowMatrixMap& x,
                                          const std::vector<double>&) override {
    return Eigen::VectorXf(x.row(0).transpose() * 1e38f);
  }
};

TEST(NonFiniteOutput, IsAnErrorNotAVector) {
  OverflowingAggregator agg;
  ASSERT_THAT(agg.Accumulate({{1.f, 100.f, 1.f}}, 1, {}), IsOk());
  EXPECT_THAT(agg.Report(), StatusIs(absl::StatusCode::kOutOfRange,
                                     HasSubstr("coordinate 1")));

  // DP noise of standard deviation 1e40 is infinite in float.
  DpFedAvgOptions options;
  options.clip_norm = 1e30;
  options.noise_multiplier = 1e10;
  DpFedAvgAggregator dp(3, options, std::make_shared<SeededRandomSource>(1));
  ASSERT_THAT(dp.Accumulate({{1.f, 2.f, 3.f}}, 1, {}), IsOk());
  EXPECT_THAT(dp.Report(), StatusIs(absl::StatusCode::kOutOfRange));
}

}  // namespace
}  // namespace fedtiny::aggregation
