#include "aggregation/aggregator_state.h"

#include <memory>
#include <random>
#include <string>
#include <vector>

#include "aggregation/factory.h"
#include "aggregation/random_source.h"
#include "gtest/gtest.h"
#include "proto/aggregator_state.pb.h"
#include "tools/base/status_matchers.h"

namespace fedtiny::aggregation {
namespace {

using ::fedtiny::testing::IsOk;
using ::fedtiny::testing::StatusIs;

constexpr int64_t kDim = 7;

std::vector<std::vector<float>> Updates(int n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> g(0, 1);
  std::vector<std::vector<float>> out(n, std::vector<float>(kDim));
  for (auto& u : out) {
    for (float& x : u) x = g(rng);
  }
  return out;
}

std::unique_ptr<Aggregator> Make(const std::string& spec) {
  return *MakeAggregator(spec, kDim);
}

// Three "replicas" each accumulate a shard, save it; a fresh aggregator per
// shard loads the bytes and the first folds the rest in: the report equals
// that of one aggregator fed every update in the same order (the state
// round-trips exactly), and for fedavg also a naive weighted mean.
class StateRoundTrip : public ::testing::TestWithParam<std::string> {};

TEST_P(StateRoundTrip, MergedShardsReportAsOneAggregator) {
  const std::vector<std::vector<float>> updates = Updates(12, 3);
  std::unique_ptr<Aggregator> whole = Make(GetParam());
  std::vector<std::unique_ptr<Aggregator>> shards;
  for (int s = 0; s < 3; ++s) shards.push_back(Make(GetParam()));
  for (size_t i = 0; i < updates.size(); ++i) {
    const double w = 1.0 + static_cast<double>(i % 5);
    ASSERT_THAT(whole->Accumulate(updates[i], w, {}), IsOk());
    ASSERT_THAT(shards[i / 4]->Accumulate(updates[i], w, {}), IsOk());
  }
  std::vector<std::unique_ptr<Aggregator>> loaded;
  for (const auto& shard : shards) {
    absl::StatusOr<std::string> bytes = SaveState(*shard);
    ASSERT_THAT(bytes.status(), IsOk());
    loaded.push_back(Make(GetParam()));
    ASSERT_THAT(LoadState(*bytes, *loaded.back()), IsOk());
    EXPECT_EQ(loaded.back()->num_updates(), 4);
  }
  for (int s = 1; s < 3; ++s) ASSERT_THAT(loaded[0]->MergeWith(std::move(*loaded[s])), IsOk());
  std::unique_ptr<Aggregator> direct = std::move(shards[0]);
  for (int s = 1; s < 3; ++s) ASSERT_THAT(direct->MergeWith(std::move(*shards[s])), IsOk());
  const Eigen::VectorXf got = *loaded[0]->Report();
  EXPECT_EQ(got, *direct->Report());  // Bit for bit: saving loses nothing.
  EXPECT_EQ(loaded[0]->num_updates(), 12);
  if (GetParam() == "fedavg") {
    Eigen::VectorXd naive = Eigen::VectorXd::Zero(kDim);
    double total = 0;
    for (size_t i = 0; i < updates.size(); ++i) {
      const double w = 1.0 + static_cast<double>(i % 5);
      for (int j = 0; j < kDim; ++j) naive[j] += w * updates[i][j];
      total += w;
    }
    for (int j = 0; j < kDim; ++j) EXPECT_NEAR(got[j], naive[j] / total, 1e-6);
  } else {
    EXPECT_TRUE(got.isApprox(*whole->Report(), 1e-5f)) << got.transpose();
  }
}

INSTANTIATE_TEST_SUITE_P(Methods, StateRoundTrip,
                         ::testing::Values("fedavg", "median", "trimmed_mean:beta=0.1",
                                           "krum:f=1", "nnm:f=2+geometric_median",
                                           "norm_bound:c=1.5+fedavg",
                                           "norm_bound:c=1.5+median"));

TEST(AggregatorStateTest, EmptyAggregatorRoundTrips) {
  std::unique_ptr<Aggregator> a = Make("fedavg");
  std::unique_ptr<Aggregator> b = Make("fedavg");
  ASSERT_THAT(LoadState(*SaveState(*a), *b), IsOk());
  EXPECT_EQ(b->num_updates(), 0);
  EXPECT_FALSE(b->CanReport());
}

TEST(AggregatorStateTest, RefusesBadBytesOtherMethodsAndUsedAggregators) {
  std::unique_ptr<Aggregator> median = Make("median");
  ASSERT_THAT(median->Accumulate(Updates(1, 1)[0], 1, {}), IsOk());
  const std::string bytes = *SaveState(*median);
  std::unique_ptr<Aggregator> fedavg = Make("fedavg");
  EXPECT_THAT(LoadState(bytes, *fedavg), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(LoadState("\xff\xff garbage", *Make("median")),
              StatusIs(absl::StatusCode::kInvalidArgument));
  std::unique_ptr<Aggregator> wide = *MakeAggregator("median", kDim + 1);
  EXPECT_THAT(LoadState(bytes, *wide), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(LoadState(bytes, *median), StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_EQ(median->num_updates(), 1);  // Unchanged.

  // A NaN smuggled into saved rows is refused as Accumulate would refuse it.
  v1::AggregatorState s;
  ASSERT_TRUE(s.ParseFromString(bytes));
  s.set_rows(0, std::numeric_limits<float>::quiet_NaN());
  std::unique_ptr<Aggregator> fresh = Make("median");
  EXPECT_THAT(LoadState(s.SerializeAsString(), *fresh),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_EQ(fresh->num_updates(), 0);

  // A fedavg state whose count and weight disagree.
  std::unique_ptr<Aggregator> avg = Make("fedavg");
  ASSERT_THAT(avg->Accumulate(Updates(1, 2)[0], 2, {}), IsOk());
  ASSERT_TRUE(s.ParseFromString(*SaveState(*avg)));
  s.set_total_weight(0);
  EXPECT_THAT(LoadState(s.SerializeAsString(), *Make("fedavg")),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(AggregatorStateTest, DpFedAvgHasNoState) {
  SeededRandomSource noise(1);
  std::unique_ptr<Aggregator> dp = *MakeAggregator("dp_fedavg:clip=1,noise=1", kDim, {&noise});
  EXPECT_THAT(SaveState(*dp).status(), StatusIs(absl::StatusCode::kUnimplemented));
  EXPECT_THAT(LoadState(*SaveState(*Make("fedavg")), *dp),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace fedtiny::aggregation
