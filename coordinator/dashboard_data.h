// What the live dashboard shows (/api/dashboard), as JSON: per task its state,
// the open round's progress against its goal and deadline, the recent rounds
// (participation, rejections by reason, client metrics) and the fleet by device
// class. Built from the Coordinator's public API at each request.
#ifndef FEDTINY_COORDINATOR_DASHBOARD_DATA_H_
#define FEDTINY_COORDINATOR_DASHBOARD_DATA_H_

#include <string>

#include "absl/status/status.h"
#include "coordinator/coordinator.h"

namespace fedtiny::coordinator {

// The newest rounds per task the dashboard charts.
inline constexpr int kDashboardRounds = 100;

// DashboardJson describes `coordinator` (null while the store loads) with
// readiness `ready` and the time `now`. Thread-safe as the Coordinator is.
std::string DashboardJson(Coordinator* coordinator, const absl::Status& ready, absl::Time now);

}  // namespace fedtiny::coordinator

#endif  // FEDTINY_COORDINATOR_DASHBOARD_DATA_H_
