// The bytes of an update delta (UploadRequest.delta): the flat head layout
// (proto/model_codec.h) as IEEE-754 float32 values, each little-endian, with no
// header or padding, on any host. The SDK encodes, the coordinator decodes;
// docs/protocol.md documents the format.
#ifndef FEDTINY_PROTO_DELTA_CODEC_H_
#define FEDTINY_PROTO_DELTA_CODEC_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace fedtiny {

// EncodeDelta returns 4 bytes per value, least significant byte first (1.0f is
// 00 00 80 3f). NaN payloads and signed zeros are kept bit for bit. Pure,
// thread-safe.
std::string EncodeDelta(absl::Span<const float> delta);

// DecodeDelta is EncodeDelta's inverse. kInvalidArgument when the size is not a
// multiple of 4. Values are not checked (the round engine refuses a wrong count
// or non-finite values as "malformed"). Pure, thread-safe.
absl::StatusOr<std::vector<float>> DecodeDelta(absl::string_view bytes);

namespace delta_internal {
// The byte-by-byte forms, right on any host (for tests; the public functions
// use them on big-endian hosts).
std::string EncodePortable(absl::Span<const float> delta);
void DecodePortable(absl::string_view bytes, std::vector<float>& delta);
}  // namespace delta_internal

}  // namespace fedtiny

#endif  // FEDTINY_PROTO_DELTA_CODEC_H_
