#include "sim/telemetry/in_process_coordinator.h"

#include <utility>
#include <vector>

#include "coordinator/telemetry/fleet_view.h"
#include "coordinator/telemetry/report_check.h"
#include "coordinator/telemetry/spec.h"
#include "tools/base/status_macros.h"

namespace fedtiny::sim::telemetry {

namespace ct = ::fedtiny::coordinator::telemetry;

absl::StatusOr<std::unique_ptr<InProcessCoordinator>>
InProcessCoordinator::Create(const fedtiny::telemetry::TelemetrySpec& spec,
                             int64_t newest_version) {
  ASSIGN_OR_RETURN(fedtiny::telemetry::TelemetrySpec valid,
                   ct::ValidateSpec(spec));
  ASSIGN_OR_RETURN(std::unique_ptr<ct::Aggregates> aggregates,
                   ct::Aggregates::Open(ct::Aggregates::Options{}));
  return std::unique_ptr<InProcessCoordinator>(new InProcessCoordinator(
      std::move(valid), newest_version, std::move(aggregates)));
}

absl::Status InProcessCoordinator::Upload(
    const fedtiny::telemetry::TelemetryReport& report, int64_t now_s) {
  ASSIGN_OR_RETURN(std::vector<ct::BinValue> values,
                   ct::CheckReport(report, spec_, newest_version_, now_s));
  const ct::CellKey key{report.task(), report.model_version(),
                        report.device_class(), report.variant(),
                        report.window_start_unix_s()};
  return aggregates_->Add(key, values, ct::OldestWindow(spec_, now_s));
}

fedtiny::v1::TelemetryViewResponse InProcessCoordinator::View(
    const std::string& task, int64_t window_start) {
  return ct::BuildView(spec_, aggregates_->Snapshot(task), window_start,
                       nulls_);
}

}  // namespace fedtiny::sim::telemetry
