#include "proto/upload_delta.h"

#include <string>

#include "proto/delta_codec.h"
#include "tools/base/update_codec.h"

namespace fedtiny {

void SetUploadDelta(const v1::Assignment& a, absl::Span<const float> delta, uint64_t noise_seed,
                    v1::UploadRequest& up) {
  up.clear_delta();
  up.clear_compressed_delta();
  CompressionSpec spec;
  std::string error;
  if (!a.compression().empty() && ParseCompressionSpec(a.compression(), &spec, &error) && !spec.none()) {
    // A fixed range shares the round's seed (summable levels); otherwise the
    // upload token makes each device's rotation its own.
    const uint64_t seed =
        CompressionSeed(a.task(), a.round(), spec.range > 0 ? std::string() : a.upload_token());
    std::string bytes;
    if (EncodeCompressed(delta.data(), delta.size(), spec, seed, noise_seed, &bytes, &error)) {
      up.set_compressed_delta(std::move(bytes));
      return;
    }
  }
  up.set_delta(EncodeDelta(delta));
}

}  // namespace fedtiny
