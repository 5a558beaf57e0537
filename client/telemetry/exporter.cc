#include "client/telemetry/exporter.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "client/telemetry/spec.h"

namespace fedtiny::client::telemetry {

using ::fedtiny::telemetry::TelemetryReport;
using ::fedtiny::telemetry::TelemetrySpec;

std::string Exporter::WhyNot() const {
  if (!consent_.granted()) return "no consent";
  const DeviceStatus s = device_.Read();
  if (!s.unmetered_network) return "metered network";
  if (!s.charging) return "not charging";
  return "";
}

absl::Status Exporter::Send(const TelemetryReport& report,
                            ExportResult& result) {
  // Consent may have been withdrawn while this export ran.
  if (!consent_.granted())
    return absl::FailedPreconditionError("telemetry: no consent");
  absl::Status s = client_.Upload(report);
  if (!s.ok()) return s;
  recorder_.MarkExported(report.window_start_unix_s());
  ++result.reports_sent;
  result.report_bytes += static_cast<int64_t>(report.ByteSizeLong());
  return absl::OkStatus();
}

absl::Status Exporter::SendClosedWindows(const TelemetrySpec& spec,
                                         ExportResult& result) {
  for (const Window& w : recorder_.ClosedUnexported()) {
    ReportContext context = context_;
    context.consent_version = consent_.record().version();
    TelemetryReport report = BuildReport(w, spec, context, rng_);
    const double epsilon = ReportEpsilon(report);
    if (epsilon > DailyEpsilon(spec)) {  // Never payable: dropped unsent.
      recorder_.MarkExported(w.start_unix_s);
      return absl::ResourceExhaustedError(absl::StrCat(
          "telemetry: a report costs epsilon ", epsilon,
          ", over the daily budget of ", DailyEpsilon(spec), "; dropped"));
    }
    if (epsilon > 0) {
      absl::Status paid = budget_.Spend(epsilon, DailyEpsilon(spec));
      if (!paid.ok()) return paid;
    }
    pending_ = std::move(report);
    absl::Status sent = Send(*pending_, result);
    if (!sent.ok()) return sent;
    pending_.reset();
  }
  return absl::OkStatus();
}

absl::StatusOr<ExportResult> Exporter::Export() {
  const std::string why = WhyNot();
  if (!why.empty())
    return absl::FailedPreconditionError(absl::StrCat("telemetry: ", why));
  ExportResult result;
  // A pending report whose window was erased (delete-with-data, a new spec)
  // is dropped with it.
  if (pending_.has_value() &&
      !recorder_.HoldsUnexported(pending_->window_start_unix_s())) {
    pending_.reset();
  }
  if (pending_.has_value()) {
    absl::Status sent = Send(*pending_, result);
    if (!sent.ok()) return sent;
    pending_.reset();
  }
  if (std::optional<TelemetrySpec> spec = recorder_.spec(); spec.has_value()) {
    absl::Status s = SendClosedWindows(*spec, result);
    if (!s.ok()) return s;
  }
  absl::StatusOr<TelemetrySpec> fresh = client_.GetSpec(context_.task);
  if (!fresh.ok()) return fresh.status();
  absl::Status installed = recorder_.SetSpec(*fresh);
  if (!installed.ok()) return installed;
  return result;
}

}  // namespace fedtiny::client::telemetry
