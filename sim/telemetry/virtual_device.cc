#include "sim/telemetry/virtual_device.h"

#include <algorithm>
#include <utility>

#include "client/platform/linux/status_bridge.h"
#include "client/telemetry/spec.h"
#include "tools/base/status_macros.h"

namespace fedtiny::sim::telemetry {

using client::telemetry::BuildReport;
using client::telemetry::ReportContext;
using client::telemetry::ReportEpsilon;
using client::telemetry::Window;
using fedtiny::telemetry::TelemetryReport;
using fedtiny::telemetry::TelemetrySpec;

int64_t LatencyClock::NowMicros() {
  int64_t t = absl::ToUnixMicros(wall_.Now());
  if (second_read_) t = std::max(t, last_) + next_latency_us_;
  second_read_ = !second_read_;
  last_ = std::max(last_, t);
  return last_;
}

absl::StatusOr<std::unique_ptr<VirtualDevice>> VirtualDevice::Create(
    const DeviceConfig& config, const TelemetrySpec& spec, absl::Time now,
    client::Predictor& predictor, client::Storage& storage,
    client::telemetry::Randomness& rng,
    client::telemetry::TelemetryClient* client) {
  std::unique_ptr<VirtualDevice> d(new VirtualDevice(config, now));
  d->rng_ = &rng;
  client::telemetry::RecorderOptions options;
  options.ring_windows = 1;  // Exported at each window's end.
  options.cost.device_class = config.device_class;
  ASSIGN_OR_RETURN(d->recorder_,
                   client::telemetry::Recorder::Create(options, d->wall_, rng));
  RETURN_IF_ERROR(d->recorder_->SetSpec(spec));
  ASSIGN_OR_RETURN(d->consent_, client::telemetry::Consent::Open(
                                    storage, config.id + "/consent", d->wall_,
                                    *d->recorder_));
  RETURN_IF_ERROR(
      d->consent_->Grant("model quality", "predictions,latency", "sim-1"));
  ASSIGN_OR_RETURN(d->budget_, client::telemetry::PrivacyBudget::Open(
                                   storage, config.id + "/budget", d->wall_));
  d->predictor_ = std::make_unique<client::telemetry::RecordingPredictor>(
      predictor, *d->recorder_, d->mono_, config.macs_per_row);
  if (client != nullptr) {
    d->exporter_ = std::make_unique<client::telemetry::Exporter>(
        ReportContext{config.task, config.model_version, "float32",
                      config.device_class, ""},
        *d->recorder_, *d->consent_, *d->budget_, d->state_, *client, rng);
  }
  return d;
}

absl::Status VirtualDevice::Query(absl::Time at, const float* image,
                                  int64_t latency_us) {
  wall_.Set(at);
  mono_.set_next_latency_us(latency_us);
  return client::ToAbsl(predictor_->Predict(image, 1, {}, {}));
}

absl::StatusOr<int> VirtualDevice::Export(absl::Time at, ReportSink& sink) {
  wall_.Set(at);
  if (exporter_ != nullptr) {
    ASSIGN_OR_RETURN(client::telemetry::ExportResult r, exporter_->Export());
    return r.reports_sent;
  }
  std::optional<TelemetrySpec> spec = recorder_->spec();
  if (!consent_->granted() || !spec.has_value()) return 0;
  int sent = 0;
  for (const Window& w : recorder_->ClosedUnexported()) {
    ReportContext context{config_.task, config_.model_version, "float32",
                          config_.device_class, consent_->record().version()};
    TelemetryReport report = BuildReport(w, *spec, context, *rng_);
    RETURN_IF_ERROR(budget_->Spend(ReportEpsilon(report),
                                   client::telemetry::DailyEpsilon(*spec)));
    RETURN_IF_ERROR(sink.Upload(report, absl::ToUnixSeconds(at)));
    recorder_->MarkExported(w.start_unix_s);
    ++sent;
  }
  return sent;
}

}  // namespace fedtiny::sim::telemetry
