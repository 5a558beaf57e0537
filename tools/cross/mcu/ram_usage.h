// The firmware's RAM as a part's datasheet budget counts it: static data
// (.data + .bss, from tools/cross/mps2/mps2.ld's symbols), the heap's high-water
// mark (how far newlib's _sbrk moved the break: nano-malloc never returns
// memory), and the main stack's high-water mark, found by painting the stack
// at start-up and looking for the deepest byte overwritten. The flash store
// (flash_store.h) is outside all three. Bare-metal Cortex-M with mps2.ld only.
// Not thread-safe (there are no threads).
#ifndef FEDTINY_TOOLS_CROSS_MCU_RAM_USAGE_H_
#define FEDTINY_TOOLS_CROSS_MCU_RAM_USAGE_H_

#include <cstddef>

namespace fedtiny::mcu {

struct RamUsage {
  size_t data = 0;   // .data
  size_t bss = 0;    // .bss
  size_t heap = 0;   // High-water mark.
  size_t stack = 0;  // High-water mark (painted), out of stack_reserved.
  size_t stack_reserved = 0;
  size_t total() const { return data + bss + heap + stack; }
};

// PaintStack fills the unused main stack (below the caller's frame, less a
// margin) with a pattern. Call it first thing in main().
void PaintStack();

// MeasureRam returns the figures so far.
RamUsage MeasureRam();

}  // namespace fedtiny::mcu

#endif  // FEDTINY_TOOLS_CROSS_MCU_RAM_USAGE_H_
