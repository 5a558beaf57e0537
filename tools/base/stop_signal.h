// SIGINT/SIGTERM as an event a thread can wait for. The handler only writes one
// byte to a pipe (async-signal-safe), so it is right on whichever thread the
// kernel picks, including threads libraries start before main() (OpenBLAS's)
// could block signals.
#ifndef FEDTINY_TOOLS_BASE_STOP_SIGNAL_H_
#define FEDTINY_TOOLS_BASE_STOP_SIGNAL_H_

namespace fedtiny {

// Installs the handlers for SIGINT and SIGTERM; false if the pipe or the
// handlers cannot be set up. Call once, before any WaitForStop().
bool InstallStopSignals();

// Blocks until a stop signal arrives (returns its number) or WakeStopWaiter()
// is called (returns 0). Thread-safe; one waiter at a time.
int WaitForStop();

// Wakes the waiter without a signal (the work ended on its own).
void WakeStopWaiter();

}  // namespace fedtiny

#endif  // FEDTINY_TOOLS_BASE_STOP_SIGNAL_H_
