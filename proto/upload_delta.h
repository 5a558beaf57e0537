// The update delta of an upload in the form its assignment asks for: the
// float32 `delta` (proto/delta_codec.h) when Assignment.compression is empty,
// else `compressed_delta` encoded with that spec (tools/base/update_codec.h;
// docs/protocol.md, "Compressed updates"). Shared by the SDK's participant
// (client/transport) and the simulator's devices, so both send what the
// coordinator decodes.
#ifndef FEDTINY_PROTO_UPLOAD_DELTA_H_
#define FEDTINY_PROTO_UPLOAD_DELTA_H_

#include <cstdint>

#include "absl/types/span.h"
#include "proto/federation.pb.h"

namespace fedtiny {

// SetUploadDelta sets `up`'s delta or compressed_delta (clearing the other)
// for assignment `a`. `noise_seed` seeds the stochastic rounding: any value,
// different per upload. A spec this SDK cannot read, or a delta the codec
// refuses (non-finite values), falls back to float32, which the coordinator
// accepts from every device. Pure, thread-safe.
void SetUploadDelta(const v1::Assignment& a, absl::Span<const float> delta, uint64_t noise_seed,
                    v1::UploadRequest& up);

// UploadDeltaBytes is the size of what SetUploadDelta put in `up`.
inline int64_t UploadDeltaBytes(const v1::UploadRequest& up) {
  return static_cast<int64_t>(up.delta().size() + up.compressed_delta().size());
}

}  // namespace fedtiny

#endif  // FEDTINY_PROTO_UPLOAD_DELTA_H_
