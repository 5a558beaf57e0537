// The transport-level proof that nothing leaves the device without consent: a
// real gRPC Telemetry server on 127.0.0.1 that records every call and its
// bytes, and the real client. No call at all (GetSpec included) while consent
// is off, withdrawn, on a metered network or not charging; reports once all
// hold; report bytes never contain the device's id; delete-with-data leaves
// nothing to export; the daily budget holds across a restart.
#include "client/telemetry/exporter.h"

#include <memory>
#include <string>

#include "client/core/eligibility.h"
#include "client/telemetry/budget.h"
#include "client/telemetry/consent.h"
#include "client/telemetry/memory_storage.h"
#include "client/telemetry/recorder.h"
#include "client/telemetry/recording_telemetry_server.h"
#include "client/telemetry/report.h"
#include "client/telemetry/telemetry_client.h"
#include "gtest/gtest.h"
#include "tools/base/status_matchers.h"

namespace fedtiny::client::telemetry {
namespace {

using ::fedtiny::telemetry::TelemetrySpec;
using ::fedtiny::testing::IsOk;
using ::fedtiny::testing::StatusIs;

// The device's identity elsewhere in the SDK (the Federation check-in's id);
// it must never appear in telemetry bytes.
constexpr char kDeviceId[] = "device-7f3a9c21-secret-id";
constexpr int64_t kWindow = 3600;

TelemetrySpec Spec(double epsilon_each, double daily) {
  TelemetrySpec s;
  s.set_version(1);
  s.set_window_s(kWindow);
  s.set_daily_epsilon(daily);
  auto* a = s.add_probes();
  a->set_name("class");
  a->set_kind(fedtiny::telemetry::PREDICTED_CLASS);
  a->mutable_binning()->set_categories(10);
  a->set_epsilon(epsilon_each);
  auto* b = s.add_probes();
  b->set_name("train_us");
  b->set_kind(fedtiny::telemetry::TRAINING_LATENCY_US);
  for (double e : {0.0, 100.0, 1000.0, 10000.0})
    b->mutable_binning()->add_edges(e);
  b->set_epsilon(epsilon_each);
  return s;
}

DeviceStatus Plugged() {
  DeviceStatus s;
  s.charging = true;
  s.unmetered_network = true;
  s.battery_percent = 90;
  return s;
}

// One device: recorder, consent, budget, state, client and exporter over a
// shared storage, so a test can "restart" it.
class Device {
 public:
  Device(const std::string& address, MemoryStorage& storage, FakeClock& clock)
      : rng_(MakeSeededRandomness(42)) {
    RecorderOptions o;
    o.ring_windows = 4;
    o.cost.device_class = "phone-mid";
    recorder = *Recorder::Create(o, clock, *rng_);
    consent = *Consent::Open(storage, "consent", clock, *recorder);
    budget = *PrivacyBudget::Open(storage, "budget", clock);
    TelemetryClientOptions c;
    c.address = address;
    c.insecure = true;
    c.call_deadline = absl::Seconds(5);
    client = std::make_unique<TelemetryClient>(c);
    exporter = std::make_unique<Exporter>(
        ReportContext{"mnist", 7, "float32", "phone-mid", ""}, *recorder,
        *consent, *budget, state, *client, *rng_);
  }
  // Records one inference of class 3 and one training step in the open window.
  void Use() {
    const int32_t cls[] = {3};
    Inference in;
    in.latency_us = 12;
    in.classes = Span<const int32_t>(cls, 1);
    recorder->RecordInference(in);
    recorder->RecordTrainingStep(500);
  }

