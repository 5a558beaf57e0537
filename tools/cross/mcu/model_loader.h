// Turns a downloaded, hash-checked fedtiny.v1.Model (float32 variant) into
// client/core's Body and Head on the device, with wire::DecodeModel: a first pass
// reads the layer shapes, then each tensor is decoded straight into the Eigen
// matrix made for it (wire::FixedBuffersSink), never through a copy of the model.
// Device code: C++17, Eigen and nanopb; the matrices live on the heap.
#ifndef FEDTINY_TOOLS_CROSS_MCU_MODEL_LOADER_H_
#define FEDTINY_TOOLS_CROSS_MCU_MODEL_LOADER_H_

#include <cstddef>
#include <cstdint>

#include "client/core/model.h"

namespace fedtiny::mcu {

inline constexpr size_t kMaxLayers = 8;  // Body and head together.

struct LoadedModel {
  client::Body body;
  client::Head head;
  int32_t input_dim = 0;
};

// LoadModel decodes `size` bytes at `data` into `out`. Returns nullptr on
// success, else a static message (nanopb's, or this file's: an int8 tensor, too
// many layers, a shape that disagrees with its values, an invalid head).
const char* LoadModel(const uint8_t* data, size_t size, LoadedModel* out);

}  // namespace fedtiny::mcu

#endif  // FEDTINY_TOOLS_CROSS_MCU_MODEL_LOADER_H_
