// The boundary between the portable core's status type (client/core/status.h)
// and absl::Status, which everything outside client/core uses (transport,
// simulator, coordinator, tools). The codes share their numeric values, so a
// conversion keeps the code and the message exactly.
//
// GetStatus overloads let tools/base/status_matchers.h's IsOk()/StatusIs()
// match core results (found by argument-dependent lookup).
#ifndef FEDTINY_CLIENT_PLATFORM_LINUX_STATUS_BRIDGE_H_
#define FEDTINY_CLIENT_PLATFORM_LINUX_STATUS_BRIDGE_H_

#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "client/core/status.h"

namespace fedtiny::client {

// ToAbsl converts a core status (or result) to absl's, code and message kept.
inline absl::Status ToAbsl(const Status& s) {
  if (s.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(s.code()), s.message());
}
template <typename T>
absl::StatusOr<T> ToAbsl(StatusOr<T>&& s) {
  if (!s.ok()) return ToAbsl(s.status());
  return *std::move(s);
}
template <typename T>
absl::StatusOr<T> ToAbsl(const StatusOr<T>& s) {
  if (!s.ok()) return ToAbsl(s.status());
  return *s;
}

// FromAbsl converts the other way (for callbacks the core calls).
inline Status FromAbsl(const absl::Status& s) {
  if (s.ok()) return OkStatus();
  return Status(static_cast<StatusCode>(s.code()), std::string(s.message()));
}
template <typename T>
StatusOr<T> FromAbsl(absl::StatusOr<T>&& s) {
  if (!s.ok()) return FromAbsl(s.status());
  return *std::move(s);
}

// For tools/base/status_matchers.h (argument-dependent lookup).
inline absl::Status GetStatus(const Status& s) { return ToAbsl(s); }
template <typename T>
absl::Status GetStatus(const StatusOr<T>& s) {
  return ToAbsl(s.status());
}

}  // namespace fedtiny::client

#endif  // FEDTINY_CLIENT_PLATFORM_LINUX_STATUS_BRIDGE_H_
