// One simulated device of the telemetry fleet simulator, running the real
// client code: a RecordingPredictor around the shared Predictor feeding its
// own Recorder (consent granted through the real Consent, so the recorder is
// enabled the way an app enables it), and at export the real report path:
// the recorder's closed windows, BuildReport's k-ary randomized response,
// the PrivacyBudget charged before the report leaves. That is what
// client/telemetry/exporter.cc's SendClosedWindows does; the Exporter class
// itself needs a gRPC TelemetryClient, so here the report goes to a
// ReportSink (in process: the coordinator's own code).
//
// Time is virtual: the device's wall clock is a FakeClock the simulator sets,
// and its monotonic clock follows it, adding the device class's modelled
// inference latency between the two reads RecordingPredictor makes per call.
//
// Not thread-safe. Borrows the predictor, the storage, the randomness and
// the client, which must outlive it.
#ifndef FEDTINY_SIM_TELEMETRY_VIRTUAL_DEVICE_H_
#define FEDTINY_SIM_TELEMETRY_VIRTUAL_DEVICE_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "client/core/eligibility.h"
#include "client/core/platform.h"
#include "client/core/predict.h"
#include "client/telemetry/budget.h"
#include "client/telemetry/consent.h"
#include "client/telemetry/exporter.h"
#include "client/telemetry/randomness.h"
#include "client/telemetry/recorder.h"
#include "client/telemetry/recording_predictor.h"
#include "client/telemetry/report.h"
#include "client/telemetry/telemetry_client.h"
#include "sim/telemetry/in_process_coordinator.h"
#include "tools/base/clock.h"

namespace fedtiny::sim::telemetry {

// A monotonic clock (microseconds) that follows a wall clock and adds
// `next_latency_us` on every second read: RecordingPredictor reads it before
// and after Predict, so the call appears to take that long. Never goes back.
// Not thread-safe; borrows the wall clock.
class LatencyClock final : public client::Clock {
 public:
  explicit LatencyClock(const ::fedtiny::Clock& wall) : wall_(wall) {}
  int64_t NowMicros() override;
  void set_next_latency_us(int64_t us) { next_latency_us_ = us; }

 private:
  const ::fedtiny::Clock& wall_;
  int64_t next_latency_us_ = 0;
  int64_t last_ = 0;
  bool second_read_ = false;
};

struct DeviceConfig {
  std::string id;  // Names its files in the storage; never reported.
  std::string device_class;
  std::string task;
  int64_t model_version = 1;
  int64_t macs_per_row = 0;
};

class VirtualDevice {
 public:
  // Create grants consent and installs `spec` (the model's bundle). With a
  // `client` (may be null) exports go through the real Exporter. The
  // recorder's, consent's and budget's codes.
  static absl::StatusOr<std::unique_ptr<VirtualDevice>> Create(
      const DeviceConfig& config, const fedtiny::telemetry::TelemetrySpec& spec,
      absl::Time now, client::Predictor& predictor, client::Storage& storage,
      client::telemetry::Randomness& rng,
      client::telemetry::TelemetryClient* client);

  // Query runs one example (kPixels floats) at virtual time `at` taking
  // `latency_us`. The predictor's codes, as absl.
  absl::Status Query(absl::Time at, const float* image, int64_t latency_us);

  // Export sends every closed, unexported window's report at virtual time
  // `at`, each paid for first: through the Exporter when made with a client
  // (`sink` unused), else to `sink`. Returns the reports sent; the
  // Exporter's, budget's and sink's codes. Blocks on the network with a
  // client.
  absl::StatusOr<int> Export(absl::Time at, ReportSink& sink);

 private:
  explicit VirtualDevice(const DeviceConfig& config, absl::Time now)
      : config_(config), wall_(now), mono_(wall_) {}

  const DeviceConfig config_;
  ::fedtiny::FakeClock wall_;
  LatencyClock mono_;
  client::telemetry::Randomness* rng_ = nullptr;
  std::unique_ptr<client::telemetry::Recorder> recorder_;
  std::unique_ptr<client::telemetry::Consent> consent_;
  std::unique_ptr<client::telemetry::PrivacyBudget> budget_;
  std::unique_ptr<client::telemetry::RecordingPredictor> predictor_;
  client::SettableDeviceState state_{{/*charging=*/true, /*idle=*/true,
                                      /*unmetered_network=*/true, 100, false}};
  std::unique_ptr<client::telemetry::Exporter>
      exporter_;  // With a client only.
};

}  // namespace fedtiny::sim::telemetry

#endif  // FEDTINY_SIM_TELEMETRY_VIRTUAL_DEVICE_H_
