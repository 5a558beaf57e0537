// The bar of docs/experiments.md at its smallest fleet (manual: about a
// minute and a half): 1,000 devices, the gateways (20%) drift from window 10
// of 20, epsilon 2 per drift probe, 10 seeds. Every run flags the drift in
// the onset window; false alarms stay under 1% over the drift-free runs.
#include <memory>

#include "gtest/gtest.h"
#include "sim/fashion_mnist.h"
#include "sim/telemetry/fleet.h"
#include "sim/telemetry/image_drift.h"
#include "sim/telemetry/model_author.h"
#include "sim/telemetry/sweep.h"

namespace fedtiny::sim::telemetry {
namespace {

TEST(DriftBar, DetectedInOneWindowWithUnderOnePercentFalseAlarms) {
  absl::StatusOr<FashionMnist> data = LoadFashionMnist();
  ASSERT_TRUE(data.ok()) << data.status();
  absl::StatusOr<AuthoredModel> model = TrainAndAuthor(*data, AuthorOptions{});
  ASSERT_TRUE(model.ok()) << model.status();
  FleetOptions o;
  o.devices = 1000;
  o.windows = 20;
  o.drift_from_window = 10;
  absl::StatusOr<SweepScores> s =
      Sweep(*model, data->test, o,
            {*ParseDrift("brightness"), *ParseDrift("label")}, 10);
  ASSERT_TRUE(s.ok()) << s.status();
  ASSERT_GT(s->drift_free.verdicts, 1000);
  EXPECT_LT(100 * s->drift_free.alarms, s->drift_free.verdicts);
  for (const DriftScore& d : s->drifts) {
    SCOPED_TRACE(DriftName(d.drift));
    EXPECT_EQ(d.in_onset_window, 10);
    EXPECT_LT(100 * d.in_drifted_runs.alarms, d.in_drifted_runs.verdicts);
  }
}

}  // namespace
}  // namespace fedtiny::sim::telemetry
