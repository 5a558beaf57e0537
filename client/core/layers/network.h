// Network: a sequence of layers (layer_spec.h) run on NHWC examples with
// TFLite Micro's memory rules. Create() checks every shape once (and
// allocates: it is the setup); Bind() carves two ping-pong activation buffers
// from the app's Arena, sized up front by ArenaBytes(); Forward() then runs any
// number of examples, one at a time, allocating nothing: the first layer reads
// the caller's input, the last writes the caller's output, the layers between
// alternate between the two buffers. Each buffer holds the largest activation
// that lands in it, for one example (rows run one after the other, so the
// arena does not grow with the batch).
//
// A value type until bound; Bind() stores pointers into the arena, which must
// outlive every Forward() (a copy shares them: run one copy at a time). Not
// thread-safe: one Forward() at a time.
#ifndef FEDTINY_CLIENT_CORE_LAYERS_NETWORK_H_
#define FEDTINY_CLIENT_CORE_LAYERS_NETWORK_H_

#include <cstdint>
#include <vector>

#include "client/core/arena.h"
#include "client/core/layers/layer_spec.h"
#include "client/core/layers/shape.h"
#include "client/core/status.h"

namespace fedtiny::client::layers {

class Network {
 public:
  // Create checks the layers from `input` on. kInvalidArgument naming the
  // layer's index and type when a layer refuses its input (see each type's
  // OutputShape), or for no layers or an invalid input shape.
  static StatusOr<Network> Create(Shape input, std::vector<LayerSpec> layers);

  // ArenaBytes is what Bind() carves (an upper bound at any alignment of the
  // block): the two activation buffers and their alignment padding.
  [[nodiscard]] int64_t ArenaBytes() const;
  // Bind carves the buffers from `arena`. kResourceExhausted naming the bytes
  // needed when the arena is too small (the network stays unbound then).
  Status Bind(Arena& arena);
  [[nodiscard]] bool bound() const { return bound_; }

  // Forward runs `rows` examples from `inputs` (rows x input().size() floats)
  // into `outputs` (rows x output().size() floats; must not overlap inputs).
  // kFailedPrecondition when not bound; kInvalidArgument for null pointers or
  // rows < 1. Allocates nothing (an error status's message does).
  Status Forward(const float* inputs, int64_t rows, float* outputs) const;

  [[nodiscard]] Shape input() const { return shapes_.front(); }
  [[nodiscard]] Shape output() const { return shapes_.back(); }
  // shapes()[i] is layer i's input, shapes()[i + 1] its output.
  [[nodiscard]] const std::vector<Shape>& shapes() const { return shapes_; }
  [[nodiscard]] const std::vector<LayerSpec>& layers() const { return layers_; }
  [[nodiscard]] int64_t num_params() const;
  // Multiply-adds of one example's convolutions and dense layers.
  [[nodiscard]] int64_t multiply_adds() const;

 private:
  Network(std::vector<LayerSpec> layers, std::vector<Shape> shapes);
  struct Buffers {
    float* at[2] = {nullptr, nullptr};
  };
  // The buffers carved from `arena` (null where nothing fitted or measuring).
  Buffers Layout(Arena& arena) const;

  std::vector<LayerSpec> layers_;
  std::vector<Shape> shapes_;
  int64_t buffer_floats_[2] = {0, 0};  // The largest activation each buffer holds.
  Buffers buffers_;
  bool bound_ = false;
};

}  // namespace fedtiny::client::layers

#endif  // FEDTINY_CLIENT_CORE_LAYERS_NETWORK_H_
