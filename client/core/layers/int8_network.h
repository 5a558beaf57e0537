// Int8Network: the integer int8 counterpart of Network (network.h), TFLite
// Micro's scheme (int8_conv.h, int8_layers.h): activations int8 asymmetric per
// tensor, weights int8 symmetric per output channel, int32 bias and
// accumulators, fixed-point requantization. Every field of the layers is plain
// public data (ints, floats, std::vector) so a codec can ship a quantized
// network; Create() validates all of it, since it may come from the network.
//
// QuantizeNetwork() builds one from a float Network by post-training
// quantization calibrated on examples. Bind() carves two ping-pong int8
// buffers from the app's Arena (ArenaBytes() up front); Forward() quantizes
// each float example into the first, runs the layers alternating between the
// two, and dequantizes the last into the caller's output, allocating nothing.
//
// A value type until bound; Bind() stores pointers into the arena, which must
// outlive every Forward() (a copy shares them: run one copy at a time). Not
// thread-safe: one Forward() at a time.
#ifndef FEDTINY_CLIENT_CORE_LAYERS_INT8_NETWORK_H_
#define FEDTINY_CLIENT_CORE_LAYERS_INT8_NETWORK_H_

#include <cstdint>
#include <variant>
#include <vector>

#include "client/core/arena.h"
#include "client/core/int8_inference.h"
#include "client/core/layers/int8_conv.h"
#include "client/core/layers/int8_layers.h"
#include "client/core/layers/network.h"
#include "client/core/layers/shape.h"
#include "client/core/status.h"

namespace fedtiny::client::layers {

// The int8 dispatch list, in LayerSpec's order (each type's kName is its float
// type's).
using Int8LayerSpec = std::variant<Int8Conv2d, Int8DepthwiseConv2d, Int8AvgPool2d, Int8MaxPool2d,
                                   Int8GlobalAvgPool2d, Int8Flatten, Int8Activation, Int8Dense>;

class Int8Network {
 public:
  // Create checks everything a quantized network holds, from `input` (its
  // shape) and `input_quant` (its params) on. kInvalidArgument, naming the
  // layer's index and type where it is a layer's, for: no layers; an invalid
  // shape; a layer refusing its input shape; a scale not positive and finite
  // or a zero point outside [-128, 127]; a layer's input params differing
  // from the tensor it reads (the previous layer's output params, or
  // input_quant); per-channel vectors (weight_scales, bias, multipliers,
  // shifts) of the wrong size; a multiplier outside [2^30, 2^31) (or 0) or a
  // shift outside [-31, 30], or one that is not what the scales give
  // (QuantizeMultiplier of input.scale * weight_scale / output.scale); a clamp
  // outside [-128, 127] or empty. kOutOfRange when a layer's int32
  // accumulator could overflow (|bias| + taps * 128 * 255 > 2^31 - 1).
  static StatusOr<Int8Network> Create(Shape input, Int8Params input_quant,
                                      std::vector<Int8LayerSpec> layers);

  // ArenaBytes is what Bind() carves (an upper bound at any alignment): two
  // int8 buffers; tensor t (0 the input, i + 1 layer i's output) lands in
  // buffer t % 2, each as large as the largest it holds, for one example.
  [[nodiscard]] int64_t ArenaBytes() const;
  // Bind carves them from `arena`; kResourceExhausted naming the bytes needed
  // when it is too small (the network stays unbound, the arena unchanged).
  Status Bind(Arena& arena);
  [[nodiscard]] bool bound() const { return bound_; }

  // Forward runs `rows` float examples (rows x input().size()) into `outputs`
  // (rows x output().size(), dequantized): each quantized with input_quant()
  // (clamped to [-128, 127]; NaN becomes -128). kFailedPrecondition when not
  // bound; kInvalidArgument for null pointers or rows < 1. Allocates nothing.
  Status Forward(const float* inputs, int64_t rows, float* outputs) const;
  // ForwardInt8 is the same on int8 input and output (input_quant() and
  // output_quant() describe them); no buffer may overlap another.
  Status ForwardInt8(const int8_t* inputs, int64_t rows, int8_t* outputs) const;

  [[nodiscard]] Shape input() const { return shapes_.front(); }
  [[nodiscard]] Shape output() const { return shapes_.back(); }
  [[nodiscard]] Int8Params input_quant() const { return quants_.front(); }
  [[nodiscard]] Int8Params output_quant() const { return quants_.back(); }
  // shapes()[i] and quants()[i] are layer i's input, [i + 1] its output.
  [[nodiscard]] const std::vector<Shape>& shapes() const { return shapes_; }
  [[nodiscard]] const std::vector<Int8Params>& quants() const { return quants_; }
  [[nodiscard]] const std::vector<Int8LayerSpec>& layers() const { return layers_; }
  // weight_bytes is the download a variant charges: int8 weights, an int32
  // bias and a float weight scale per output channel (the per-tensor params,
  // multipliers and shifts, derived from them, are not counted).
  [[nodiscard]] int64_t weight_bytes() const;
  // Multiply-adds of one example's convolutions and dense layers (as
  // Network::multiply_adds).
  [[nodiscard]] int64_t multiply_adds() const;

 private:
  Int8Network(std::vector<Int8LayerSpec> layers, std::vector<Shape> shapes,
              std::vector<Int8Params> quants);
  struct Buffers {
    int8_t* at[2] = {nullptr, nullptr};
  };
  Buffers Layout(Arena& arena) const;
  // RunLayers runs one example from `x` into `y` through the buffers.
  void RunLayers(const int8_t* x, int8_t* y) const;

  std::vector<Int8LayerSpec> layers_;
  std::vector<Shape> shapes_;
  std::vector<Int8Params> quants_;
  int64_t buffer_bytes_[2] = {0, 0};
  Buffers buffers_;
  bool bound_ = false;
};

// QuantizeNetwork: post-training quantization of `net`, calibrated on
// `examples` (rows x net.input().size() floats): the float network runs on
// them, and each tensor's params are Int8ParamsForRange of its min and max
// over the batch (widened to include 0) for the input and every convolution's
// and dense layer's output; pooling, flatten and activation layers keep their
// input's params. kInvalidArgument for null examples, rows < 1, a non-finite
// example or activation, or a layer the quantizers refuse; kOutOfRange (naming
// the layer) for a bias, multiplier or accumulator that does not fit the
// integer kernels. Setup code: allocates (a batch of activations at a time).
StatusOr<Int8Network> QuantizeNetwork(const Network& net, const float* examples, int64_t rows);

}  // namespace fedtiny::client::layers

#endif  // FEDTINY_CLIENT_CORE_LAYERS_INT8_NETWORK_H_
