// Wall-clock time for expiry checks, injected: devices use the system clock,
// tests and the simulator a clock they set by hand. (client/core's Clock is
// monotonic with an arbitrary origin, so it cannot be compared to expiries.)
#ifndef FEDTINY_CLIENT_TRUST_WALL_CLOCK_H_
#define FEDTINY_CLIENT_TRUST_WALL_CLOCK_H_

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace fedtiny::client::trust {

// Implementations are thread-safe.
class WallClock {
 public:
  virtual ~WallClock() = default;
  // Now returns the current time as the device believes it (it may be wrong:
  // the updater never trusts it below the last verified timestamp).
  virtual absl::Time Now() const = 0;
};

// The system clock (absl::Now). Stateless, thread-safe.
class SystemWallClock final : public WallClock {
 public:
  absl::Time Now() const override { return absl::Now(); }
};

// A clock moved by hand, for tests. Thread-safe.
class FakeWallClock final : public WallClock {
 public:
  explicit FakeWallClock(absl::Time start) : now_(start) {}
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

}  // namespace fedtiny::client::trust

#endif  // FEDTINY_CLIENT_TRUST_WALL_CLOCK_H_
