// Time, injected: the server uses the wall clock; tests and the simulator use a
// clock they move by hand. The one interface is tools/base/clock.h (the
// device's trust checks take it too).
#ifndef FEDTINY_COORDINATOR_CLOCK_H_
#define FEDTINY_COORDINATOR_CLOCK_H_

#include "tools/base/clock.h"

namespace fedtiny::coordinator {

using ::fedtiny::Clock;
using ::fedtiny::FakeClock;
using ::fedtiny::RealClock;

}  // namespace fedtiny::coordinator

#endif  // FEDTINY_COORDINATOR_CLOCK_H_
