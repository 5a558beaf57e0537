// The hook a metered device gives the Meter (issue #14, docs/metering.md): a
// hardware monotonic counter where the platform has one (a TPM NV counter, a
// secure element, an RPMB write counter, Android's Keystore rollback
// resistance). The wall clock grants expire by is tools/base/clock.h's Clock.
#ifndef FEDTINY_CLIENT_METER_MONOTONIC_COUNTER_H_
#define FEDTINY_CLIENT_METER_MONOTONIC_COUNTER_H_

#include <cstdint>

#include "absl/status/statusor.h"

namespace fedtiny::meter {

// A counter no restore of the device's storage can turn back. Implementations
// say their own thread-safety; the Meter calls it from its caller's thread.
// May block (hardware access).
class MonotonicCounter {
 public:
  virtual ~MonotonicCounter() = default;
  // Increment adds one and returns the new value (never 0). kUnavailable or
  // kInternal when the hardware fails; the value may then have moved or not.
  virtual absl::StatusOr<uint64_t> Increment() = 0;
};

}  // namespace fedtiny::meter

#endif  // FEDTINY_CLIENT_METER_MONOTONIC_COUNTER_H_
