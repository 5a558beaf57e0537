// When the device may train: the platform reports its state through DeviceState;
// an EligibilityPolicy decides. The trainer asks before every batch.
#ifndef FEDTINY_CLIENT_CORE_ELIGIBILITY_H_
#define FEDTINY_CLIENT_CORE_ELIGIBILITY_H_

#include <atomic>
#include <string>

#include "tools/base/eligibility.h"

namespace fedtiny::client {

// The shared types (tools/base/eligibility.h), under the SDK's names.
using ::fedtiny::DeviceStatus;
using ::fedtiny::EligibilityPolicy;

// Implemented by the app for its platform (Android: BatteryManager, PowerManager,
// ConnectivityManager; embedded: the board's power-management signals).
// Read() must be cheap (it runs before every batch) and thread-safe.
class DeviceState {
 public:
  virtual ~DeviceState() = default;
  virtual DeviceStatus Read() const = 0;
};

// A DeviceState whose status the test or simulator sets. Thread-safe.
class SettableDeviceState final : public DeviceState {
 public:
  explicit SettableDeviceState(DeviceStatus s = {}) { Set(s); }
  void Set(const DeviceStatus& s);
  DeviceStatus Read() const override;

 private:
  std::atomic<bool> charging_{false}, idle_{false}, unmetered_{false}, throttled_{false};
  std::atomic<int> battery_{0};
};

}  // namespace fedtiny::client

#endif  // FEDTINY_CLIENT_CORE_ELIGIBILITY_H_
