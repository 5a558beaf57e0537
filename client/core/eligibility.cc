#include "client/core/eligibility.h"

namespace fedtiny::client {

std::string EligibilityPolicy::WhyNot(const DeviceStatus& s) const {
  if (require_charging && !s.charging) return "not charging";
  if (require_idle && !s.idle) return "in use";
  if (require_unmetered && !s.unmetered_network) return "on a metered network";
  if (s.battery_percent < min_battery_percent) return "battery below threshold";
  if (forbid_thermal_throttling && s.thermal_throttled) return "thermally throttled";
  return "";
}

void SettableDeviceState::Set(const DeviceStatus& s) {
  charging_ = s.charging;
  idle_ = s.idle;
  unmetered_ = s.unmetered_network;
  battery_ = s.battery_percent;
  throttled_ = s.thermal_throttled;
}

DeviceStatus SettableDeviceState::Read() const {
  return {charging_.load(), idle_.load(), unmetered_.load(), battery_.load(),
          throttled_.load()};
}

}  // namespace fedtiny::client
