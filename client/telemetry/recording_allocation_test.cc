// RecordingPredictor::Predict and Recorder::RecordInference allocate nothing
// per call, recording on (counting the C allocator, which operator new uses;
// the counter sees a vector's allocation, so it is not vacuous).
#include <memory>
#include <vector>

#include "client/core/arena.h"
#include "client/core/model.h"
#include "client/core/predict.h"
#include "client/core/testing/counting_malloc.h"
#include "client/platform/linux/linux_platform.h"
#include "client/telemetry/recorder.h"
#include "client/telemetry/recording_predictor.h"
#include "gtest/gtest.h"

namespace fedtiny::client::telemetry {
namespace {

TEST(RecordingAllocationTest, PredictAndRecordAllocateNothing) {
  Head all = MakeHead({784, 128, 64, 10}, 4);
  Head head;
  head.layers.assign(all.layers.begin() + 1, all.layers.end());
  Body body({all.layers[0]});
  std::vector<unsigned char> block(Predictor::ArenaBytes(body, head, 2));
  Arena arena(block.data(), block.size());
  Predictor* p = *Predictor::Create(body, head, 2, arena);
  FakeClock wall(absl::FromUnixSeconds(1'800'000'000));
  auto rng = MakeSeededRandomness(1);
  auto recorder = *Recorder::Create({}, wall, *rng);
  fedtiny::telemetry::TelemetrySpec spec;
  spec.set_version(1);
  auto* a = spec.add_probes();
  a->set_name("act");
  a->set_kind(fedtiny::telemetry::ACTIVATION);
  a->set_unit(5);
  for (double e : {0.0, 1.0, 2.0}) a->mutable_binning()->add_edges(e);
  a->set_epsilon(1);
  auto* c = spec.add_probes();
  c->set_name("class");
  c->set_kind(fedtiny::telemetry::PREDICTED_CLASS);
  c->mutable_binning()->set_categories(10);
  c->set_epsilon(1);
  ASSERT_TRUE(recorder->SetSpec(spec).ok());
  recorder->set_enabled(true);
  RecordingPredictor rp(*p, *recorder, LinuxPlatform().clock,
                        MacsPerRow(body, head));
  std::vector<float> x(2 * 784, 0.5f);
  ASSERT_TRUE(rp.Predict(x.data(), 2, {}, {}).ok());  // Opens the window.
  {
    fedtiny::testing::AllocationCounter counter;
    for (int i = 0; i < 1000; ++i) {
      if (!rp.Predict(x.data(), 1 + i % 2, {}, {}).ok()) FAIL();
    }
    EXPECT_EQ(counter.count(), 0);
  }
  {
    fedtiny::testing::AllocationCounter counter;
    std::vector<int> v(10);
    EXPECT_GT(counter.count(), 0);  // The counter counts.
  }
  EXPECT_EQ(recorder->Summaries().back().requests, 1001);
}

}  // namespace
}  // namespace fedtiny::client::telemetry
