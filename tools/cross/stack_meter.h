// Stack high-water by painting, the embedded way: fill a region below the
// caller's frame with a pattern, run the code, and find the deepest byte it
// changed. Works on the host, under qemu-aarch64 and on bare-metal Cortex-M
// (GCC or Clang; not under AddressSanitizer, whose fake stacks hide frames).
// Standard library only. Stateless; thread-safe for distinct threads' stacks.
#ifndef FEDTINY_TOOLS_CROSS_STACK_METER_H_
#define FEDTINY_TOOLS_CROSS_STACK_METER_H_

#include <cstddef>
#include <cstdint>

namespace fedtiny::testing {

inline constexpr unsigned char kStackPaint = 0xA5;

// Paints `bytes` below its own frame; returns the lowest painted address.
__attribute__((noinline)) inline uintptr_t PaintStackBelow(size_t bytes) {
  volatile unsigned char* p = static_cast<volatile unsigned char*>(__builtin_alloca(bytes));
  for (size_t i = 0; i < bytes; ++i) p[i] = kStackPaint;
  return reinterpret_cast<uintptr_t>(p);
}

// Runs `fn` over a painted region of `paint_bytes` and returns how many bytes
// below this function's frame it reached (an upper bound: it includes the call
// of `fn` itself). Returns paint_bytes or more when `fn` went past the paint.
template <typename F>
__attribute__((noinline)) size_t StackUsedBy(size_t paint_bytes, F&& fn) {
  const uintptr_t top = reinterpret_cast<uintptr_t>(__builtin_frame_address(0));
  const uintptr_t low = PaintStackBelow(paint_bytes);
  fn();
  const volatile unsigned char* p = reinterpret_cast<const volatile unsigned char*>(low);
  size_t i = 0;
  while (i < paint_bytes && p[i] == kStackPaint) ++i;
  return static_cast<size_t>(top - (low + i));
}

}  // namespace fedtiny::testing

#endif  // FEDTINY_TOOLS_CROSS_STACK_METER_H_
