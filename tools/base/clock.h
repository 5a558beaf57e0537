// Wall-clock time, injected: servers and devices use the system clock; tests
// and the simulator use a clock they move by hand. The coordinator
// (coordinator/clock.h) and the device's trust checks (client/trust/wall_clock.h)
// both take this interface, so one clock can drive both in a test. (client/core's
// Clock is monotonic with an arbitrary origin: not comparable to expiries.)
#ifndef FEDTINY_TOOLS_BASE_CLOCK_H_
#define FEDTINY_TOOLS_BASE_CLOCK_H_

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
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

// A clock moved by hand, for tests and the simulator. Thread-safe.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(absl::Time start) : now_(start) {}
  absl::Time Now() const override {
    absl::MutexLock lock(&mu_);
    return now_;
  }
  void Set(absl::Time t) {
    absl::MutexLock lock(&mu_);
    now_ = t;
  }
  void Advance(absl::Duration d) {
    absl::MutexLock lock(&mu_);
    now_ += d;
  }

 private:
  mutable absl::Mutex mu_;
  absl::Time now_ ABSL_GUARDED_BY(mu_);
};

}  // namespace fedtiny

#endif  // FEDTINY_TOOLS_BASE_CLOCK_H_
