// Test fakes for monotonic_counter.h: a counter living outside the device's
// storage (so restoring a snapshot does not turn it back, like hardware) and a
// settable wall clock. Not thread-safe; values, no ownership.
#ifndef FEDTINY_CLIENT_METER_FAKE_MONOTONIC_COUNTER_H_
#define FEDTINY_CLIENT_METER_FAKE_MONOTONIC_COUNTER_H_

#include <cstdint>

#include "absl/status/status.h"
#include "client/meter/monotonic_counter.h"

namespace fedtiny::meter {

class FakeMonotonicCounter : public MonotonicCounter {
 public:
  absl::StatusOr<uint64_t> Increment() override {
    if (fail_) return absl::UnavailableError("fake counter: failing");
    return ++value_;
  }
  uint64_t value() const { return value_; }
  void set_fail(bool fail) { fail_ = fail; }

 private:
  uint64_t value_ = 0;
  bool fail_ = false;
};

class FakeWallClock : public WallClock {
 public:
  explicit FakeWallClock(int64_t now_us) : now_us_(now_us) {}
  int64_t NowUnixMicros() override { return now_us_; }
  void Set(int64_t now_us) { now_us_ = now_us; }
  void Advance(int64_t us) { now_us_ += us; }

 private:
  int64_t now_us_;
};

}  // namespace fedtiny::meter

#endif  // FEDTINY_CLIENT_METER_FAKE_MONOTONIC_COUNTER_H_
