#include "client/telemetry/report.h"

#include "client/telemetry/krr.h"
#include "client/telemetry/spec.h"

namespace fedtiny::client::telemetry {

using ::fedtiny::telemetry::TelemetryReport;
using ::fedtiny::telemetry::TelemetrySpec;

std::optional<double> ProbeValue(const Window& w, const TelemetrySpec& spec,
                                 int index) {
  switch (spec.probes(index).kind()) {
    case fedtiny::telemetry::REQUESTS:
      return static_cast<double>(w.requests);
    case fedtiny::telemetry::PEAK_ARENA_BYTES:
      if (w.peak_arena_bytes <= 0) return std::nullopt;
      return static_cast<double>(w.peak_arena_bytes);
    case fedtiny::telemetry::PEAK_STACK_BYTES:
      if (w.peak_stack_bytes <= 0) return std::nullopt;
      return static_cast<double>(w.peak_stack_bytes);
    default:
      if (w.probes[index].observations == 0) return std::nullopt;
      return w.probes[index].sample;
  }
}

TelemetryReport BuildReport(const Window& w, const TelemetrySpec& spec,
                            const ReportContext& context, Randomness& rng) {
  TelemetryReport report;
  report.set_task(context.task);
  report.set_model_version(context.model_version);
  report.set_variant(context.variant);
  report.set_device_class(context.device_class);
  report.set_spec_version(spec.version());
  report.set_window_start_unix_s(w.start_unix_s);
  report.set_consent_version(context.consent_version);
  for (int i = 0; i < spec.probes_size(); ++i) {
    const std::optional<double> value = ProbeValue(w, spec, i);
    if (!value.has_value()) continue;
    const auto& probe = spec.probes(i);
    const int k = NumBins(probe.binning());
    auto* v = report.add_values();
    v->set_probe(probe.name());
    v->set_bin(KaryRandomizedResponse(BinOf(probe.binning(), *value), k,
                                      probe.epsilon(), rng));
    v->set_epsilon(probe.epsilon());
  }
  return report;
}

double ReportEpsilon(const TelemetryReport& report) {
  double sum = 0;
  for (const auto& v : report.values()) sum += v.epsilon();
  return sum;
}

}  // namespace fedtiny::client::telemetry
