// The fleet view (proto/admin.proto TelemetryViewResponse): a task's report
// counts turned into estimates, quantiles and drift per model version x
// device class. Pure functions over a snapshot; thread-safe.
#ifndef FEDTINY_COORDINATOR_TELEMETRY_FLEET_VIEW_H_
#define FEDTINY_COORDINATOR_TELEMETRY_FLEET_VIEW_H_

#include <cstdint>
#include <map>
#include <vector>

#include "coordinator/telemetry/aggregates.h"
#include "coordinator/telemetry/drift.h"
#include "proto/admin.pb.h"
#include "proto/telemetry.pb.h"

namespace fedtiny::coordinator::telemetry {

// BuildView sums `cells` (one task's) over variants and windows (only
// `window_start`'s when non-zero) per (model version, device class), and
// describes each probe of `spec` that has reports. Probes no longer in the
// spec are left out.
v1::TelemetryViewResponse BuildView(
    const fedtiny::telemetry::TelemetrySpec& spec,
    const std::map<CellKey, CellCounts>& cells, int64_t window_start,
    NullPsiTable& nulls);

// Quantile reads the `prob` quantile off a histogram over `edges`
// (frequencies.size() == edges.size() - 1), linear within a bin.
double Quantile(const std::vector<double>& frequencies,
                const std::vector<double>& edges, double prob);

}  // namespace fedtiny::coordinator::telemetry

#endif  // FEDTINY_COORDINATOR_TELEMETRY_FLEET_VIEW_H_
