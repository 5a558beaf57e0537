// A window's privatized report (proto/telemetry.proto's TelemetryReport): for
// each probe with a value in the window, its true bin put through k-ary
// randomized response with the probe's epsilon (krr.h). No device id and no
// time but the window's start. A probe without a value in the window (no
// training step, say) is left out and spends nothing.
//
// Free functions; as thread-safe as the Randomness passed in.
#ifndef FEDTINY_CLIENT_TELEMETRY_REPORT_H_
#define FEDTINY_CLIENT_TELEMETRY_REPORT_H_

#include <cstdint>
#include <optional>
#include <string>

#include "client/telemetry/randomness.h"
#include "client/telemetry/window.h"
#include "proto/telemetry.pb.h"

namespace fedtiny::client::telemetry {

// What the report says of the model and the device, besides the values.
struct ReportContext {
  std::string task;
  int64_t model_version = 0;
  std::string variant = "float32";  // Or "int8".
  std::string device_class;
  std::string consent_version;
};

// ProbeValue is the window's true statistic for the spec's probe `index`: the
// sampled observation of a distribution, the request count, the peak bytes;
// nullopt when the window has none.
std::optional<double> ProbeValue(const Window& window,
                                 const fedtiny::telemetry::TelemetrySpec& spec,
                                 int index);

// BuildReport privatizes `window` under `spec` (the spec it was recorded
// under; ValidateSpec'ed).
fedtiny::telemetry::TelemetryReport BuildReport(
    const Window& window, const fedtiny::telemetry::TelemetrySpec& spec,
    const ReportContext& context, Randomness& rng);

// ReportEpsilon is the sum of the values' epsilons (sequential composition).
double ReportEpsilon(const fedtiny::telemetry::TelemetryReport& report);

}  // namespace fedtiny::client::telemetry

#endif  // FEDTINY_CLIENT_TELEMETRY_REPORT_H_
