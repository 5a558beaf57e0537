// The participant against a hostile coordinator over real gRPC on loopback:
// plans outside the documented ranges, too many bundles, models too big for the
// device's memory. Each is refused before it costs anything, reported to the
// server, and returned as a clear status.
#include "client/transport/participant.h"

#include <atomic>
#include <cmath>
#include <limits>
#include <string>

#include "client/transport/hostile_federation.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tools/base/status_matchers.h"
#include "tools/base/update_codec.h"

namespace fedtiny::client {
namespace {

using ::fedtiny::client::testing::AssignmentFor;
using ::fedtiny::client::testing::HostileFederation;
using ::fedtiny::client::testing::ModelBytes;
using ::fedtiny::client::testing::Script;
using ::fedtiny::client::testing::Seen;
using ::fedtiny::testing::IsOk;
using ::fedtiny::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::SizeIs;

// Eligible for its first `budget` reads, then unplugged: a plan that would
// train forever pauses instead of hanging the test.
class Unplugs final : public DeviceState {
 public:
  explicit Unplugs(int budget) : budget_(budget) {}
  DeviceStatus Read() const override {
    const bool plugged = reads_.fetch_add(1) < budget_;
    return DeviceStatus{plugged, true, true, 90, false};
  }

 private:
  const int budget_;
  mutable std::atomic<int> reads_{0};
};

struct Device {
  explicit Device(const HostileFederation& server, DeviceLimits limits = {}) {
    SessionOptions o;
    o.address = server.address();
    o.insecure = true;
    o.call_deadline = absl::Seconds(5);
    DeviceProfile p{"device", "phones"};
    p.limits = limits;
    static int devices =
        0;  // A checkpoint file per device: none resumes another's.
    participant =
        std::make_unique<Participant>(p, o, &state,
                                      std::string(std::getenv("TEST_TMPDIR")) +
                                          "/ckpt-" + std::to_string(devices++));
  }
  RoundResult Run() {
    RowMatrixXf x = RowMatrixXf::Ones(8, 6);
    for (int i = 0; i < 8; ++i) x(i, i % 6) = 3;
    const std::vector<int32_t> y = {0, 1, 2, 0, 1, 2, 0, 1};
    return participant->RunOnce(x, y);
  }
  Unplugs state{1000};
  std::unique_ptr<Participant> participant;
};

Script WithPlan(const v1::Plan& plan) {
  Script s;
  s.bundle = ModelBytes({6, 3});
  s.check_in = AssignmentFor(s.bundle);
  *s.check_in.mutable_assignment()->mutable_plan() = plan;
  return s;
}

v1::Plan SanePlan() { return AssignmentFor("x").assignment().plan(); }

struct BadPlan {
  const char* field;
  void (*spoil)(v1::Plan&);
};

TEST(ParticipantTest, RefusesAndReportsPlansOutsideTheRanges) {
  const float inf = std::numeric_limits<float>::infinity();
  const float nan = std::numeric_limits<float>::quiet_NaN();
  static float bad_float;  // Read by the captureless lambdas below.
  const BadPlan cases[] = {
      {"epochs",
       [](v1::Plan& p) { p.set_epochs(std::numeric_limits<int32_t>::max()); }},
      {"epochs", [](v1::Plan& p) { p.set_epochs(0); }},
      {"batch_size",
       [](v1::Plan& p) {
         p.set_batch_size(std::numeric_limits<int32_t>::max());
       }},
      {"batch_size", [](v1::Plan& p) { p.set_batch_size(-1); }},
      {"learning_rate", [](v1::Plan& p) { p.set_learning_rate(1e30f); }},
      {"learning_rate", [](v1::Plan& p) { p.set_learning_rate(bad_float); }},
      {"momentum", [](v1::Plan& p) { p.set_momentum(1); }},
      {"proximal_mu", [](v1::Plan& p) { p.set_proximal_mu(bad_float); }},
      {"clip_norm", [](v1::Plan& p) { p.set_clip_norm(bad_float); }},
  };
  for (float f : {inf, nan}) {
    bad_float = f;
    for (const BadPlan& c : cases) {
      v1::Plan plan = SanePlan();
      c.spoil(plan);
      SCOPED_TRACE(plan.ShortDebugString());
      HostileFederation server(WithPlan(plan));
      Device device(server);
      const RoundResult r = device.Run();
      EXPECT_EQ(r.kind, RoundResult::Kind::kFailed) << r.why;
      EXPECT_THAT(r.status, StatusIs(absl::StatusCode::kInvalidArgument,
                                     HasSubstr(c.field)));
      const Seen seen = server.seen();
      EXPECT_EQ(seen.downloads, 0)
          << "the plan was not refused before downloading";
      EXPECT_EQ(seen.uploads, 0);
      EXPECT_THAT(seen.failure_reasons, ElementsAre(HasSubstr(c.field)));
    }
  }
}

TEST(ParticipantTest, PlansAtTheEdgesOfTheRangesAreAccepted) {
  v1::Plan low;
  low.set_epochs(1);
  low.set_batch_size(1);
  low.set_learning_rate(1e-6f);
  v1::Plan high;
  high.set_epochs(PlanRanges::kMaxEpochs);
  high.set_batch_size(PlanRanges::kMaxBatchSize);
  high.set_learning_rate(0.01f);
  high.set_momentum(PlanRanges::kMaxMomentum);
  high.set_proximal_mu(0.01f);
  high.set_clip_norm(PlanRanges::kMaxClipNorm);
  EXPECT_THAT(CheckPlan(low), IsOk());
  EXPECT_THAT(CheckPlan(high), IsOk());
  v1::Plan hot = high;
  hot.set_learning_rate(PlanRanges::kMaxLearningRate);
  hot.set_proximal_mu(PlanRanges::kMaxProximalMu);
  EXPECT_THAT(CheckPlan(hot), IsOk());
  HostileFederation server(WithPlan(high));
  Device device(server);
  const RoundResult r = device.Run();
  EXPECT_EQ(r.kind, RoundResult::Kind::kUploaded) << r.why;
  EXPECT_EQ(server.seen().uploads, 1);
}

// The assignment's compression decides the upload's form (docs/client.md).
TEST(ParticipantTest, CompressesTheUploadAsTheAssignmentAsks) {
  Script s = WithPlan(SanePlan());
  s.check_in.mutable_assignment()->set_compression("hadamard:bits=2");
  HostileFederation server(s);
  Device device(server);
  const RoundResult r = device.Run();
  ASSERT_EQ(r.kind, RoundResult::Kind::kUploaded) << r.why;
  const v1::UploadRequest& up = server.seen().last_upload;
  EXPECT_TRUE(up.delta().empty());
  CompressionSpec spec;
  std::string error;
  ASSERT_TRUE(ParseCompressionSpec("hadamard:bits=2", &spec, &error));
  const v1::Assignment& a = s.check_in.assignment();
  std::vector<float> delta;  // A 6-3 head: 21 values, padded to 32.
  EXPECT_TRUE(DecodeCompressed(up.compressed_delta(), spec, 21,
                               CompressionSeed(a.task(), a.round(), a.upload_token()), &delta, &error))
      << error;
}

TEST(ParticipantTest, ADivergedUpdateIsReportedNotUploaded) {
  // Inside the ranges, but lr * mu = 1000 makes every proximal step overshoot.
  v1::Plan plan = SanePlan();
  plan.set_epochs(50);
  plan.set_learning_rate(PlanRanges::kMaxLearningRate);
  plan.set_proximal_mu(PlanRanges::kMaxProximalMu);
  HostileFederation server(WithPlan(plan));
  Device device(server);
  const RoundResult r = device.Run();
  EXPECT_EQ(r.kind, RoundResult::Kind::kFailed);
  EXPECT_THAT(r.status, StatusIs(absl::StatusCode::kInvalidArgument,
                                 HasSubstr("finite")));
  EXPECT_EQ(server.seen().uploads, 0);
  EXPECT_THAT(server.seen().failure_reasons, ElementsAre(HasSubstr("finite")));
}

TEST(ParticipantTest, RefusesMoreBundlesThanTheDeviceAllows) {
  Script s = WithPlan(SanePlan());
  s.check_in = AssignmentFor(s.bundle, /*bundles=*/1000);
  HostileFederation server(s);
  Device device(server);
  const RoundResult r = device.Run();
  EXPECT_EQ(r.kind, RoundResult::Kind::kFailed);
  EXPECT_THAT(r.status, StatusIs(absl::StatusCode::kResourceExhausted,
                                 HasSubstr("bundles")));
  EXPECT_EQ(server.seen().downloads, 0);
  EXPECT_THAT(server.seen().failure_reasons, ElementsAre(HasSubstr("bundles")));
}

TEST(ParticipantTest, RefusesAHugeAnnouncedBundleBeforeDownloading) {
  Script s = WithPlan(SanePlan());
  s.check_in.mutable_assignment()->mutable_bundles(0)->set_size_bytes(int64_t{1}
                                                                      << 30);
  HostileFederation server(s);
  Device device(server);
  const RoundResult r = device.Run();
  EXPECT_EQ(r.kind, RoundResult::Kind::kFailed);
  EXPECT_THAT(r.status, StatusIs(absl::StatusCode::kResourceExhausted));
  EXPECT_EQ(server.seen().downloads, 0);
  EXPECT_THAT(server.seen().failure_reasons, SizeIs(1));
}

TEST(ParticipantTest, RefusesAModelTooBigForTheDevicesMemory) {
  // A 6 -> 16384 -> 3 head: 160k parameters (0.6 MiB) and 8 x 16384
  // activations, over a device that allows 512 KiB for the round.
  Script s = WithPlan(SanePlan());
  s.bundle = ModelBytes({6, 16384, 3});
  s.check_in = AssignmentFor(s.bundle);
  HostileFederation server(s);
  DeviceLimits small;
  small.max_working_bytes = 512 << 10;
  Device device(server, small);
  const RoundResult r = device.Run();
  EXPECT_EQ(r.kind, RoundResult::Kind::kFailed);
  EXPECT_THAT(r.status, StatusIs(absl::StatusCode::kResourceExhausted,
                                 HasSubstr("max_working_bytes")));
  EXPECT_EQ(server.seen().uploads, 0);
  EXPECT_THAT(server.seen().failure_reasons, SizeIs(1));
  // The default limit takes the same model.
  HostileFederation again(s);
  Device roomy(again);
  EXPECT_EQ(roomy.Run().kind, RoundResult::Kind::kUploaded);
}

}  // namespace
}  // namespace fedtiny::client
