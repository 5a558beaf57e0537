// The hooks a metered device gives the Meter (issue #14, docs/metering.md): a
// hardware monotonic counter where the platform has one (a TPM NV counter, a
// secure element, an RPMB write counter, Android's Keystore rollback
// resistance), and the wall clock grants expire by.
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

// Wall-clock time, which the device's owner can set (the Meter never lets it
// go back below the last time it recorded). Implementations say their own
// thread-safety.
class WallClock {
 public:
  virtual ~WallClock() = default;
  // NowUnixMicros returns microseconds since the Unix epoch.
  virtual int64_t NowUnixMicros() = 0;
};

}  // namespace fedtiny::meter

#endif  // FEDTINY_CLIENT_METER_MONOTONIC_COUNTER_H_
