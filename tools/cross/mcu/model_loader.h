// A downloaded, hash-checked fedtiny.v1.Model (float32 variant) used where it
// lies, in the device's flash (flash_store.h), with wire::DecodeModel:
// - Open() reads the layer shapes (one pass) and copies only the head, flat in
//   the wire layout (each layer's weights column-major, then its bias), into the
//   app's arena (a second pass);
// - Features() runs the frozen body on one example by streaming the body's
//   weights out of flash chunk by chunk (one pass per call), so the body never
//   occupies RAM: working memory is two activation vectors of the widest body
//   layer and one decode chunk, all carved from the arena by Open().
// Device code: C++17 and nanopb; no heap.
#ifndef FEDTINY_TOOLS_CROSS_MCU_MODEL_LOADER_H_
#define FEDTINY_TOOLS_CROSS_MCU_MODEL_LOADER_H_

#include <cstddef>
#include <cstdint>

#include "client/core/arena.h"
#include "client/core/head_trainer.h"
#include "client/core/span.h"

namespace fedtiny::wire {
struct LayerInfo;
}  // namespace fedtiny::wire

namespace fedtiny::mcu {

inline constexpr size_t kMaxLayers = 8;  // Body and head together.

// Borrows the bundle's bytes (which must stay put) and the arena blocks Open()
// carved. Not thread-safe.
class FlashModel {
 public:
  // Open checks the model at `data` (`size` bytes) and carves its RAM from
  // `arena`. Returns nullptr on success, else a static message: nanopb's, or
  // this file's (an int8 tensor, too many layers, a tensor whose value count
  // disagrees with its layer, layers that do not chain, no head, "arena:
  // too small for the model").
  static const char* Open(const uint8_t* data, size_t size, client::Arena& arena, FlashModel* out);

  // Features writes the body's output for one example (`input`: input_dim()
  // floats) to `out` (feature_dim() floats); with no body layers, a copy of the
  // input. nullptr on success, else nanopb's message (the bundle changed under it).
  const char* Features(const float* input, float* out) const;

  int32_t input_dim() const { return input_dim_; }
  int32_t feature_dim() const { return feature_dim_; }
  // The head, flat in the wire layout (Head::Flatten's), in the arena: as
  // downloaded after Open(); a trainer may update it in place.
  client::Span<float> head() const { return head_; }
  client::Span<const client::HeadLayerShape> head_shape() const {
    return {head_shape_, head_layers_};
  }
  // The arena bytes Open() carved.
  size_t arena_bytes() const { return arena_bytes_; }

 private:
  struct BodyLayer {
    int32_t in = 0;
    int32_t out = 0;
    bool relu = false;
  };
  friend class ForwardSink;

  // Takes pass one's layers (wire order); checks that they chain into a head.
  const char* TakeShapes(const wire::LayerInfo* layers, size_t count, int32_t declared_input);

  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
  int32_t input_dim_ = 0;
  int32_t feature_dim_ = 0;
  BodyLayer body_[kMaxLayers];
  size_t body_layers_ = 0;
  client::HeadLayerShape head_shape_[kMaxLayers];
  int64_t head_offset_[kMaxLayers] = {};  // Each head layer's weights in head_.
  size_t head_layers_ = 0;
  client::Span<float> head_;
  float* act_[2] = {nullptr, nullptr};  // Ping-pong, the widest body layer each.
  float* scratch_ = nullptr;            // One decode chunk.
  size_t arena_bytes_ = 0;
};

}  // namespace fedtiny::mcu

#endif  // FEDTINY_TOOLS_CROSS_MCU_MODEL_LOADER_H_
