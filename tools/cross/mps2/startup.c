/* Reset and exit for bare-metal Cortex-M programs under QEMU's MPS2 boards
 * (tools/cross/mps2/mps2.ld). Linked with -nostartfiles and newlib's librdimon
 * (--specs=rdimon.specs): printf and friends go to the host through Arm
 * semihosting, and the program's status leaves QEMU through SYS_EXIT_EXTENDED,
 * so `qemu-system-arm ... -semihosting-config enable=on,target=native` exits
 * with main()'s return value.
 *
 * Reset_Handler: FPU on (CPACR, before any float code); then Start: .data copied,
 * .bss zeroed, the free stack painted, semihosting handles opened, static
 * constructors, main(), the RAM high-water report, exit status.
 *
 * RAM high-water (tools/cross/sizes.sh reads it): after main() returns, one line
 * on stderr, `fedtiny-ram: heap <bytes> stack <bytes>`: the heap is how far
 * newlib's _sbrk moved the break above `end` (newlib-nano's malloc never gives
 * memory back to sbrk, so the final break is the high-water mark); the stack is
 * the depth below __stack_top of the lowest word that no longer holds the paint
 * pattern written at reset. stdout is untouched: programs' outputs stay
 * comparable with the host's. */
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

extern uint32_t __stack_top[];
extern uint32_t __data_load[], __data_start[], __data_end[];
extern uint32_t __bss_start__[], __bss_end__[];
extern uint32_t __stack_limit[];
extern char end[];


extern int main(void);
extern void __libc_init_array(void);
extern void initialise_monitor_handles(void);

/* -nostartfiles drops crti.o/crtn.o; __libc_init_array still calls _init. */
void _init(void) {}
void _fini(void) {}

/* Arm semihosting: operation in r0, argument in r1, result in r0. */
static inline uintptr_t Semihost(uintptr_t op, uintptr_t arg) {
  register uintptr_t r0 __asm__("r0") = op;
  register uintptr_t r1 __asm__("r1") = arg;
  __asm__ volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
  return r0;
}

/* SYS_EXIT_EXTENDED (0x20) with ADP_Stopped_ApplicationExit: QEMU exits with
 * `status`. On AArch32 plain SYS_EXIT (0x18) carries no status. */
__attribute__((noreturn)) void fedtiny_semihost_exit(int status) {
  const uintptr_t block[2] = {0x20026u /* ADP_Stopped_ApplicationExit */, (uintptr_t)status};
  Semihost(0x20, (uintptr_t)block);
  /* A debugger without the extension: plain SYS_EXIT, then stop. */
  Semihost(0x18, 0x20026u);
  for (;;) __asm__ volatile("bkpt 0");
}

/* Any fault or unexpected interrupt: say so and leave QEMU with status 3, rather
 * than spinning until the caller's timeout. */
static void Fault_Handler(void) {
  static const char kMsg[] = "startup: fault or unexpected exception\n";
  Semihost(0x04 /* SYS_WRITE0 */, (uintptr_t)kMsg);
  fedtiny_semihost_exit(3);
}

#define FEDTINY_STACK_PAINT 0xA5A5A5A5u

/* Paints the stack from its limit up to 64 bytes below the current frame. */
static void PaintStack(void) {
  uint32_t* sp;
  __asm__ volatile("mov %0, sp" : "=r"(sp));
  for (volatile uint32_t* p = __stack_limit; p < sp - 16;) *p++ = FEDTINY_STACK_PAINT;
}

static void ReportRam(void) {
  const uint32_t* p = __stack_limit;
  while (p < __stack_top && *p == FEDTINY_STACK_PAINT) ++p;
  const long heap = (long)((char*)sbrk(0) - end);
  fprintf(stderr, "fedtiny-ram: heap %ld stack %ld\n", heap,
          (long)((const char*)__stack_top - (const char*)p));
}

/* Everything after the FPU is on: C from here, so float code is allowed. */
__attribute__((noreturn, used)) static void Start(void) {
  for (uint32_t *s = __data_load, *d = __data_start; d < __data_end;) *d++ = *s++;
  for (uint32_t* d = __bss_start__; d < __bss_end__;) *d++ = 0;
  PaintStack();
  initialise_monitor_handles();
  __libc_init_array();
  const int status = main();
  ReportRam();
  fflush(stdout);
  fflush(stderr);
  fedtiny_semihost_exit(status);
}

/* Naked, so that no compiler-generated instruction (an FP register spill, a
 * vector copy) can run before CPACR grants access to CP10/CP11. */
__attribute__((naked, noreturn)) void Reset_Handler(void) {
#if defined(__ARM_FP)
  __asm__ volatile(
      "ldr r0, =0xE000ED88\n\t" /* CPACR */
      "ldr r1, [r0]\n\t"
      "orr r1, r1, #(0xF << 20)\n\t" /* CP10, CP11: full access */
      "str r1, [r0]\n\t"
      "dsb\n\t"
      "isb\n\t"
      "b Start\n\t"
      ".ltorg");
#else
  __asm__ volatile("b Start");
#endif
}

/* The vector table at 0x0: initial stack pointer, reset, then the 14 system
 * exceptions (NMI, HardFault, MemManage, BusFault, UsageFault, ..., SysTick).
 * No device interrupts are enabled, so none are listed. */
__attribute__((section(".isr_vector"), used)) void (*const fedtiny_vectors[16])(void) = {
    (void (*)(void))__stack_top, (void (*)(void))Reset_Handler,
    Fault_Handler, Fault_Handler, Fault_Handler, Fault_Handler, Fault_Handler,
    0, 0, 0, 0,
    Fault_Handler, Fault_Handler, 0, Fault_Handler, Fault_Handler,
};
