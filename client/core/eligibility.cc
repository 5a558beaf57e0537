#include "client/core/eligibility.h"

namespace fedtiny::client {

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
