// Wall-clock time for expiry checks, injected: devices use the system clock,
// tests and the simulator a clock they set by hand. The interface is
// tools/base/clock.h, the coordinator's too, so a test drives server and
// devices with one clock. Now() is the time as the device believes it (it may
// be wrong: the updater never trusts it below the last verified timestamp).
// (client/core's Clock is monotonic with an arbitrary origin, so it cannot be
// compared to expiries.)
#ifndef FEDTINY_CLIENT_TRUST_WALL_CLOCK_H_
#define FEDTINY_CLIENT_TRUST_WALL_CLOCK_H_

#include "tools/base/clock.h"

namespace fedtiny::client::trust {

using WallClock = ::fedtiny::Clock;
using SystemWallClock = ::fedtiny::RealClock;
using FakeWallClock = ::fedtiny::FakeClock;

}  // namespace fedtiny::client::trust

#endif  // FEDTINY_CLIENT_TRUST_WALL_CLOCK_H_
