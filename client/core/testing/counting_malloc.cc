#include "client/core/testing/counting_malloc.h"

#include <atomic>
#include <cerrno>
#include <cstddef>

// glibc's allocator under its internal names.
extern "C" {
void* __libc_malloc(size_t n);
void __libc_free(void* p);
void* __libc_calloc(size_t n, size_t size);
void* __libc_realloc(void* p, size_t n);
void* __libc_memalign(size_t align, size_t n);
}

namespace {
std::atomic<bool> g_counting{false};
std::atomic<int64_t> g_allocations{0};
void Count() {
  if (g_counting.load(std::memory_order_relaxed)) g_allocations.fetch_add(1);
}
}  // namespace

extern "C" {
void* malloc(size_t n) noexcept {
  Count();
  return __libc_malloc(n);
}
void free(void* p) noexcept { __libc_free(p); }
void* calloc(size_t n, size_t size) noexcept {
  Count();
  return __libc_calloc(n, size);
}
void* realloc(void* p, size_t n) noexcept {
  Count();
  return __libc_realloc(p, n);
}
void* memalign(size_t align, size_t n) noexcept {
  Count();
  return __libc_memalign(align, n);
}
void* aligned_alloc(size_t align, size_t n) noexcept {
  Count();
  return __libc_memalign(align, n);
}
int posix_memalign(void** out, size_t align, size_t n) noexcept {
  Count();
  *out = __libc_memalign(align, n);
  return *out != nullptr ? 0 : ENOMEM;
}
}

namespace fedtiny::testing {

AllocationCounter::AllocationCounter() {
  g_allocations = 0;
  g_counting = true;
}
AllocationCounter::~AllocationCounter() { g_counting = false; }
int64_t AllocationCounter::count() const { return g_allocations.load(); }

UncountedScope::UncountedScope() : was_(g_counting.exchange(false)) {}
UncountedScope::~UncountedScope() { g_counting = was_; }

}  // namespace fedtiny::testing
