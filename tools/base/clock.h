// Wall-clock time, injected: servers and devices use the system clock; tests
// and the simulator use a clock they move by hand. The coordinator
// (coordinator/clock.h) and the device's trust checks (client/trust/wall_clock.h)
// both take this interface, so one clock can drive both in a test. (client/core's
// Clock is monotonic with an arbitrary origin: not comparable to expiries.)
#ifndef FEDTINY_TOOLS_BASE_CLOCK_H_
#define FEDTINY_TOOLS_BASE_CLOCK_H_

#include <atomic>
#include <cstdint>

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace fedtiny {

// Implementations are thread-safe.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual absl::Time Now() const = 0;
};

// The system clock (absl::Now). Stateless, thread-safe.
class RealClock final : public Clock {
 public:
  absl::Time Now() const override { return absl::Now(); }
};

// A clock moved by hand, for tests and the simulator. Thread-safe and
// lock-free (one atomic load per Now(), so per-call code such as the meter's
// Charge measures the same with it as with a real clock's read). Holds whole
// nanoseconds since the Unix epoch: finite times within about 292 years of
// 1970 (absl::ToUnixNanos' range).
class FakeClock final : public Clock {
 public:
  explicit FakeClock(absl::Time start) : now_ns_(absl::ToUnixNanos(start)) {}
  absl::Time Now() const override {
    return absl::FromUnixNanos(now_ns_.load(std::memory_order_acquire));
  }
  void Set(absl::Time t) { now_ns_.store(absl::ToUnixNanos(t), std::memory_order_release); }
  void Advance(absl::Duration d) {
    now_ns_.fetch_add(absl::ToInt64Nanoseconds(d), std::memory_order_acq_rel);
  }

 private:
  std::atomic<int64_t> now_ns_;
};

}  // namespace fedtiny

#endif  // FEDTINY_TOOLS_BASE_CLOCK_H_
