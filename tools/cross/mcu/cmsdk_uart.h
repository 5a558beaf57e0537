// A polled driver for the Arm CMSDK APB UART, the MPS2 boards' serial ports
// (UART0 at 0x40004000 on mps2-an386; QEMU models it in hw/char/cmsdk-apb-uart.c
// and connects it to the first -serial backend). One byte of buffer each way:
// STATE bit 0 says TX is full, bit 1 that a received byte waits in DATA.
// Device code: no OS, no heap.
#ifndef FEDTINY_TOOLS_CROSS_MCU_CMSDK_UART_H_
#define FEDTINY_TOOLS_CROSS_MCU_CMSDK_UART_H_

#include <cstddef>
#include <cstdint>

namespace fedtiny::mcu {

// Borrows the UART's registers at `base`; not thread-safe (one user, no
// interrupts). Every call blocks, busy-waiting on STATE.
class CmsdkUart {
 public:
  static constexpr uintptr_t kMps2Uart0 = 0x40004000u;

  explicit CmsdkUart(uintptr_t base) : base_(base) {}
  // Enable enables TX and RX. `bauddiv` is the clock divider (>= 16; the board
  // clock / baud rate on hardware, only checked for range under QEMU).
  void Enable(uint32_t bauddiv);
  // Write sends `n` bytes, waiting while TX is full.
  void Write(const void* data, size_t n);
  // ReadByte waits for a received byte.
  uint8_t ReadByte();

 private:
  volatile uint32_t& Reg(uintptr_t offset) const {
    return *reinterpret_cast<volatile uint32_t*>(base_ + offset);
  }
  const uintptr_t base_;
};

}  // namespace fedtiny::mcu

#endif  // FEDTINY_TOOLS_CROSS_MCU_CMSDK_UART_H_
