// The coordinator's side of the telemetry fleet simulator, in process: the
// real coordinator code a Telemetry.Upload runs (coordinator/
// telemetry_service.cc's Accept: CheckReport, then Aggregates::Add into the
// task's cells), minus the gRPC transport and the per-address rate limit,
// and the real fleet view (BuildView, with its noise-aware drift alert) over
// one window's reports.
//
// Thread-compatible: one call at a time. Owns its aggregates (in memory).
#ifndef FEDTINY_SIM_TELEMETRY_IN_PROCESS_COORDINATOR_H_
#define FEDTINY_SIM_TELEMETRY_IN_PROCESS_COORDINATOR_H_

#include <cstdint>
#include <memory>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "coordinator/telemetry/aggregates.h"
#include "coordinator/telemetry/drift.h"
#include "proto/admin.pb.h"
#include "proto/telemetry.pb.h"

namespace fedtiny::sim::telemetry {

// Where a device's report goes. Implementations say their thread-safety.
class ReportSink {
 public:
  virtual ~ReportSink() = default;
  // Upload delivers one report at virtual time `now_s`: the coordinator's
  // codes (kInvalidArgument for a report it refuses).
  virtual absl::Status Upload(const fedtiny::telemetry::TelemetryReport& report,
                              int64_t now_s) = 0;
};

class InProcessCoordinator final : public ReportSink {
 public:
  // `spec` must pass the coordinator's ValidateSpec (kInvalidArgument).
  // `newest_version` is the task's newest committed model version.
  static absl::StatusOr<std::unique_ptr<InProcessCoordinator>> Create(
      const fedtiny::telemetry::TelemetrySpec& spec, int64_t newest_version);

  absl::Status Upload(const fedtiny::telemetry::TelemetryReport& report,
                      int64_t now_s) override;

  // View is the fleet view of `task` over the window starting at
  // `window_start` (0: every retained window).
  [[nodiscard]] fedtiny::v1::TelemetryViewResponse View(const std::string& task,
                                                        int64_t window_start);

 private:
  InProcessCoordinator(
      fedtiny::telemetry::TelemetrySpec spec, int64_t newest_version,
      std::unique_ptr<coordinator::telemetry::Aggregates> aggregates)
      : spec_(std::move(spec)),
        newest_version_(newest_version),
        aggregates_(std::move(aggregates)) {}

  const fedtiny::telemetry::TelemetrySpec spec_;
  const int64_t newest_version_;
  std::unique_ptr<coordinator::telemetry::Aggregates> aggregates_;
  coordinator::telemetry::NullPsiTable nulls_;
};

}  // namespace fedtiny::sim::telemetry

#endif  // FEDTINY_SIM_TELEMETRY_IN_PROCESS_COORDINATOR_H_