  std::unique_ptr<Randomness> rng_;
  std::unique_ptr<Recorder> recorder;
  std::unique_ptr<Consent> consent;
  std::unique_ptr<PrivacyBudget> budget;
  SettableDeviceState state{Plugged()};
  std::unique_ptr<TelemetryClient> client;
  std::unique_ptr<Exporter> exporter;
};

class ExporterTest : public ::testing::Test {
 protected:
  ExporterTest() : clock_(absl::FromUnixSeconds(1'800'000'000 + 17)) {
    server_.set_spec(Spec(1.0, 4.0));
  }
  size_t Calls() const { return server_.calls().size(); }
  void ExpectNoDeviceIdInAnyCall() {
    for (const RecordedCall& c : server_.calls()) {
      EXPECT_EQ(c.bytes.find(kDeviceId), std::string::npos) << c.method;
    }
  }

  RecordingTelemetryServer server_;
  MemoryStorage storage_;
  FakeClock clock_;
};

TEST_F(ExporterTest, NoCallAtAllWithoutConsentMeteredOrNotCharging) {
  Device d(server_.address(), storage_, clock_);
  ASSERT_THAT(d.recorder->SetSpec(Spec(1.0, 4.0)),
              IsOk());  // Shipped with the model.
  // Consent off (the default): nothing recorded, nothing sent.
  d.Use();
  EXPECT_TRUE(d.recorder->Summaries().empty());
  EXPECT_THAT(d.exporter->Export().status(),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       ::testing::HasSubstr("no consent")));
  // Consent granted, but on a metered network, then not charging.
  ASSERT_THAT(d.consent->Grant("model quality", "latency,predictions", "v1"),
              IsOk());
  d.Use();
  clock_.Advance(absl::Seconds(kWindow));
  DeviceStatus metered = Plugged();
  metered.unmetered_network = false;
  d.state.Set(metered);
  EXPECT_THAT(d.exporter->Export().status(),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       ::testing::HasSubstr("metered")));
  DeviceStatus battery = Plugged();
  battery.charging = false;
  d.state.Set(battery);
  EXPECT_THAT(d.exporter->Export().status(),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       ::testing::HasSubstr("charging")));
  // Withdrawn while plugged in.
  d.state.Set(Plugged());
  ASSERT_THAT(d.consent->Withdraw(), IsOk());
  EXPECT_THAT(d.exporter->Export().status(),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_EQ(Calls(), 0u);  // The server saw nothing, not even GetSpec.

  // Consent again, plugged in on Wi-Fi: the closed window's report goes, then
  // the spec is refreshed.
  ASSERT_THAT(d.consent->Grant("model quality", "latency,predictions", "v2"),
              IsOk());
  absl::StatusOr<ExportResult> r = d.exporter->Export();
  ASSERT_THAT(r.status(), IsOk());
  EXPECT_EQ(r->reports_sent, 1);
  const std::vector<RecordedCall> calls = server_.calls();
  ASSERT_EQ(calls.size(), 2u);
  EXPECT_EQ(calls[0].method, "Upload");
  EXPECT_EQ(calls[1].method, "GetSpec");
  const auto reports = server_.reports();
  ASSERT_EQ(reports.size(), 1u);
  const auto& report = reports[0];
  EXPECT_EQ(report.task(), "mnist");
  EXPECT_EQ(report.consent_version(), "v2");
  EXPECT_EQ(report.device_class(), "phone-mid");
  EXPECT_EQ(report.window_start_unix_s() % kWindow,
            0);  // The window, not the time.
  EXPECT_EQ(report.window_start_unix_s(), 1'800'000'000 / kWindow * kWindow);
  ASSERT_EQ(report.values_size(), 2);
  for (const auto& v : report.values()) EXPECT_DOUBLE_EQ(v.epsilon(), 1.0);
  EXPECT_EQ(r->report_bytes, static_cast<int64_t>(report.ByteSizeLong()));
  ExpectNoDeviceIdInAnyCall();
  // Sent once: the next export has nothing more to upload.
  ASSERT_THAT(d.exporter->Export().status(), IsOk());
  EXPECT_EQ(server_.reports().size(), 1u);
}

TEST_F(ExporterTest, WithdrawnOrDeletedLeavesNothingToExport) {
  Device d(server_.address(), storage_, clock_);
  ASSERT_THAT(d.consent->Grant("quality", "latency", "v1"), IsOk());
  ASSERT_THAT(d.exporter->Export().status(), IsOk());  // Fetches the spec.
  ASSERT_EQ(Calls(), 1u);
  d.Use();
  clock_.Advance(absl::Seconds(kWindow));
  ASSERT_THAT(d.consent->Withdraw(), IsOk());
  d.Use();  // Not recorded.
  EXPECT_THAT(d.exporter->Export().status(),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_EQ(Calls(), 1u);
  // Delete with the data, then consent again: the old window is gone.
  ASSERT_THAT(d.consent->DeleteWithData(), IsOk());
  EXPECT_FALSE(storage_.Exists("consent"));
  ASSERT_THAT(d.consent->Grant("quality", "latency", "v1"), IsOk());
  absl::StatusOr<ExportResult> r = d.exporter->Export();
  ASSERT_THAT(r.status(), IsOk());
  EXPECT_EQ(r->reports_sent, 0);
  EXPECT_TRUE(server_.reports().empty());
  ExpectNoDeviceIdInAnyCall();
}

// Reports of epsilon 2 under a daily budget of 3: one a day, even across a
// restart of the whole device; the refused one goes the next day.
TEST_F(ExporterTest, TheDailyBudgetHoldsAcrossARestart) {
  server_.set_spec(Spec(1.0, 3.0));
  {
    Device d(server_.address(), storage_, clock_);
    ASSERT_THAT(d.consent->Grant("quality", "latency", "v1"), IsOk());
    ASSERT_THAT(d.exporter->Export().status(), IsOk());  // The spec.
    for (int w = 0; w < 3; ++w) {
      d.Use();
      clock_.Advance(absl::Seconds(kWindow));
    }
    EXPECT_THAT(d.exporter->Export().status(),
                StatusIs(absl::StatusCode::kResourceExhausted,
                         ::testing::HasSubstr("not sent")));
    EXPECT_EQ(server_.reports().size(), 1u);
  }
  {
    Device d(server_.address(), storage_,
             clock_);  // Restarted: windows gone, budget kept.
    ASSERT_THAT(d.exporter->Export().status(),
                IsOk());  // Consent persisted; fetches the spec.
    d.Use();
    clock_.Advance(absl::Seconds(kWindow));
    EXPECT_THAT(d.exporter->Export().status(),
                StatusIs(absl::StatusCode::kResourceExhausted));
    EXPECT_EQ(server_.reports().size(), 1u);
    EXPECT_DOUBLE_EQ(d.budget->SpentToday(), 2.0);
    clock_.Advance(absl::Hours(24));  // The next UTC day.
    absl::StatusOr<ExportResult> r = d.exporter->Export();
    ASSERT_THAT(r.status(), IsOk());
    EXPECT_EQ(r->reports_sent, 1);
    EXPECT_EQ(server_.reports().size(), 2u);
  }
}

TEST_F(ExporterTest, AReportOverTheWholeDailyBudgetIsDropped) {
  server_.set_spec(Spec(3.0, 4.0));  // 6 per report > 4 per day.
  Device d(server_.address(), storage_, clock_);
  ASSERT_THAT(d.consent->Grant("quality", "latency", "v1"), IsOk());
  ASSERT_THAT(d.exporter->Export().status(), IsOk());
  d.Use();
  clock_.Advance(absl::Seconds(kWindow));
  EXPECT_THAT(d.exporter->Export().status(),
              StatusIs(absl::StatusCode::kResourceExhausted,
                       ::testing::HasSubstr("dropped")));
  EXPECT_TRUE(d.recorder->ClosedUnexported().empty());
  EXPECT_TRUE(server_.reports().empty());
  EXPECT_DOUBLE_EQ(d.budget->SpentToday(), 0);
}

}  // namespace
}  // namespace fedtiny::client::telemetry
