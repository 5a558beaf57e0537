// The device's end of the gateway link (client/gateway/frame.h): a request frame
// out over the UART, its answer frame back. The framing is the gateway's own
// code (client/gateway/frame.cc, zlib's CRC-32 from Debian's source package), so
// both ends cannot drift apart. Device code: no OS; the frame buffers use the
// heap (newlib), at most one answer frame plus one UART byte at a time.
#ifndef FEDTINY_TOOLS_CROSS_MCU_DEVICE_LINK_H_
#define FEDTINY_TOOLS_CROSS_MCU_DEVICE_LINK_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "client/gateway/frame.h"
#include "client/wire/wire.h"
#include "tools/cross/mcu/cmsdk_uart.h"

namespace fedtiny::mcu {

// Borrows the UART; not thread-safe. Call() blocks until the answer arrives
// (the gateway always answers, with an error frame if nothing else).
class DeviceLink {
 public:
  DeviceLink(CmsdkUart& uart, size_t max_payload) : uart_(uart), decoder_(max_payload) {}
  // Call sends one request frame and returns the next intact frame received.
  // An answer of DATA_LOSS (the gateway got our frame corrupted or cut short)
  // sends it again, up to kAttempts times in all: every Federation call is safe
  // to retry (docs/protocol.md, "Device link").
  gateway::Frame Call(gateway::FrameType type, const std::string& payload);
  uint64_t dropped_bytes() const { return decoder_.dropped_bytes(); }
  uint64_t resent() const { return resent_; }

 private:
  static constexpr int kAttempts = 3;

  CmsdkUart& uart_;
  gateway::FrameDecoder decoder_;
  uint64_t resent_ = 0;
};

// A wire::ByteSink that appends to a string (a request frame's payload).
class StringSink : public wire::ByteSink {
 public:
  explicit StringSink(std::string* out) : out_(out) {}
  bool Write(const uint8_t* data, size_t n) override {
    out_->append(reinterpret_cast<const char*>(data), n);
    return true;
  }

 private:
  std::string* out_;
};

// An error frame's text: "code N: message".
std::string DescribeError(const gateway::Frame& f);

}  // namespace fedtiny::mcu

#endif  // FEDTINY_TOOLS_CROSS_MCU_DEVICE_LINK_H_
