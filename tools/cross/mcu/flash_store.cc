#include "tools/cross/mcu/flash_store.h"

#include <cstring>

#ifndef FEDTINY_MCU_FLASH_STORE_BYTES
#define FEDTINY_MCU_FLASH_STORE_BYTES (512 << 10)
#endif

namespace fedtiny::mcu {
namespace {

// Not zero-initialized: NOLOAD, like erased-then-written flash nobody loads.
__attribute__((section(".flash_store"), aligned(4096))) uint8_t g_flash_store[FEDTINY_MCU_FLASH_STORE_BYTES];
__attribute__((section(".flash_store"), aligned(4096))) uint8_t g_key_slot[4096];

}  // namespace

FlashStore& FlashStore::Board() {
  static FlashStore store(g_flash_store, sizeof(g_flash_store));
  return store;
}

FlashStore& FlashStore::BoardKeySlot() {
  static FlashStore slot(g_key_slot, sizeof(g_key_slot));
  return slot;
}

bool FlashStore::Erase(size_t bytes) {
  if (bytes > capacity_) return false;
  std::memset(base_, 0xFF, bytes);
  erased_ = bytes;
  return true;
}

bool FlashStore::Program(size_t offset, const uint8_t* data, size_t n) {
  if (offset > erased_ || n > erased_ - offset) return false;
  std::memcpy(base_ + offset, data, n);
  return true;
}

}  // namespace fedtiny::mcu
