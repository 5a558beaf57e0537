// Counts the C allocator's calls on every target (host, aarch64, Cortex-M):
// programs link with -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc (statically
// on Linux, so that libstdc++'s operator new is wrapped too) and this file's
// __wrap_* count while counting is on, then call the real allocator.
// Single-threaded programs only (plain counters).
#ifndef FEDTINY_TOOLS_CROSS_MALLOC_COUNTER_H_
#define FEDTINY_TOOLS_CROSS_MALLOC_COUNTER_H_

#include <cstddef>

namespace fedtiny::testing {

// Counts allocations made in its scope.
class ScopedMallocCount {
 public:
  ScopedMallocCount();
  ~ScopedMallocCount();
  long count() const;
};

}  // namespace fedtiny::testing

#endif  // FEDTINY_TOOLS_CROSS_MALLOC_COUNTER_H_
