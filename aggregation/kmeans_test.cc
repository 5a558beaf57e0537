#include "aggregation/kmeans.h"

#include <cmath>
#include <random>
#include <vector>

#include "gtest/gtest.h"
#include "tools/base/status_matchers.h"

namespace fedtiny::aggregation {
namespace {

using ::fedtiny::testing::IsOk;
using ::fedtiny::testing::StatusIs;

Eigen::MatrixXd RandomPoints(int n, int dim, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> g;
  Eigen::MatrixXd p(n, dim);
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < dim; ++j) p(i, j) = g(rng);
  return p;
}

TEST(KMeans, UnitRowsMatchesNaive) {
  std::vector<float> raw = {3, 4, 0, 0, 0, 0, -1, 2, 2};
  const Eigen::MatrixXd u = UnitRows(ConstRowMatrixMap(raw.data(), 3, 3));
  for (int i = 0; i < 3; ++i) {
    double norm = 0;
    for (int j = 0; j < 3; ++j) norm += double{raw[i * 3 + j]} * raw[i * 3 + j];
    norm = std::sqrt(norm);
    for (int j = 0; j < 3; ++j) EXPECT_NEAR(u(i, j), norm > 0 ? raw[i * 3 + j] / norm : 0, 1e-12);
  }
}

TEST(KMeans, SquaredDistanceToNearestMatchesNaive) {
  const Eigen::MatrixXd p = RandomPoints(30, 5, 1), c = RandomPoints(4, 5, 2);
  const Eigen::VectorXd d = SquaredDistanceToNearest(p, c);
  for (int i = 0; i < 30; ++i) {
    double best = 1e300;
    for (int k = 0; k < 4; ++k) {
      double s = 0;
      for (int j = 0; j < 5; ++j) s += (p(i, j) - c(k, j)) * (p(i, j) - c(k, j));
      best = std::min(best, s);
    }
    EXPECT_NEAR(d(i), best, 1e-12);
  }
}

TEST(KMeans, LloydStepMatchesNaive) {
  const Eigen::MatrixXd p = RandomPoints(40, 3, 3);
  Eigen::MatrixXd c = RandomPoints(3, 3, 4);
  const Eigen::MatrixXd before = c;
  std::vector<int> labels;
  EXPECT_TRUE(LloydStep(p, c, labels));
  // Naive: nearest center by a double loop, then per-center means.
  std::vector<double> sum(9, 0);
  std::vector<int> count(3, 0);
  for (int i = 0; i < 40; ++i) {
    int best = 0;
    double best_d = 1e300;
    for (int k = 0; k < 3; ++k) {
      double s = 0;
      for (int j = 0; j < 3; ++j) s += (p(i, j) - before(k, j)) * (p(i, j) - before(k, j));
      if (s < best_d) best_d = s, best = k;
    }
    ASSERT_EQ(labels[i], best) << i;
    ++count[best];
    for (int j = 0; j < 3; ++j) sum[best * 3 + j] += p(i, j);
  }
  for (int k = 0; k < 3; ++k) {
    ASSERT_GT(count[k], 0);
    for (int j = 0; j < 3; ++j) EXPECT_NEAR(c(k, j), sum[k * 3 + j] / count[k], 1e-12);
  }
  // Lloyd converges: after a finite number of steps nothing changes.
  int steps = 0;
  while (LloydStep(p, c, labels) && steps < 100) ++steps;
  EXPECT_LT(steps, 100);
  EXPECT_FALSE(LloydStep(p, c, labels));
}

TEST(KMeans, LloydStepRefillsAnEmptyCluster) {
  Eigen::MatrixXd p(4, 1);
  p << 0, 1, 2, 10;
  Eigen::MatrixXd c(2, 1);
  c << 1, 100;  // Nobody is nearest to 100.
  std::vector<int> labels;
  LloydStep(p, c, labels);
  EXPECT_EQ(labels, (std::vector<int>{0, 0, 0, 1}));  // 10 is the farthest from center 0.
  EXPECT_DOUBLE_EQ(c(0, 0), 1);
  EXPECT_DOUBLE_EQ(c(1, 0), 10);
}

// The second seed's distribution against the closed form P = d^2 / sum d^2,
// averaged over the uniform first seed.
TEST(KMeans, SeedingSamplesProportionalToSquaredDistance) {
  Eigen::MatrixXd p(3, 1);
  p << 0, 1, 3;
  double expect[3][3] = {};
  for (int i = 0; i < 3; ++i) {
    double total = 0;
    for (int j = 0; j < 3; ++j) total += (p(i, 0) - p(j, 0)) * (p(i, 0) - p(j, 0));
    for (int j = 0; j < 3; ++j) expect[i][j] = (p(i, 0) - p(j, 0)) * (p(i, 0) - p(j, 0)) / total / 3;
  }
  SeededRandomSource rng(7);
  const int draws = 60000;
  double seen[3][3] = {};
  for (int t = 0; t < draws; ++t) {
    absl::StatusOr<std::vector<int>> s = KMeansPlusPlusSeeds(p, 2, rng);
    ASSERT_THAT(s, IsOk());
    seen[(*s)[0]][(*s)[1]] += 1.0 / draws;
  }
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j) EXPECT_NEAR(seen[i][j], expect[i][j], 0.01) << i << "," << j;
}

// Updates of four groups, each along its own direction with noise and lengths
// that vary 10x: the groups come back exactly (up to renaming), every restart seed.
TEST(KMeans, RecoversGroupsOfDirections) {
  const int groups = 4, per = 12, dim = 20;
  const Eigen::MatrixXd dirs = RandomPoints(groups, dim, 11);
  std::mt19937_64 rng(12);
  std::normal_distribution<double> g;
  std::uniform_real_distribution<double> len(0.5, 5);
  std::vector<float> rows;
  for (int i = 0; i < groups * per; ++i) {
    const double l = len(rng);
    for (int j = 0; j < dim; ++j) rows.push_back(static_cast<float>(l * (dirs(i % groups, j) + 0.2 * g(rng))));
  }
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    SeededRandomSource random(seed);
    absl::StatusOr<KMeansResult> r =
        SphericalKMeans(ConstRowMatrixMap(rows.data(), groups * per, dim), {groups, 20, 4}, random);
    ASSERT_THAT(r, IsOk());
    for (int i = 0; i < groups * per; ++i) EXPECT_EQ(r->labels[i], r->labels[i % groups]) << seed;
    std::vector<int> firsts(r->labels.begin(), r->labels.begin() + groups);
    std::sort(firsts.begin(), firsts.end());
    EXPECT_EQ(firsts, (std::vector<int>{0, 1, 2, 3})) << seed;
  }
}

TEST(KMeans, BadInput) {
  SeededRandomSource random(1);
  std::vector<float> same = {1, 0, 2, 0, 3, 0};  // One direction only.
  EXPECT_THAT(SphericalKMeans(ConstRowMatrixMap(same.data(), 3, 2), {2, 5, 1}, random),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(SphericalKMeans(ConstRowMatrixMap(same.data(), 3, 2), {4, 5, 1}, random),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(SphericalKMeans(ConstRowMatrixMap(same.data(), 3, 2), {0, 5, 1}, random),
              StatusIs(absl::StatusCode::kInvalidArgument));
  std::vector<float> nan = {1, 0, NAN, 1};
  EXPECT_THAT(SphericalKMeans(ConstRowMatrixMap(nan.data(), 2, 2), {2, 5, 1}, random),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace fedtiny::aggregation
