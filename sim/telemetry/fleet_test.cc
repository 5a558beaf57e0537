// A small fleet in process (5,000 devices, 20% gateways, 2 daily windows,
// epsilon 2 per drift probe, fixed seeds): the drifted class is flagged in
// the window the drift starts, and nothing is flagged before it or for the
// clean class.
#include "sim/telemetry/fleet.h"

#include <memory>

#include "gtest/gtest.h"
#include "sim/fashion_mnist.h"
#include "sim/telemetry/image_drift.h"
#include "sim/telemetry/model_author.h"
#include "sim/telemetry/sweep.h"

namespace fedtiny::sim::telemetry {
namespace {

class FleetTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    absl::StatusOr<FashionMnist> data = LoadFashionMnist();
    ASSERT_TRUE(data.ok()) << data.status();
    data_ = new FashionMnist(*std::move(data));
    AuthorOptions author;  // 12,000 images, 2 epochs, 2 activation probes.
    absl::StatusOr<AuthoredModel> model = TrainAndAuthor(*data_, author);
    ASSERT_TRUE(model.ok()) << model.status();
    model_ = new AuthoredModel(*std::move(model));
  }
  static void TearDownTestSuite() {
    delete model_;
    delete data_;
  }

  static FleetResult Run(const std::string& drift, uint64_t seed) {
    FleetOptions o;
    o.devices = 5000;
    o.windows = 2;
    o.drift = *ParseDrift(drift);
    o.drift_class = kGateway;
    o.drift_from_window = 1;
    o.seed = seed;
    absl::StatusOr<FleetResult> r = RunFleet(*model_, data_->test, o);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *std::move(r) : FleetResult{};
  }

  static const ClassWindow& Row(const FleetResult& r, int window,
                                const std::string& c) {
    for (const ClassWindow& row : r.rows)
      if (row.window == window && row.device_class == c) return row;
    ADD_FAILURE() << "no row for window " << window << " class " << c;
    return r.rows.front();
  }

  static FashionMnist* data_;
  static AuthoredModel* model_;
};
FashionMnist* FleetTest::data_ = nullptr;
AuthoredModel* FleetTest::model_ = nullptr;

TEST_F(FleetTest, TheAuthorsModelAndSpec) {
  EXPECT_GT(model_->test_accuracy, 0.75);
  ASSERT_EQ(model_->spec.probes_size(), 4);  // Class, 2 activations, latency.
  double sum = 0;
  for (const auto& p : model_->spec.probes()) sum += p.epsilon();
  EXPECT_DOUBLE_EQ(sum, model_->spec.daily_epsilon());
  EXPECT_EQ(model_->spec.probes(0).epsilon(), 2);
  // Activation bins at deciles, the ReLU's zeros merged into bin 0: every
  // other bin holds about a tenth of the clean data.
  const auto& reference = model_->spec.probes(1).reference();
  ASSERT_GE(reference.size(), 3);
  sum = 0;
  for (int i = 0; i < reference.size(); ++i) {
    sum += reference[i];
    EXPECT_GT(reference[i], 0) << i;
    if (i > 0) EXPECT_LT(reference[i], 0.15) << i;
  }
  EXPECT_NEAR(sum, 1, 1e-9);
}

TEST_F(FleetTest, BrightnessOnTheGatewaysIsFlaggedInTheOnsetWindow) {
  for (uint64_t seed : {1, 2}) {
    SCOPED_TRACE(seed);
    const FleetResult r = Run("brightness", seed);
    ASSERT_EQ(r.rows.size(), 4u);
    EXPECT_EQ(r.reports_sent, 10000);
    EXPECT_EQ(Row(r, 0, kGateway).reports, 1000);
    EXPECT_EQ(Row(r, 1, kGateway).drifted_devices, 1000);
    EXPECT_EQ(Row(r, 1, kGateway).alert, "drift");
    EXPECT_EQ(FirstDetection(r, 1), 1);
    for (const auto& [w, c] :
         {std::pair{0, kGateway}, {0, kPhone}, {1, kPhone}}) {
      EXPECT_NE(Row(r, w, c).alert, "drift") << "window " << w << " " << c;
      EXPECT_NE(Row(r, w, c).alert, "insufficient_data");
    }
    const AlarmCount clean = CountFalseAlarms(r);
    EXPECT_EQ(clean.verdicts,
              9);  // (window 0: both classes; 1: phone) x 3 probes.
    EXPECT_EQ(clean.alarms, 0);
  }
}

TEST_F(FleetTest, LabelShiftMovesThePredictedClasses) {
  const FleetResult r = Run("label", 3);
  const ClassWindow& drifted = Row(r, 1, kGateway);
  EXPECT_EQ(drifted.alert, "drift");
  ASSERT_FALSE(drifted.probes.empty());
  EXPECT_EQ(drifted.probes[0].probe, "class");
  EXPECT_EQ(drifted.probes[0].alert, "drift");
  EXPECT_GT(drifted.probes[0].psi, drifted.probes[0].null_psi_99);
  EXPECT_NE(Row(r, 1, kPhone).alert, "drift");
  EXPECT_NE(Row(r, 0, kGateway).alert, "drift");
}

TEST_F(FleetTest, NoDriftNoAlarm) {
  const FleetResult r = Run("none", 4);
  EXPECT_EQ(FirstDetection(r, 0), -1);
  EXPECT_EQ(CountFalseAlarms(r).alarms, 0);
  EXPECT_EQ(CountFalseAlarms(r).verdicts, 12);
}

}  // namespace
}  // namespace fedtiny::sim::telemetry
