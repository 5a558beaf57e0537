#include "proto/meter_chain.h"

#include <cstring>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace fedtiny::meter {
namespace {

void PutLe64(uint64_t v, uint8_t* out) {
  for (int i = 0; i < 8; ++i) out[i] = static_cast<uint8_t>(v >> (8 * i));
}

}  // namespace

void EncodeLink(const uint8_t (&prev)[32], uint64_t index,
                uint64_t model_version, int64_t time_us, uint64_t counter,
                uint8_t (&out)[kLinkBytes]) {
  std::memcpy(out, prev, 32);
  PutLe64(index, out + 32);
  PutLe64(model_version, out + 40);
  PutLe64(static_cast<uint64_t>(time_us), out + 48);
  PutLe64(counter, out + 56);
}

absl::StatusOr<Sha256Digest> NextHash(const Sha256Digest& prev,
                                      const UsageRecord& record) {
  uint8_t prev_bytes[32];
  std::memcpy(prev_bytes, prev.data(), 32);
  uint8_t link[kLinkBytes];
  EncodeLink(prev_bytes, record.index(), record.model_version(),
             record.time_us(), record.counter(), link);
  return Sha256(
      absl::string_view(reinterpret_cast<const char*>(link), kLinkBytes));
}

absl::StatusOr<Sha256Digest> HashOfBytes(absl::string_view bytes) {
  if (bytes.size() != 32) {
    return absl::InvalidArgumentError(
        absl::StrCat("meter: a chain hash has 32 bytes, not ", bytes.size()));
  }
  Sha256Digest d;
  std::memcpy(d.data(), bytes.data(), 32);
  return d;
}

std::string AsBytes(const Sha256Digest& digest) {
  return std::string(reinterpret_cast<const char*>(digest.data()),
                     digest.size());
}

}  // namespace fedtiny::meter
