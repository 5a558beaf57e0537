// PersonalizeHead: a personal head that helps where local data differs from
// the fleet's, the global head kept where nothing beats it, Ditto's pull.
#include "client/core/personalization.h"

#include <cmath>
#include <random>
#include <vector>

#include "client/platform/linux/status_bridge.h"
#include "gtest/gtest.h"
#include "tools/base/status_matchers.h"

namespace fedtiny::client {
namespace {

using ::fedtiny::testing::IsOk;
using ::fedtiny::testing::StatusIs;

struct Data {
  RowMatrixXf x;
  std::vector<int32_t> y;
};

// n examples of the listed classes (uniformly), 8 features: N(mean_c, 1) with
// mean_c = 3 e_c, except that classes 0 and 2 share 3 e_0, so no head can tell
// them apart from the inputs alone; only the local label mix can.
Data Sample(int n, const std::vector<int>& classes, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> g;
  Data d{RowMatrixXf(n, 8), std::vector<int32_t>(static_cast<size_t>(n))};
  for (int i = 0; i < n; ++i) {
    const int c = classes[rng() % classes.size()];
    d.y[static_cast<size_t>(i)] = c;
    const int at = c == 2 ? 0 : c;
    for (int j = 0; j < 8; ++j) d.x(i, j) = g(rng) + 3.f * (j == at);
  }
  return d;
}

Head TrainedGlobal() {
  // Class 0 twice as common as 2 in the fleet: the global head says 0.
  const Data fleet = Sample(2000, {0, 0, 1, 2, 3}, 1);
  Head h = MakeHead({8, 16, 4}, 2);
  auto trainer = HeadTrainer::Create(h, TrainPlan{5, 10, 0.1f, 0, 0, 3});
  TrainState state;
  EXPECT_TRUE(trainer.ok());
  EXPECT_TRUE((*trainer)->Train(h, fleet.x, fleet.y, [] { return true; }, state).ok());
  return h;
}

double Accuracy(const Head& h, const Data& d) { return Evaluate(h, d.x, d.y)->accuracy; }

double Distance(const Head& a, const Head& b) {
  const std::vector<float> x = a.Flatten(), y = b.Flatten();
  double s = 0;
  for (size_t i = 0; i < x.size(); ++i) s += (x[i] - y[i]) * (x[i] - y[i]);
  return std::sqrt(s);
}

TEST(PersonalizeHeadTest, LearnsTheLocalLabelMixTheGlobalHeadCannotKnow) {
  const Head global = TrainedGlobal();
  // This device sees classes 2 and 1 only: its look-alikes of 0 are 2s.
  const Data local = Sample(80, {2, 1}, 4), fresh = Sample(1000, {2, 1}, 5);
  PersonalizationPlan plan;
  plan.seed = 6;
  StatusOr<PersonalHead> p = PersonalizeHead(global, local.x, local.y, plan);
  ASSERT_THAT(p, IsOk());
  EXPECT_NE(p->method, PersonalMethod::kGlobal);
  EXPECT_EQ(p->validation_examples, 80);  // Each held out once, by one of 4 folds.
  EXPECT_GT(p->method == PersonalMethod::kDitto ? p->ditto_epochs : p->last_layer_epochs, 0);
  // Every candidate's start is the global head: its best is never below.
  EXPECT_FALSE(p->global.BetterThan(p->last_layer));
  EXPECT_FALSE(p->global.BetterThan(p->ditto));
  // The global head calls the 2s 0 (about 50% here); the personal
  // head, scored on examples it never saw, does not.
  const double g = Accuracy(global, fresh), mine = Accuracy(p->head, fresh);
  EXPECT_LT(g, 0.7);
  EXPECT_GT(mine, g + 0.25);
  // The same seed gives the same head.
  StatusOr<PersonalHead> again = PersonalizeHead(global, local.x, local.y, plan);
  ASSERT_THAT(again, IsOk());
  EXPECT_EQ(again->head.Flatten(), p->head.Flatten());
}

TEST(PersonalizeHeadTest, KeepsTheGlobalHeadWhenNothingBeatsIt) {
  const Head global = TrainedGlobal();
  const Data local = Sample(80, {0, 1}, 4);
  PersonalizationPlan plan;
  plan.learning_rate = 1e-12f;  // Training moves nothing: every score ties.
  StatusOr<PersonalHead> p = PersonalizeHead(global, local.x, local.y, plan);
  ASSERT_THAT(p, IsOk());
  EXPECT_EQ(p->method, PersonalMethod::kGlobal);
  EXPECT_EQ(p->head.Flatten(), global.Flatten());
  // Too few examples to hold any out: the global head, untouched.
  const Data few = Sample(5, {0, 1}, 7);
  p = PersonalizeHead(global, few.x, few.y, PersonalizationPlan());
  ASSERT_THAT(p, IsOk());
  EXPECT_EQ(p->method, PersonalMethod::kGlobal);
  EXPECT_EQ(p->validation_examples, 0);
}

TEST(PersonalizeHeadTest, DittosProximalWeightKeepsThePersonalHeadNearTheGlobal) {
  const Head global = TrainedGlobal();
  const Data local = Sample(80, {2, 1}, 4);
  PersonalizationPlan loose, tight;
  loose.last_layer = tight.last_layer = false;  // Ditto alone.
  loose.ditto_lambda = 0.01f;
  tight.ditto_lambda = 20.f;
  loose.patience = tight.patience = loose.max_epochs = tight.max_epochs = 20;
  StatusOr<PersonalHead> a = PersonalizeHead(global, local.x, local.y, loose);
  StatusOr<PersonalHead> b = PersonalizeHead(global, local.x, local.y, tight);
  ASSERT_THAT(a, IsOk());
  ASSERT_THAT(b, IsOk());
  ASSERT_EQ(a->method, PersonalMethod::kDitto);
  if (b->method == PersonalMethod::kDitto) {
    EXPECT_LT(Distance(b->head, global), 0.5 * Distance(a->head, global));
  } else {
    EXPECT_EQ(b->head.Flatten(), global.Flatten());
  }
}

TEST(PersonalizeHeadTest, RefusesABadPlanOrData) {
  const Head global = TrainedGlobal();
  const Data local = Sample(40, {0, 1}, 4);
  PersonalizationPlan bad;
  bad.folds = 1;
  EXPECT_THAT(PersonalizeHead(global, local.x, local.y, bad),
              StatusIs(absl::StatusCode::kInvalidArgument));
  bad = PersonalizationPlan();
  bad.learning_rate = std::nanf("");
  EXPECT_THAT(PersonalizeHead(global, local.x, local.y, bad),
              StatusIs(absl::StatusCode::kInvalidArgument));
  const Data wide{RowMatrixXf::Zero(40, 9), local.y};
  EXPECT_THAT(PersonalizeHead(global, wide.x, wide.y, PersonalizationPlan()),
              StatusIs(absl::StatusCode::kInvalidArgument));
  std::vector<int32_t> out_of_range = local.y;
  out_of_range[0] = 7;
  EXPECT_FALSE(PersonalizeHead(global, local.x, out_of_range, PersonalizationPlan()).ok());
}

}  // namespace
}  // namespace fedtiny::client
