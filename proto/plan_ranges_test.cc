#include "proto/plan_ranges.h"

#include <cmath>
#include <functional>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tools/base/status_matchers.h"

namespace fedtiny {
namespace {

using ::fedtiny::testing::IsOk;
using ::fedtiny::testing::StatusIs;
using ::testing::HasSubstr;

v1::Plan Sane() {
  v1::Plan p;
  p.set_epochs(1);
  p.set_batch_size(10);
  p.set_learning_rate(0.05f);
  return p;
}

TEST(PlanRangesTest, AcceptsTheEdges) {
  v1::Plan high;
  high.set_epochs(PlanRanges::kMaxEpochs);
  high.set_batch_size(PlanRanges::kMaxBatchSize);
  high.set_learning_rate(PlanRanges::kMaxLearningRate);
  high.set_momentum(PlanRanges::kMaxMomentum);
  high.set_proximal_mu(PlanRanges::kMaxProximalMu);
  high.set_clip_norm(PlanRanges::kMaxClipNorm);
  EXPECT_THAT(CheckPlan(high), IsOk());
  v1::Plan low = Sane();
  low.set_batch_size(1);
  low.set_learning_rate(1e-30f);
  EXPECT_THAT(CheckPlan(low), IsOk());
}

TEST(PlanRangesTest, NamesTheFirstFieldOutside) {
  const struct {
    const char* field;
    std::function<void(v1::Plan&)> edit;
  } cases[] = {
      {"epochs", [](v1::Plan& p) { p.set_epochs(0); }},
      {"epochs", [](v1::Plan& p) { p.set_epochs(PlanRanges::kMaxEpochs + 1); }},
      {"batch_size", [](v1::Plan& p) { p.set_batch_size(PlanRanges::kMaxBatchSize + 1); }},
      {"learning_rate", [](v1::Plan& p) { p.set_learning_rate(0); }},
      {"learning_rate", [](v1::Plan& p) { p.set_learning_rate(NAN); }},
      {"momentum", [](v1::Plan& p) { p.set_momentum(1); }},
      {"proximal_mu", [](v1::Plan& p) { p.set_proximal_mu(-1); }},
      {"clip_norm", [](v1::Plan& p) { p.set_clip_norm(INFINITY); }},
  };
  for (const auto& c : cases) {
    v1::Plan p = Sane();
    c.edit(p);
    EXPECT_THAT(CheckPlan(p), StatusIs(absl::StatusCode::kInvalidArgument,
                                       HasSubstr(c.field)))
        << c.field;
  }
}

}  // namespace
}  // namespace fedtiny
