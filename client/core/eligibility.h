// When the device may train: the platform reports its state through DeviceState;
// an EligibilityPolicy decides. The trainer asks before every batch.
#ifndef FEDTINY_CLIENT_CORE_ELIGIBILITY_H_
#define FEDTINY_CLIENT_CORE_ELIGIBILITY_H_

#include <atomic>
#include <string>

namespace fedtiny::client {

struct DeviceStatus {
  bool charging = false;
  bool idle = false;               // Screen off / user not interacting.
  bool unmetered_network = false;  // Wi-Fi or Ethernet, not cellular.
  int battery_percent = 0;
  bool thermal_throttled = false;
};

// Implemented by the app for its platform (Android: BatteryManager, PowerManager,
// ConnectivityManager; embedded: the board's power-management signals).
// Read() must be cheap (it runs before every batch) and thread-safe.
class DeviceState {
 public:
  virtual ~DeviceState() = default;
  virtual DeviceStatus Read() const = 0;
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
