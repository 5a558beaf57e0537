#include "proto/delta_codec.h"

#include <cstdint>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace fedtiny {

// Shifts instead of a memcpy of the floats: the same code is right on every
// host, so the tests here cover the big-endian case too. Compilers turn these
// loops into plain loads and stores on little-endian machines.

std::string EncodeDelta(absl::Span<const float> delta) {
  std::string out(delta.size() * 4, '\0');
  for (size_t i = 0; i < delta.size(); ++i) {
    uint32_t bits;
    std::memcpy(&bits, &delta[i], 4);
    for (int b = 0; b < 4; ++b) out[4 * i + b] = static_cast<char>(bits >> (8 * b));
  }
  return out;
}

absl::StatusOr<std::vector<float>> DecodeDelta(absl::string_view bytes) {
  if (bytes.size() % 4 != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "delta: ", bytes.size(), " bytes is not a whole number of float32 values"));
  }
  std::vector<float> delta(bytes.size() / 4);
  for (size_t i = 0; i < delta.size(); ++i) {
    uint32_t bits = 0;
    for (int b = 0; b < 4; ++b) {
      bits |= uint32_t{static_cast<unsigned char>(bytes[4 * i + b])} << (8 * b);
    }
    std::memcpy(&delta[i], &bits, 4);
  }
  return delta;
}

}  // namespace fedtiny
