// tools/cross/cross_targets_test.sh runs this on every target and requires exit
// status 42: the status of a program, a failing selftest's included, reaches the
// shell (qemu-aarch64 passes it through; on Cortex-M startup.c hands it to QEMU with
// semihosting SYS_EXIT_EXTENDED).
#include <cstdio>

int main() {
  std::printf("exit_status: returning 42\n");
  return 42;
}
