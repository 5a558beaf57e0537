// The checks an uploaded TelemetryReport passes before it is counted
// (docs/protocol.md, "Telemetry"). Pure functions; thread-safe.
#ifndef FEDTINY_COORDINATOR_TELEMETRY_REPORT_CHECK_H_
#define FEDTINY_COORDINATOR_TELEMETRY_REPORT_CHECK_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "coordinator/telemetry/aggregates.h"
#include "proto/telemetry.pb.h"

namespace fedtiny::coordinator::telemetry {

// Windows older than this many window lengths are refused (and dropped).
inline constexpr int64_t kMaxWindowAge = 7;

// CheckReport validates `report` against its task's validated `spec`, the
// task's newest committed model version and the time `now_s`, and returns its
// cell and values. kInvalidArgument naming what is wrong: a model version
// below 0 or above `newest_version`; a variant that is not a variant name; a
// device class outside [A-Za-z0-9_.:-]{1,64}; a spec version other than the
// spec's; a window start not a multiple of window_s, after `now_s`, or older
// than kMaxWindowAge windows; a consent version over 64 bytes; no values, an
// unknown probe, a probe twice, a bin >= k, an epsilon other than the probe's.
absl::StatusOr<std::vector<BinValue>> CheckReport(
    const fedtiny::telemetry::TelemetryReport& report,
    const fedtiny::telemetry::TelemetrySpec& spec, int64_t newest_version,
    int64_t now_s);

// The first window start CheckReport still accepts at `now_s`.
int64_t OldestWindow(const fedtiny::telemetry::TelemetrySpec& spec,
                     int64_t now_s);

}  // namespace fedtiny::coordinator::telemetry

#endif  // FEDTINY_COORDINATOR_TELEMETRY_REPORT_CHECK_H_
