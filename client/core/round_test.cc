#include "client/core/round.h"

#include <cmath>
#include <limits>

#include "gtest/gtest.h"
#include "client/platform/linux/status_bridge.h"
#include "tools/base/status_matchers.h"

namespace fedtiny::client {
namespace {

using ::fedtiny::testing::IsOk;
using ::fedtiny::testing::StatusIs;

struct Data {
  RowMatrixXf x;
  std::vector<int32_t> y;
};

Data Examples(int n) {
  Data d;
  d.x = RowMatrixXf::Random(n, 6);
  for (int i = 0; i < n; ++i) d.y.push_back(i % 3);
  return d;
}

TEST(RunRoundTest, DeltaIsTrainedMinusReceivedInFlatOrderAndMetricsAreNamed) {
  const Head h = MakeHead({6, 5, 3}, 7);
  const Data d = Examples(20);
  Head seen;
  StatusOr<DeviceUpdate> u = RunRound({h}, d.x, d.y, 0, [&](int cluster, Head& head) {
    EXPECT_EQ(cluster, 0);
    for (DenseLayer& l : head.layers) l.w.array() += 0.5f;  // A known "training" step.
    seen = head;
    TrainResult r;
    r.examples_seen = 20;
    r.mean_loss = 1.25;
    r.correct = 15;
    return StatusOr<LocalTraining>(LocalTraining{true, "", r});
  });
  ASSERT_THAT(u, IsOk());
  const std::vector<float> a = seen.Flatten(), b = h.Flatten();
  ASSERT_EQ(u->delta.size(), b.size());
  for (size_t i = 0; i < b.size(); ++i) EXPECT_FLOAT_EQ(u->delta[i], a[i] - b[i]) << i;
  EXPECT_EQ(u->example_count, 20);
  ASSERT_EQ(u->metrics.size(), 2u);
  EXPECT_EQ(u->metrics[0].first, "train_loss");
  EXPECT_DOUBLE_EQ(u->metrics[0].second, 1.25);
  EXPECT_EQ(u->metrics[1].first, "train_accuracy");
  EXPECT_DOUBLE_EQ(u->metrics[1].second, 0.75);
}

TEST(RunRoundTest, ClipsToThePlanNormAndRefusesNonFiniteUpdates) {
  const Head h = MakeHead({6, 5, 3}, 7);
  const Data d = Examples(10);
  auto big = [](int, Head& head) {
    for (DenseLayer& l : head.layers) l.b.array() += 3.f;
    return StatusOr<LocalTraining>(LocalTraining{});
  };
  StatusOr<DeviceUpdate> u = RunRound({h}, d.x, d.y, 0.5, big);
  ASSERT_THAT(u, IsOk());
  double sq = 0;
  for (float v : u->delta) sq += double{v} * v;
  EXPECT_NEAR(std::sqrt(sq), 0.5, 1e-6);  // Unclipped it is 3 * sqrt(8).
  auto nan = [](int, Head& head) {
    head.layers[0].w(0, 0) = std::numeric_limits<float>::quiet_NaN();
    return StatusOr<LocalTraining>(LocalTraining{});
  };
  EXPECT_THAT(RunRound({h}, d.x, d.y, 0, nan), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(RunRoundTest, PicksTheHeadWithTheLowestLocalLossAndPausesWithoutAnUpdate) {
  const Data d = Examples(30);
  const Head bad = MakeHead({6, 5, 3}, 1);
  Head good = bad;
  // Make head 1 predict the labels (i % 3) from nothing: a huge bias on the
  // right class is impossible per example, so train it briefly instead.
  StatusOr<std::unique_ptr<HeadTrainer>> t = HeadTrainer::Create(good, TrainPlan{30, 5, 0.1f});
  ASSERT_THAT(t, IsOk());
  TrainState state;
  ASSERT_THAT((*t)->Train(good, d.x, d.y, [] { return true; }, state), IsOk());
  StatusOr<DeviceUpdate> u = RunRound({bad, good}, d.x, d.y, 0, [](int cluster, Head&) {
    EXPECT_EQ(cluster, 1);
    return StatusOr<LocalTraining>(LocalTraining{false, "unplugged", {}});
  });
  ASSERT_THAT(u, IsOk());
  EXPECT_EQ(u->cluster, 1);
  EXPECT_FALSE(u->completed);
  EXPECT_EQ(u->why_stopped, "unplugged");
  EXPECT_TRUE(u->delta.empty());
}

}  // namespace
}  // namespace fedtiny::client
