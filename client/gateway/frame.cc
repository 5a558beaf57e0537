#include "client/gateway/frame.h"

#include <zlib.h>

#include <cstring>

namespace fedtiny::gateway {

namespace {

void PutU32(std::string& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

uint32_t GetU32(const char* p) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(p[i]);
  return v;
}

uint32_t Crc(const char* data, size_t n) {
  return static_cast<uint32_t>(
      crc32(crc32(0L, Z_NULL, 0), reinterpret_cast<const Bytef*>(data), static_cast<uInt>(n)));
}

}  // namespace

std::string EncodeFrame(FrameType type, std::string_view payload) {
  std::string out = "FT";
  out.push_back(static_cast<char>(type));
  PutU32(out, static_cast<uint32_t>(payload.size()));
  out.append(payload);
  PutU32(out, Crc(out.data() + 2, out.size() - 2));
  return out;
}

std::string ErrorPayload(int grpc_code, std::string_view message) {
  std::string out(1, static_cast<char>(grpc_code));
  out.append(message);
  return out;
}

void FrameDecoder::Feed(const void* data, size_t n) {
  if (start_ > 0 && start_ >= buffer_.size() / 2) {
    buffer_.erase(0, start_);
    start_ = 0;
  }
  buffer_.append(static_cast<const char*>(data), n);
}

bool FrameDecoder::DropPartial() {
  const size_t avail = buffer_.size() - start_;
  if (avail == 0) return false;
  dropped_ += avail;
  ++bad_frames_;
  buffer_.clear();
  start_ = 0;
  return true;
}

bool FrameDecoder::Next(Frame* out) {
  while (true) {
    const size_t avail = buffer_.size() - start_;
    const char* p = buffer_.data() + start_;
    if (avail < 2) return false;
    if (p[0] != 'F' || p[1] != 'T') {
      // Resynchronise on the next 'F'.
      const void* f = std::memchr(p + 1, 'F', avail - 1);
      const size_t skip = f == nullptr ? avail : static_cast<const char*>(f) - p;
      start_ += skip;
      dropped_ += skip;
      continue;
    }
    if (avail < 7) return false;
    const uint32_t length = GetU32(p + 3);
    if (length > max_payload_) {
      ++bad_frames_;
      start_ += 1;  // Not a frame we accept: look for the next one.
      dropped_ += 1;
      continue;
    }
    if (avail < kFrameOverhead + length) return false;
    if (GetU32(p + 7 + length) != Crc(p + 2, 5 + length)) {
      ++bad_frames_;
      start_ += 1;
      dropped_ += 1;
      continue;
    }
    out->type = static_cast<FrameType>(static_cast<uint8_t>(p[2]));
    out->payload.assign(p + 7, length);
    start_ += kFrameOverhead + length;
    return true;
  }
}

}  // namespace fedtiny::gateway
