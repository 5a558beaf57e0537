// Counts the C allocator's calls in a test binary on glibc: linking this
// library interposes malloc, calloc, realloc and the aligned family (not only
// operator new, which calls malloc) and forwards them to glibc's __libc_*.
// Not under sanitizers that own the allocator: tests using it are tagged
// no_sanitizers. The counters are process-wide atomics: count on one thread.
#ifndef FEDTINY_CLIENT_CORE_TESTING_COUNTING_MALLOC_H_
#define FEDTINY_CLIENT_CORE_TESTING_COUNTING_MALLOC_H_

#include <cstdint>

namespace fedtiny::testing {

// Counts allocations made in its scope. Not nestable.
class AllocationCounter {
 public:
  AllocationCounter();
  ~AllocationCounter();
  int64_t count() const;
};

// Stops counting in its scope (e.g. around a platform call whose allocations
// are the app's, not the core's), restoring the previous state after.
class UncountedScope {
 public:
  UncountedScope();
  ~UncountedScope();

 private:
  bool was_;
};

}  // namespace fedtiny::testing

#endif  // FEDTINY_CLIENT_CORE_TESTING_COUNTING_MALLOC_H_
