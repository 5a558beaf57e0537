#include "tools/cross/mcu/ram_usage.h"

#include <cstddef>
#include <cstdint>

extern "C" {
void* _sbrk(ptrdiff_t increment);  // newlib's (librdimon): the heap's break.
extern unsigned char __data_start[], __data_end[], __bss_start__[], __bss_end__[];
extern unsigned char __heap_start[], __stack_limit[], __stack_top[];
}

namespace fedtiny::mcu {
namespace {

constexpr unsigned char kPaint = 0xA5;
constexpr uintptr_t kMargin = 256;  // Left alone below the painter's frame.

uintptr_t StackPointer() {
  uintptr_t sp;
  __asm__ volatile("mov %0, sp" : "=r"(sp));
  return sp;
}

}  // namespace

__attribute__((noinline)) void PaintStack() {
  const uintptr_t stop = StackPointer() - kMargin;
  for (volatile unsigned char* p = __stack_limit; reinterpret_cast<uintptr_t>(p) < stop; ++p) *p = kPaint;
}

RamUsage MeasureRam() {
  RamUsage r;
  r.data = static_cast<size_t>(__data_end - __data_start);
  r.bss = static_cast<size_t>(__bss_end__ - __bss_start__);
  r.heap = static_cast<size_t>(static_cast<unsigned char*>(_sbrk(0)) - __heap_start);
  const volatile unsigned char* p = __stack_limit;
  while (p < __stack_top && *p == kPaint) ++p;
  r.stack = static_cast<size_t>(__stack_top - p);
  r.stack_reserved = static_cast<size_t>(__stack_top - __stack_limit);
  return r;
}

}  // namespace fedtiny::mcu
