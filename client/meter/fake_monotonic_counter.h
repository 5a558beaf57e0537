// Test fake for monotonic_counter.h: a counter living outside the device's
// storage (so restoring a snapshot does not turn it back, like hardware). The
// settable wall clock is tools/base/clock.h's FakeClock. Not thread-safe; a
// value, no ownership.
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


}  // namespace fedtiny::meter

#endif  // FEDTINY_CLIENT_METER_FAKE_MONOTONIC_COUNTER_H_
