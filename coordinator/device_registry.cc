#include "coordinator/device_registry.h"

#include "tools/base/constant_time.h"
#include "tools/base/logging.h"

namespace fedtiny::coordinator {

absl::Status DeviceRegistry::Bind(const std::string& device_id, const std::string& key) {
  absl::MutexLock lock(&mu_);
  auto [it, inserted] = keys_.try_emplace(device_id, key);
  if (inserted) {
    if (keys_.size() > capacity_) {
      FT_LOG(WARNING) << "device registry passed " << capacity_ << " ids: cleared";
      keys_.clear();
      keys_.emplace(device_id, key);
    }
    return absl::OkStatus();
  }
  if (!ConstantTimeEquals(it->second, key)) {
    return absl::PermissionDeniedError("check-in: device_id is bound to another device_secret");
  }
  return absl::OkStatus();
}

}  // namespace fedtiny::coordinator
