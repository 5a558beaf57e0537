// The one eligibility rule of the project: a device's state (DeviceStatus) and
// the policy that decides whether it may take part or keep training. The
// coordinator applies it at check-in (from the task's wire policy), the device
// before every batch (client/core/eligibility.h), the simulator through both.
// Plain values; thread-compatible.
#ifndef FEDTINY_TOOLS_BASE_ELIGIBILITY_H_
#define FEDTINY_TOOLS_BASE_ELIGIBILITY_H_

#include <string>

namespace fedtiny {

struct DeviceStatus {
  bool charging = false;
  bool idle = false;               // Screen off / user not interacting.
  bool unmetered_network = false;  // Wi-Fi or Ethernet, not cellular.
  int battery_percent = 0;
  bool thermal_throttled = false;  // Devices know it; check-ins do not carry it.
};

// Defaults: charging, idle, unmetered, battery >= 50%, not throttled.
struct EligibilityPolicy {
  bool require_charging = true;
  bool require_idle = true;
  bool require_unmetered = true;
  int min_battery_percent = 50;
  bool forbid_thermal_throttling = true;

  bool Allows(const DeviceStatus& s) const { return WhyNot(s).empty(); }
  // "" when allowed, else the first unmet condition ("not charging", ...).
  std::string WhyNot(const DeviceStatus& s) const;
};

}  // namespace fedtiny

#endif  // FEDTINY_TOOLS_BASE_ELIGIBILITY_H_
