#include "tools/base/eligibility.h"

namespace fedtiny {

std::string EligibilityPolicy::WhyNot(const DeviceStatus& s) const {
  if (require_charging && !s.charging) return "not charging";
  if (require_idle && !s.idle) return "in use";
  if (require_unmetered && !s.unmetered_network) return "on a metered network";
  if (s.battery_percent < min_battery_percent) return "battery below threshold";
  if (forbid_thermal_throttling && s.thermal_throttled) return "thermally throttled";
  return "";
}

}  // namespace fedtiny
