#include "tools/cross/malloc_counter.h"

namespace {
bool g_counting = false;
long g_count = 0;
}  // namespace

extern "C" {
void* __real_malloc(size_t n);
void* __real_calloc(size_t n, size_t size);
void* __real_realloc(void* p, size_t n);

void* __wrap_malloc(size_t n) {
  if (g_counting) ++g_count;
  return __real_malloc(n);
}
void* __wrap_calloc(size_t n, size_t size) {
  if (g_counting) ++g_count;
  return __real_calloc(n, size);
}
void* __wrap_realloc(void* p, size_t n) {
  if (g_counting) ++g_count;
  return __real_realloc(p, n);
}
}

namespace fedtiny::testing {

ScopedMallocCount::ScopedMallocCount() {
  g_count = 0;
  g_counting = true;
}
ScopedMallocCount::~ScopedMallocCount() { g_counting = false; }
long ScopedMallocCount::count() const { return g_count; }

}  // namespace fedtiny::testing
