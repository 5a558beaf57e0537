#include "aggregation/factory.h"

#include "gtest/gtest.h"
#include "tools/base/status_matchers.h"

namespace fedtiny::aggregation {
namespace {

using ::fedtiny::testing::IsOk;
using ::fedtiny::testing::StatusIs;
using ::testing::HasSubstr;

TEST(FactoryTest, BuildsEveryMethodWithItsName) {
  const std::pair<const char*, const char*> cases[] = {
      {"fedavg", "fedavg"},
      {"median", "median"},
      {"trimmed_mean:beta=0.2", "trimmed_mean(beta=0.2)"},
      {"krum:f=2", "krum(f=2)"},
      {"multi_krum:f=2,m=4", "multi_krum(f=2,m=4)"},
      {"geometric_median", "geometric_median(tol=1e-05)"},
      {"centered_clipping:tau=3", "centered_clipping(tau=3,iters=1)"},
      {"bulyan:f=1", "bulyan(f=1)"},
      {"norm_bound:c=10+nnm:f=2+median", "norm_bound(c=10)+nnm(f=2)+median"},
  };
  for (const auto& [spec, name] : cases) {
    absl::StatusOr<std::unique_ptr<Aggregator>> agg = MakeAggregator(spec, 8);
    ASSERT_THAT(agg, IsOk()) << spec;
    EXPECT_EQ((*agg)->Name(), name);
    EXPECT_EQ((*agg)->dim(), 8);
  }
}

TEST(FactoryTest, RejectsBadSpecsClearly) {
  const std::pair<const char*, const char*> cases[] = {
      {"", "empty"},
      {"mean", "unknown aggregator 'mean'"},
      {"trimmed_mean", "needs parameter 'beta'"},
      {"trimmed_mean:beta=0.5", "outside"},
      {"trimmed_mean:beta=x", "bad parameter"},
      {"median:beta=0.1", "no parameter 'beta'"},
      {"krum:f=-1", "outside"},
      {"median+fedavg", "unknown pre-aggregation stage 'median'"},
      {"norm_bound:c=0+fedavg", "outside"},
  };
  for (const auto& [spec, why] : cases) {
    EXPECT_THAT(ParseAggregatorSpec(spec),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(why)))
        << spec;
  }
}

}  // namespace
}  // namespace fedtiny::aggregation
