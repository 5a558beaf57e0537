// A fixed arena: the one block of memory an app hands the device core at
// initialization, TFLite Micro's way. Objects are carved from it in order and
// never freed one by one; the block is reused only by carving a new Arena over
// it. When the block is exhausted Allocate returns null and the arena stays as
// it was, so the caller reports kResourceExhausted instead of crashing.
//
// An Arena over a null block measures instead: Allocate always returns null but
// counts the bytes (with worst-case alignment padding), so a component can say
// how large a block it needs by running its own layout once against it.
//
// Not thread-safe. Borrows the block, which must outlive every object carved
// from it; objects carved from it are never destroyed by the arena.
#ifndef FEDTINY_CLIENT_CORE_ARENA_H_
#define FEDTINY_CLIENT_CORE_ARENA_H_

#include <cstddef>
#include <cstdint>
#include <new>
#include <type_traits>

namespace fedtiny::client {

class Arena {
 public:
  // Aligns every allocation to at least this (a float vector of 4 lanes).
  static constexpr size_t kMinAlign = 16;

  // Carves from [block, block + bytes).
  Arena(void* block, size_t bytes)
      : base_(reinterpret_cast<uintptr_t>(block)), capacity_(block ? bytes : SIZE_MAX) {}
  // A measuring arena (see above).
  static Arena Measuring() { return Arena(nullptr, 0); }

  // Room for `n` default-initialized T (trivially destructible types only), or
  // null when the block has no room (nothing changes then) or when measuring.
  template <typename T>
  T* Allocate(size_t n) {
    static_assert(std::is_trivially_destructible_v<T>, "the arena never runs destructors");
    void* p = AllocateBytes(n * sizeof(T), alignof(T));
    if (p == nullptr) return nullptr;
    return new (p) T[n];
  }

  // `bytes` with the given alignment, or null as above.
  void* AllocateBytes(size_t bytes, size_t align) {
    if (align < kMinAlign) align = kMinAlign;
    if (base_ == 0) {  // Measuring: assume the worst padding.
      used_ += bytes + align - 1;
      failed_ = true;
      return nullptr;
    }
    const uintptr_t at = (base_ + used_ + align - 1) & ~(uintptr_t{align} - 1);
    const size_t end = static_cast<size_t>(at - base_) + bytes;
    if (end > capacity_ || end < used_) {
      failed_ = true;
      return nullptr;
    }
    used_ = end;
    return reinterpret_cast<void*>(at);
  }

  bool measuring() const { return base_ == 0; }
  // Bytes carved so far (with padding); when measuring, an upper bound of what
  // the same requests need from a block at any address.
  size_t used() const { return used_; }
  size_t capacity() const { return capacity_; }
  // Whether any Allocate returned null (exhausted, or measuring).
  bool failed() const { return failed_; }

 private:
  uintptr_t base_;
  size_t capacity_;
  size_t used_ = 0;
  bool failed_ = false;
};

}  // namespace fedtiny::client

#endif  // FEDTINY_CLIENT_CORE_ARENA_H_
