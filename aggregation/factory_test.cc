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
      {"trimmed_mean:beta=x", "parameter beta='x' is not a number"},
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

// Issue #9 item 16: integer parameters were read as doubles and truncated, so
// "krum:f=1.5" ran Krum with f = 1; trailing junk, spaces, nan/inf and repeated
// keys must be errors that name the parameter too.
TEST(FactoryTest, RejectsNonIntegersJunkAndRepeats) {
  const std::pair<const char*, const char*> cases[] = {
      {"krum:f=1.5", "parameter f='1.5' is not an integer"},
      {"krum:f=1e0", "parameter f='1e0' is not an integer"},
      {"krum:f=2x", "parameter f='2x' is not an integer"},
      {"krum:f= 2", "parameter f=' 2' is not an integer"},
      {"krum:f=-", "parameter f='-' is not an integer"},
      {"krum:f=", "bad parameter 'f='"},
      {"krum:f=99999999999999999999",
       "parameter f=99999999999999999999 outside"},
      {"krum:f=2147483648", "parameter f=2147483648 outside"},
      {"krum:f=1,f=2", "parameter f given twice"},
      {"multi_krum:f=1,m=2.5", "parameter m='2.5' is not an integer"},
      {"multi_krum:f=1,m=0", "parameter m=0 outside"},
      {"bulyan:f=0.9", "parameter f='0.9' is not an integer"},
      {"nnm:f=1.5+median", "parameter f='1.5' is not an integer"},
      {"geometric_median:iters=10.5",
       "parameter iters='10.5' is not an integer"},
      {"geometric_median:iters=0", "parameter iters=0 outside"},
      {"geometric_median:nu=2", "parameter nu=2 outside"},
      {"centered_clipping:tau=1,iters=2.5",
       "parameter iters='2.5' is not an integer"},
      {"trimmed_mean:beta=0.1junk", "parameter beta='0.1junk' is not a number"},
      {"trimmed_mean:beta=nan", "parameter beta='nan' is not a number"},
      {"trimmed_mean:beta=0x1p-3", "parameter beta='0x1p-3' is not a number"},
      {"trimmed_mean:beta=0.1 ", "parameter beta='0.1 ' is not a number"},
      {"norm_bound:c=inf+fedavg", "parameter c='inf' is not a number"},
      {"norm_bound:c=1e999+fedavg", "parameter c"},
      {"centered_clipping:tau=1e-999", "parameter tau"},
  };
  for (const auto& [spec, why] : cases) {
    EXPECT_THAT(ParseAggregatorSpec(spec),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(why)))
        << spec;
  }
  for (const char* ok :
       {"krum:f=0", "krum:f=007", "multi_krum:f=1,m=1000000",
        "trimmed_mean:beta=.25", "geometric_median:tol=1e-3,nu=0",
        "norm_bound:c=1E2+fedavg"}) {
    EXPECT_THAT(ParseAggregatorSpec(ok), IsOk()) << ok;
  }
}

}  // namespace
}  // namespace fedtiny::aggregation
