// Which device secret each device id is bound to (the first check-in binds it),
// shared by every task, behind its own lock.
#ifndef FEDTINY_COORDINATOR_DEVICE_REGISTRY_H_
#define FEDTINY_COORDINATOR_DEVICE_REGISTRY_H_

#include <cstddef>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"

namespace fedtiny::coordinator {

// Thread-safe. Memory is bounded: past `capacity` ids the registry is cleared
// (logged) and devices re-bind at their next check-in; open-round assignments
// stay bound inside the engines. Bindings live in memory only (a restart
// re-binds; rounds open at a restart are abandoned anyway).
class DeviceRegistry {
 public:
  explicit DeviceRegistry(size_t capacity = 1'000'000) : capacity_(capacity) {}

  // Binds `device_id` to `key` (SecretKeyOf of its secret) at first sight; later
  // calls must bring the same key (constant-time compare), else kPermissionDenied.
  absl::Status Bind(const std::string& device_id, const std::string& key);

 private:
  const size_t capacity_;
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, std::string> keys_ ABSL_GUARDED_BY(mu_);
};

}  // namespace fedtiny::coordinator

#endif  // FEDTINY_COORDINATOR_DEVICE_REGISTRY_H_
