// Instruction counts on bare-metal Cortex-M under QEMU with `-icount shift=0`
// (icount_perf.cc, crypto_icount_perf.cc): with that flag QEMU advances its
// virtual clock by 1 ns per guest instruction, and the SysTick (processor
// clock, 25 MHz on the MPS2 boards) counts that virtual time. So SysTick ticks
// are instructions / 40, measured rather than assumed: Calibrate() times a loop
// of a known instruction count at two lengths and fails unless the counts scale
// with the work. Instructions, not cycles: QEMU models no pipeline or wait
// states. Single-threaded bare metal only (it owns the SysTick).
#ifndef FEDTINY_TOOLS_CROSS_PERF_SYSTICK_COUNTER_H_
#define FEDTINY_TOOLS_CROSS_PERF_SYSTICK_COUNTER_H_

#include <cstdint>
#include <cstdio>

namespace fedtiny::perf {

// SysTick: CTRL, LOAD, VAL (24-bit down counter).
inline volatile uint32_t* const kSysTick =
    reinterpret_cast<volatile uint32_t*>(0xE000E010u);

inline void StartSysTick() {
  kSysTick[1] = 0xFFFFFFu;
  kSysTick[2] = 0;
  kSysTick[0] = 0x5u;  // ENABLE | CLKSOURCE = processor clock; no interrupt.
}

// Ticks taken by f(); at most 2^24 - 1 (671 M instructions at 40 per tick).
template <typename F>
uint32_t Ticks(F&& f) {
  const uint32_t start = kSysTick[2];
  f();
  const uint32_t end = kSysTick[2];
  return (start - end) & 0xFFFFFFu;
}

// Exactly 2 * n instructions (subs, bne) plus a few around them.
__attribute__((noinline)) inline void Spin(uint32_t n) {
  __asm__ volatile("1: subs %0, %0, #1\n\tbne 1b" : "+r"(n) : : "cc");
}

// Instructions per SysTick tick, measured by Calibrate().
inline double g_per_tick = 0;

// Calibrate measures g_per_tick and prints it; false unless two loop lengths
// give ticks in proportion (the run lacks -icount shift=0 otherwise).
inline bool Calibrate() {
  const uint32_t t1 = Ticks([] { Spin(1000000); });
  const uint32_t t2 = Ticks([] { Spin(2000000); });
  g_per_tick = 2.0 * 1000000 / static_cast<double>(t2 - t1);
  const double ratio = static_cast<double>(t2) / t1;
  std::printf(
      "# SysTick: %lu and %lu ticks for 2 M and 4 M loop instructions: %.3f "
      "instructions"
      " per tick, ratio %.4f\n",
      static_cast<unsigned long>(t1), static_cast<unsigned long>(t2),
      g_per_tick, ratio);
  return ratio > 1.98 && ratio < 2.02;
}

// Report prints `m <name> <instructions>` for the perf scripts.
inline void Report(const char* name, double instructions) {
  std::printf("m %s %lu\n", name,
              static_cast<unsigned long>(instructions + 0.5));
}

}  // namespace fedtiny::perf

#endif  // FEDTINY_TOOLS_CROSS_PERF_SYSTICK_COUNTER_H_
