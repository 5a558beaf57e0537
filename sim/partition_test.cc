#include "sim/partition.h"

#include <algorithm>
#include <set>

#include "gtest/gtest.h"
#include "tools/base/status_matchers.h"

namespace fedtiny::sim {
namespace {

using ::fedtiny::testing::StatusIs;

std::vector<int32_t> Labels(int n) {
  std::vector<int32_t> y(n);
  for (int i = 0; i < n; ++i) y[i] = i % 10;
  return y;
}

// Every example goes to exactly one client.
void ExpectExactCover(const Partition& p, int64_t n) {
  std::vector<int> seen(n, 0);
  for (const auto& client : p)
    for (int64_t i : client) ++seen[i];
  EXPECT_TRUE(std::all_of(seen.begin(), seen.end(), [](int s) { return s == 1; }));
}

int DistinctLabels(const std::vector<int64_t>& idx, const std::vector<int32_t>& y) {
  std::set<int32_t> s;
  for (int64_t i : idx) s.insert(y[i]);
  return s.size();
}

TEST(PartitionTest, EverySplitCoversEveryExampleOnce) {
  const std::vector<int32_t> y = Labels(5000);
  std::mt19937_64 rng(1);
  for (const char* kind : {"iid", "dirichlet", "shards"}) {
    absl::StatusOr<Partition> p = MakePartition(kind, y, 10, 50, 0.5, rng);
    ASSERT_TRUE(p.ok()) << kind;
    EXPECT_EQ(p->size(), 50u);
    ExpectExactCover(*p, 5000);
  }
}

TEST(PartitionTest, SkewFollowsAlphaAndShardsGiveTwoClasses) {
  const std::vector<int32_t> y = Labels(20000);
  std::mt19937_64 rng(2);
  auto mean_distinct = [&](const Partition& p) {
    double s = 0;
    for (const auto& c : p) s += DistinctLabels(c, y);
    return s / p.size();
  };
  const double iid = mean_distinct(IidSplit(y.size(), 100, rng));
  const double mild = mean_distinct(DirichletSplit(y, 10, 100, 10.0, rng));
  const double skewed = mean_distinct(DirichletSplit(y, 10, 100, 0.1, rng));
  EXPECT_EQ(iid, 10);
  EXPECT_GT(mild, 9);
  EXPECT_LT(skewed, 5);
  for (const auto& c : ShardSplit(y, 100, rng)) EXPECT_LE(DistinctLabels(c, y), 2);
}

TEST(PartitionTest, RejectsBadArguments) {
  std::mt19937_64 rng(3);
  const std::vector<int32_t> y = Labels(100);
  EXPECT_THAT(MakePartition("zipf", y, 10, 5, 1, rng),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(MakePartition("dirichlet", y, 10, 5, 0, rng),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(MakePartition("iid", y, 10, 0, 1, rng),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace fedtiny::sim
