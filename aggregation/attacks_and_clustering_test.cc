#include <cmath>
#include <random>
#include <vector>

#include "aggregation/attacks.h"
#include "aggregation/clustering.h"
#include "aggregation/factory.h"
#include "gtest/gtest.h"
#include "tools/base/status_matchers.h"

namespace fedtiny::aggregation {
namespace {

using ::fedtiny::testing::IsOk;
using ::fedtiny::testing::StatusIs;
using ::testing::HasSubstr;

const float kThree[] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
ConstRowMatrixMap Three() { return ConstRowMatrixMap(kThree, 3, 3); }

Eigen::VectorXf Attack(const char* spec) {
  SeededRandomSource rng(1);
  absl::StatusOr<AttackConfig> c = ParseAttack(spec);
  EXPECT_THAT(c, IsOk());
  absl::StatusOr<Eigen::VectorXf> v = CraftAttack(*c, Three(), Eigen::VectorXf::Ones(3), rng);
  EXPECT_THAT(v, IsOk());
  return *v;
}

TEST(Attacks, KnownAnswers) {
  EXPECT_TRUE(Attack("sign_flip").isApprox(Eigen::Vector3f(-4, -5, -6)));
  EXPECT_TRUE(Attack("ipm:tau=3").isApprox(Eigen::Vector3f(-8, -10, -12)));
  EXPECT_TRUE(Attack("alie:tau=1.5").isApprox(Eigen::Vector3f(8.5, 9.5, 10.5)));
  EXPECT_TRUE(Attack("scaling:tau=10").isApprox(Eigen::Vector3f(10, 10, 10)));
}

TEST(Attacks, MinMaxAndMinSumSitOnTheirBoundary) {
  std::mt19937 rng(4);
  std::normal_distribution<float> g;
  Eigen::Matrix<float, 8, 5, Eigen::RowMajor> x;
  for (int i = 0; i < 8; ++i)
    for (int j = 0; j < 5; ++j) x(i, j) = g(rng);
  ConstRowMatrixMap honest(x.data(), 8, 5);
  SeededRandomSource src(2);
  double max_pair = 0, max_sum = 0;
  for (int i = 0; i < 8; ++i) {
    double s = 0;
    for (int j = 0; j < 8; ++j) {
      max_pair = std::max<double>(max_pair, (x.row(i) - x.row(j)).squaredNorm());
      s += (x.row(i) - x.row(j)).squaredNorm();
    }
    max_sum = std::max(max_sum, s);
  }
  Eigen::VectorXf mm = *CraftAttack(*ParseAttack("min_max"), honest, {}, src);
  double worst = 0, total = 0;
  for (int i = 0; i < 8; ++i) {
    worst = std::max<double>(worst, (x.row(i).transpose() - mm).squaredNorm());
  }
  EXPECT_LE(worst, max_pair * (1 + 1e-5));
  EXPECT_GE(worst, max_pair * 0.99);  // Pushed to the boundary, not left inside.
  Eigen::VectorXf ms = *CraftAttack(*ParseAttack("min_sum"), honest, {}, src);
  for (int i = 0; i < 8; ++i) total += (x.row(i).transpose() - ms).squaredNorm();
  EXPECT_LE(total, max_sum * (1 + 1e-5));
  EXPECT_GE(total, max_sum * 0.99);
}

TEST(Attacks, BadInput) {
  EXPECT_THAT(ParseAttack("backdoor"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ParseAttack("alie:sigma=2"), StatusIs(absl::StatusCode::kInvalidArgument));
  SeededRandomSource src(1);
  ConstRowMatrixMap one(kThree, 1, 3);
  EXPECT_THAT(CraftAttack(*ParseAttack("alie:tau=1.5"), one, {}, src),
              StatusIs(absl::StatusCode::kInvalidArgument));
  // A bare alie has no strength until the round's (n, f) are known.
  ConstRowMatrixMap three(kThree, 3, 3);
  EXPECT_THAT(CraftAttack(*ParseAttack("alie"), three, {}, src),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(AlieZMax(10, 10), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(AlieZMax(10, -1), StatusIs(absl::StatusCode::kInvalidArgument));
}

// z_max = Phi^-1((n - s) / n), s = floor(n / 2 + 1) - f; the reference values
// are Python's statistics.NormalDist().inv_cdf.
TEST(Attacks, AlieZMaxMatchesTheInverseNormal) {
  EXPECT_NEAR(*AlieZMax(40, 20), 1.959963984540054, 1e-9);   // p = 39/40.
  EXPECT_NEAR(*AlieZMax(100, 20), 0.4958503473474533, 1e-9); // p = 0.69.
  EXPECT_NEAR(*AlieZMax(50, 12), 0.5828415072712162, 1e-9);  // p = 0.72.
  EXPECT_EQ(*AlieZMax(100, 0), 0.0);  // s = 51: p = 0.49, nothing to gain.
  AttackConfig bare = *ParseAttack("alie");
  EXPECT_TRUE(bare.tau_from_round);
  AttackConfig round = *ForRound(bare, 100, 20);
  EXPECT_FALSE(round.tau_from_round);
  EXPECT_NEAR(round.tau, 0.4958503473474533, 1e-9);
  // An explicit strength is kept whatever the round.
  EXPECT_EQ(ForRound(*ParseAttack("alie:tau=1.5"), 100, 20)->tau, 1.5);
}

TEST(Clustering, PerClusterAggregationIsIndependent) {
  ClusteredAggregator agg(3, 2, *ParseAggregatorSpec("fedavg"));
  ASSERT_THAT(agg.Accumulate({{1.f, 1.f}}, 1, {"a", 0}), IsOk());
  ASSERT_THAT(agg.Accumulate({{3.f, 3.f}}, 1, {"b", 0}), IsOk());
  ASSERT_THAT(agg.Accumulate({{-5.f, 0.f}}, 1, {"c", 2}), IsOk());
  EXPECT_THAT(agg.Accumulate({{1.f, 1.f}}, 1, {"d", 3}),
              StatusIs(absl::StatusCode::kInvalidArgument));
  std::map<int, Eigen::VectorXf> r = *agg.ReportAll();
  ASSERT_EQ(r.size(), 2u);
  EXPECT_TRUE(r[0].isApprox(Eigen::Vector2f(2, 2)));
  EXPECT_TRUE(r[2].isApprox(Eigen::Vector2f(-5, 0)));
  EXPECT_EQ(agg.num_updates(1), 0);
}

// A hand-written fake whose Report() fails, as a method's finite-result check can.
class FailingReport final : public Aggregator {
 public:
  explicit FailingReport(int64_t dim) : dim_(dim) {}
  absl::Status Accumulate(absl::Span<const float>, double, const ClientInfo&) override {
    ++n_;
    return absl::OkStatus();
  }
  bool CanReport() const override { return n_ > 0; }
  absl::StatusOr<Eigen::VectorXf> Report() override {
    return absl::OutOfRangeError("aggregate is inf at coordinate 0");
  }
  absl::Status MergeWith(Aggregator&&) override { return absl::UnimplementedError(""); }
  std::string Name() const override { return "failing"; }
  int64_t dim() const override { return dim_; }
  int64_t num_updates() const override { return n_; }

 private:
  const int64_t dim_;
  int64_t n_ = 0;
};

// Issue #10: ReportAll used to drop a cluster whose Report() failed, so the
// round committed the other clusters as if that one had had too few updates.
TEST(Clustering, ReportAllNamesTheClusterThatFailed) {
  AggregatorFactory fedavg = *ParseAggregatorSpec("fedavg");
  int built = 0;  // Cluster 0 is built first (fedavg), cluster 1 second (failing).
  ClusteredAggregator agg(3, 2, [&](int64_t d) -> std::unique_ptr<Aggregator> {
    return built++ == 0 ? fedavg(d) : std::make_unique<FailingReport>(d);
  });
  ASSERT_THAT(agg.Accumulate({{1.f, 1.f}}, 1, {"a", 0}), IsOk());
  ASSERT_THAT(agg.Accumulate({{2.f, 2.f}}, 1, {"b", 1}), IsOk());
  EXPECT_THAT(agg.ReportAll(),
              StatusIs(absl::StatusCode::kOutOfRange,
                       HasSubstr("cluster 1: aggregate is inf at coordinate 0")));
}

TEST(Clustering, CflSplitsOpposedGroupsOnly) {
  // Two groups pulling in opposite directions: the mean is ~0, updates are large.
  std::mt19937 rng(8);
  std::normal_distribution<float> g(0, 0.05f);
  Eigen::Matrix<float, 10, 4, Eigen::RowMajor> x;
  for (int i = 0; i < 10; ++i) {
    const float s = i % 2 ? 1.f : -1.f;
    for (int j = 0; j < 4; ++j) x(i, j) = s * (j + 1) + g(rng);
  }
  CflSplit split = CflDecide(ConstRowMatrixMap(x.data(), 10, 4), 0.5, 1.0);
  ASSERT_TRUE(split.split);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(split.labels[i], split.labels[i % 2]);
  EXPECT_NE(split.labels[0], split.labels[1]);
  EXPECT_LT(split.max_cross_similarity, 0);
  // All agreeing: the mean is large, no split.
  for (int i = 0; i < 10; ++i) x.row(i) = x.row(i).cwiseAbs();
  EXPECT_FALSE(CflDecide(ConstRowMatrixMap(x.data(), 10, 4), 0.5, 1.0).split);
}

}  // namespace
}  // namespace fedtiny::aggregation
