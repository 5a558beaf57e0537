#include "tools/cross/mcu/device_link.h"

namespace fedtiny::mcu {

namespace {

constexpr uint8_t kDataLoss = 15;  // gRPC's DATA_LOSS: the gateway lost our frame.

bool LostOnTheLine(const gateway::Frame& f) {
  return f.type == gateway::FrameType::kError && !f.payload.empty() &&
         static_cast<uint8_t>(f.payload[0]) == kDataLoss;
}

}  // namespace

gateway::Frame DeviceLink::Call(gateway::FrameType type, const std::string& payload) {
  const std::string frame = gateway::EncodeFrame(type, payload);
  gateway::Frame answer;
  for (int attempt = 0; attempt < kAttempts; ++attempt) {
    uart_.Write(frame.data(), frame.size());
    while (!decoder_.Next(&answer)) {
      const uint8_t b = uart_.ReadByte();
      decoder_.Feed(&b, 1);
    }
    if (!LostOnTheLine(answer)) break;
    ++resent_;
  }
  return answer;
}

std::string DescribeError(const gateway::Frame& f) {
  if (f.type != gateway::FrameType::kError) {
    return "unexpected frame type " + std::to_string(static_cast<int>(f.type));
  }
  if (f.payload.empty()) return "error frame without a code";
  return "code " + std::to_string(static_cast<uint8_t>(f.payload[0])) + ": " + f.payload.substr(1);
}

}  // namespace fedtiny::mcu
