#include "tools/base/stop_signal.h"

#include <signal.h>
#include <unistd.h>

#include <cerrno>

namespace fedtiny {
namespace {

int g_pipe[2] = {-1, -1};

void Notify(int sig) {
  const char byte = static_cast<char>(sig);
  (void)!write(g_pipe[1], &byte, 1);
}

}  // namespace

bool InstallStopSignals() {
  if (pipe(g_pipe) != 0) return false;
  struct sigaction sa = {};
  sa.sa_handler = Notify;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  return sigaction(SIGINT, &sa, nullptr) == 0 && sigaction(SIGTERM, &sa, nullptr) == 0;
}

int WaitForStop() {
  char sig = 0;
  while (read(g_pipe[0], &sig, 1) < 0 && errno == EINTR) {
  }
  return static_cast<unsigned char>(sig);
}

void WakeStopWaiter() { Notify(0); }

}  // namespace fedtiny
