// The device link's framing: how a microcontroller and its gateway (a phone or
// a Linux box) exchange Federation messages over a byte stream (a UART, BLE, a
// QEMU serial port, a pty). Each frame is
//   'F' 'T' | type: u8 | length: u32 LE | payload: length bytes | crc32: u32 LE
// where the CRC-32 (zlib's, as in PNG and Ethernet) covers type, length and
// payload. The payload is a serialized protobuf message (nanopb on the device,
// the same wire format). A reader that meets bytes that are not a frame skips
// to the next 'F' 'T' and counts what it dropped: a noisy line loses frames,
// never the stream. See docs/protocol.md, "Device link".
#ifndef FEDTINY_CLIENT_GATEWAY_FRAME_H_
#define FEDTINY_CLIENT_GATEWAY_FRAME_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace fedtiny::gateway {

// Request types are odd, their answers the next even number.
enum class FrameType : uint8_t {
  kCheckIn = 1,           // CheckInRequest
  kCheckInResponse = 2,   // CheckInResponse
  kDownload = 3,          // DownloadRequest
  kDownloadResponse = 4,  // DownloadResponse
  kUpload = 5,            // UploadRequest
  kUploadResponse = 6,    // UploadResponse
  kFailure = 7,           // FailureReport
  kFailureResponse = 8,   // FailureResponse
  kMetadata = 9,          // MetadataRequest (trust metadata, docs/security.md)
  kMetadataResponse = 10, // MetadataResponse
  kEnroll = 11,           // EnrollRequest (the device's public key, docs/security.md)
  kEnrollResponse = 12,   // EnrollResponse
  kError = 15,            // code: u8 (gRPC's numbering) | message: UTF-8
};

inline constexpr size_t kFrameOverhead = 2 + 1 + 4 + 4;

// The bytes of one frame.
std::string EncodeFrame(FrameType type, std::string_view payload);
// An kError frame's payload.
std::string ErrorPayload(int grpc_code, std::string_view message);

struct Frame {
  FrameType type = FrameType::kError;
  std::string payload;
};

// Reassembles frames from bytes fed in any pieces. Not thread-safe; owns its
// buffer, which never holds more than one frame of at most `max_payload` bytes
// plus what one Feed() brought.
class FrameDecoder {
 public:
  explicit FrameDecoder(size_t max_payload) : max_payload_(max_payload) {}

  void Feed(const void* data, size_t n);
  // The next whole, intact frame, if the bytes fed so far hold one.
  bool Next(Frame* out);
  // Drops a partial frame (the link went quiet mid-frame: a corrupted length
  // would otherwise hold the stream until that many bytes came). Returns
  // whether there was one; it counts as a bad frame.
  bool DropPartial();
  // Bytes skipped because they were not part of an intact frame (bad magic, a
  // length beyond max_payload, a CRC mismatch, a dropped partial frame).
  uint64_t dropped_bytes() const { return dropped_; }
  uint64_t bad_frames() const { return bad_frames_; }

 private:
  const size_t max_payload_;
  std::string buffer_;
  size_t start_ = 0;  // Consumed prefix of buffer_.
  uint64_t dropped_ = 0;
  uint64_t bad_frames_ = 0;
};

}  // namespace fedtiny::gateway

#endif  // FEDTINY_CLIENT_GATEWAY_FRAME_H_
