#include "aggregation/factory.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "aggregation/dp_fedavg.h"
#include "aggregation/norm_bounding.h"
#include "aggregation/random_source.h"
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
      {"dp_fedavg:clip=2,noise=0.5", "dp_fedavg(c=2,z=0.5)"},
      {"norm_bound:c=3+dp_fedavg:clip=2,noise=1,clients=50",
       "norm_bound(c=3)+dp_fedavg(c=2,z=1)"},
      {"norm_bound:c=10+nnm:f=2+median", "norm_bound(c=10)+nnm(f=2)+median"},
  };
  SeededRandomSource random(1);
  for (const auto& [spec, name] : cases) {
    absl::StatusOr<std::unique_ptr<Aggregator>> agg =
        MakeAggregator(spec, 8, {&random});
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
      {"median+fedavg", "'median' is a method, not a pre-aggregation stage"},
      {"norm_bound:c=1", "'norm_bound' is a pre-aggregation stage; a spec must end"},
      {"fedavg+", "empty aggregator stage"},
      {"cfl", "unknown aggregator 'cfl' (methods: fedavg, median"},
      {"median:beta=0.1", "no parameter 'beta' (it takes: none)"},
      {"krum:f=1,m=2", "no parameter 'm' (it takes: f)"},
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

TEST(FactoryTest, EveryRegisteredNameIsReachable) {
  const std::vector<std::string> names = RegisteredAggregatorNames();
  EXPECT_EQ(names.size(), 11u);
  for (const char* n : {"fedavg", "median", "trimmed_mean", "krum", "multi_krum",
                        "geometric_median", "centered_clipping", "bulyan",
                        "dp_fedavg", "norm_bound", "nnm"}) {
    EXPECT_NE(std::find(names.begin(), names.end(), n), names.end()) << n;
  }
}

TEST(FactoryTest, DpFedAvgNeedsRandomnessAndStrictKeys) {
  EXPECT_THAT(ParseAggregatorSpec("dp_fedavg:clip=1,noise=1"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("'dp_fedavg' draws noise and needs a RandomSource")));
  // A config check has no RandomSource yet, and does not need one.
  EXPECT_THAT(ValidateAggregatorSpec("dp_fedavg:clip=1,noise=1"), IsOk());
  SeededRandomSource random(3);
  const std::pair<const char*, const char*> cases[] = {
      {"dp_fedavg:noise=1", "needs parameter 'clip'"},
      {"dp_fedavg:clip=1", "needs parameter 'noise'"},
      {"dp_fedavg:clip=0,noise=1", "parameter clip=0 outside"},
      {"dp_fedavg:clip=1,noise=-1", "parameter noise=-1 outside"},
      {"dp_fedavg:clip=1,noise=1,clients=0", "parameter clients=0 outside"},
      {"dp_fedavg:clip=1,noise=1,quantile=0.5",
       "no parameter 'quantile' (it takes: clip, noise, clients)"},
      {"nnm:f=1+dp_fedavg:clip=1,noise=1", "'dp_fedavg' may not follow 'nnm'"},
      {"nnm:f=1+norm_bound:c=1+dp_fedavg:clip=1,noise=1",
       "'dp_fedavg' may not follow 'nnm'"},
  };
  for (const auto& [spec, why] : cases) {
    EXPECT_THAT(ParseAggregatorSpec(spec, {&random}),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(why)))
        << spec;
    EXPECT_THAT(ValidateAggregatorSpec(spec),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(why)))
        << spec;
  }
}

// Without noise the release is the clipped sum over the expected clients, a
// closed form: [3,4] (norm 5) clipped to 1 is [0.6,0.8]; [0.3,0] is kept.
TEST(FactoryTest, DpFedAvgSpecClipsAndDividesByExpectedClients) {
  SeededRandomSource random(5);
  std::unique_ptr<Aggregator> agg =
      *MakeAggregator("dp_fedavg:clip=1,noise=0,clients=4", 2, {&random});
  ASSERT_THAT(agg->Accumulate({{3.f, 4.f}}, 7, {}), IsOk());
  ASSERT_THAT(agg->Accumulate({{0.3f, 0.f}}, 1, {}), IsOk());
  Eigen::VectorXf r = *agg->Report();
  EXPECT_NEAR(r[0], (0.6 + 0.3) / 4, 1e-6);
  EXPECT_NEAR(r[1], 0.8 / 4, 1e-6);
}

// With noise, the spec's aggregator draws from the injected source exactly as
// one built by hand with the same options and seed.
TEST(FactoryTest, DpFedAvgSpecDrawsFromTheInjectedSource) {
  SeededRandomSource a(11);
  std::unique_ptr<Aggregator> from_spec =
      *MakeAggregator("dp_fedavg:clip=2,noise=1.5", 64, {&a});
  DpFedAvgOptions o;
  o.clip_norm = 2;
  o.noise_multiplier = 1.5;
  DpFedAvgAggregator by_hand(64, o, std::make_shared<SeededRandomSource>(11));
  std::vector<float> u(64, 0.5f);
  ASSERT_THAT(from_spec->Accumulate(u, 1, {}), IsOk());
  ASSERT_THAT(by_hand.Accumulate(u, 1, {}), IsOk());
  Eigen::VectorXf x = *from_spec->Report(), y = *by_hand.Report();
  EXPECT_EQ(x, y);
  // The noise is really there: stddev 3 per coordinate around 2 * 0.5 / 8.
  const double spread =
      std::sqrt((x.array() - 0.125f).square().mean());
  EXPECT_GT(spread, 1.5);
  EXPECT_LT(spread, 4.5);
}

}  // namespace
}  // namespace fedtiny::aggregation
