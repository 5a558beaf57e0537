#include "tools/cross/mcu/cmsdk_uart.h"

namespace fedtiny::mcu {
namespace {

// Register offsets and bits (Arm CMSDK technical reference, "APB UART").
constexpr uintptr_t kData = 0x00;
constexpr uintptr_t kState = 0x04;
constexpr uintptr_t kCtrl = 0x08;
constexpr uintptr_t kBaudDiv = 0x10;
constexpr uint32_t kStateTxFull = 1u << 0;
constexpr uint32_t kStateRxFull = 1u << 1;
constexpr uint32_t kCtrlTxEnable = 1u << 0;
constexpr uint32_t kCtrlRxEnable = 1u << 1;

}  // namespace

void CmsdkUart::Enable(uint32_t bauddiv) {
  Reg(kBaudDiv) = bauddiv < 16 ? 16 : bauddiv;
  Reg(kCtrl) = kCtrlTxEnable | kCtrlRxEnable;
}

void CmsdkUart::Write(const void* data, size_t n) {
  const uint8_t* p = static_cast<const uint8_t*>(data);
  for (size_t i = 0; i < n; ++i) {
    while (Reg(kState) & kStateTxFull) {
    }
    Reg(kData) = p[i];
  }
}

uint8_t CmsdkUart::ReadByte() {
  while (!(Reg(kState) & kStateRxFull)) {
  }
  return static_cast<uint8_t>(Reg(kData));
}

}  // namespace fedtiny::mcu
