// Where the downloaded bundle lives on the device: flash, not RAM. On a real
// Cortex-M4 part the bundle is programmed into a reserved flash area as its
// chunks arrive and then read in place (flash is memory-mapped); RAM holds only
// what is being worked on. On QEMU's mps2-an386 the area is the `.flash_store`
// section, which tools/cross/mps2/mps2.ld places in the FLASH region (the 4 MiB
// at 0x0, beside the code) as NOLOAD, so it is never part of the RAM figures
// (data + bss + heap + stack). QEMU models that memory as writable, so Program()
// is a copy here; a real part's would run its flash controller's sequence.
// Device code: no heap. Not thread-safe.
#ifndef FEDTINY_TOOLS_CROSS_MCU_FLASH_STORE_H_
#define FEDTINY_TOOLS_CROSS_MCU_FLASH_STORE_H_

#include <cstddef>
#include <cstdint>

#include "client/wire/wire.h"

namespace fedtiny::mcu {

// Borrows the flash area [base, base + capacity).
class FlashStore {
 public:
  FlashStore(uint8_t* base, size_t capacity) : base_(base), capacity_(capacity) {}
  // The board's area (the `.flash_store` section, FEDTINY_MCU_FLASH_STORE_BYTES).
  static FlashStore& Board();
  // The board's key sector (4 KiB of `.flash_store` apart from the bundle's
  // area): the device key's record (device_key.h), which a download never
  // erases, so a reboot keeps the key.
  static FlashStore& BoardKeySlot();

  // Erase makes the first `bytes` programmable (all 0xFF, as erased flash);
  // false when they exceed the area.
  bool Erase(size_t bytes);
  // Program writes `n` bytes at `offset` of the erased range; false past it.
  bool Program(size_t offset, const uint8_t* data, size_t n);
  // The area, memory-mapped for reading.
  const uint8_t* data() const { return base_; }
  size_t capacity() const { return capacity_; }

 private:
  uint8_t* base_;
  size_t capacity_;
  size_t erased_ = 0;
};

// A wire::ByteSink that programs consecutive bytes of a FlashStore.
class FlashWriter : public wire::ByteSink {
 public:
  FlashWriter(FlashStore& flash, size_t offset) : flash_(flash), offset_(offset) {}
  bool Write(const uint8_t* data, size_t n) override {
    if (!flash_.Program(offset_, data, n)) return false;
    offset_ += n;
    return true;
  }
  size_t offset() const { return offset_; }

 private:
  FlashStore& flash_;
  size_t offset_;
};

}  // namespace fedtiny::mcu

#endif  // FEDTINY_TOOLS_CROSS_MCU_FLASH_STORE_H_
