// fedtiny's device messages in nanopb: a thin C++17 layer over the C code that
// //client/wire:federation_nanopb generates from proto/model.proto and
// proto/federation.proto (docs/client.md, "Wire format on devices").
//
// For a microcontroller: no protobuf C++ runtime, no Abseil, no exceptions, no
// heap. Every buffer is the caller's; the largest structs are the nanopb
// messages themselves (CheckInResponse ~9 KB with its 16 bundles and 16 wrapped
// model keys of at most 400 bytes each, UploadRequest
// ~1.5 KB with its 16 metrics), which the caller places where it likes.
//
// Model weights never sit in a wire buffer: DecodeModel reads a serialized Model
// from a ByteSource (e.g. the bundle saved to flash) and hands the weights to a
// ModelSink in chunks of the caller's scratch buffer, layer by layer.
// EncodeUploadRequest writes the delta straight from the caller's float array.
#ifndef FEDTINY_CLIENT_WIRE_WIRE_H_
#define FEDTINY_CLIENT_WIRE_WIRE_H_

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "pb.h"
#include "proto/federation.nanopb.h"
#include "proto/model.nanopb.h"

namespace fedtiny::wire {

// Ok, or an error with a static message (nanopb's, e.g. "io error", "string
// overflow", or this layer's). Never allocates.
class Result {
 public:
  static Result Ok() { return Result(nullptr); }
  static Result Error(const char* message) { return Result(message ? message : "error"); }
  bool ok() const { return message_ == nullptr; }
  const char* message() const { return message_ ? message_ : ""; }

 private:
  explicit Result(const char* message) : message_(message) {}
  const char* message_;
};

// Pull-style input, e.g. a bundle in flash.
class ByteSource {
 public:
  virtual ~ByteSource() = default;
  // Copies the next `n` bytes to `dst`; false on an I/O error or past the end.
  virtual bool Read(uint8_t* dst, size_t n) = 0;
};

// Output, e.g. a socket, a hash, flash.
class ByteSink {
 public:
  virtual ~ByteSink() = default;
  // Takes `n` bytes; false aborts the encode (or the decode that feeds it).
  virtual bool Write(const uint8_t* data, size_t n) = 0;
};

// A ByteSource over bytes in memory.
class BufferSource : public ByteSource {
 public:
  BufferSource(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  bool Read(uint8_t* dst, size_t n) override;
  size_t remaining() const { return size_ - pos_; }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
};

// A ByteSink into a fixed array; a write past its end fails.
class BufferSink : public ByteSink {
 public:
  BufferSink(uint8_t* data, size_t capacity) : data_(data), capacity_(capacity) {}
  bool Write(const uint8_t* data, size_t n) override;
  size_t size() const { return size_; }

 private:
  uint8_t* data_;
  size_t capacity_;
  size_t size_ = 0;
};

// A ByteSink that only counts.
class CountingSink : public ByteSink {
 public:
  bool Write(const uint8_t*, size_t n) override {
    size_ += n;
    return true;
  }
  size_t size() const { return size_; }

 private:
  size_t size_ = 0;
};

struct Bytes {
  const uint8_t* data = nullptr;
  size_t size = 0;
};

// ---------------------------------------------------------------------------
// Models, streamed.

enum class Stack : uint8_t { kBody = 0, kHead = 1 };
enum class Role : uint8_t { kWeights = 0, kBias = 1 };

inline constexpr int kMaxRank = 4;  // Tensor.shape max_count (proto/model.options).

// Where a chunk of weights belongs. `header` and `layer` are what was decoded
// before the chunk: the coordinator (C++ protobuf) writes fields in number order,
// so a tensor's shape and its layer's inputs/outputs/relu precede its values. A
// sink must not rely on that for a model from anywhere else; Layer() has the
// final values.
struct TensorRef {
  Stack stack;
  uint32_t layer_index;  // Within its stack, from 0.
  Role role;
  const fedtiny_v1_Tensor* header;     // shape, shape_count (so far).
  const fedtiny_v1_DenseLayer* layer;  // inputs, outputs, relu (so far).
};

struct TensorInfo {
  bool present = false;  // The field was on the wire.
  uint8_t rank = 0;
  int64_t shape[kMaxRank] = {};
  size_t float_count = 0;  // Tensor.values elements.
  size_t int8_count = 0;   // Tensor.int8_values bytes (the last occurrence's).
  float scale = 0;
  int32_t zero_point = 0;
};

struct LayerInfo {
  Stack stack = Stack::kBody;
  uint32_t index = 0;
  int32_t inputs = 0;
  int32_t outputs = 0;
  bool relu = false;
  TensorInfo weights;
  TensorInfo bias;
};

struct ModelInfo {
  int32_t input_dim = 0;
  uint32_t body_layers = 0;
  uint32_t head_layers = 0;
};

// Receives a model as it is decoded. Returning false stops the decode with an
// error ("model sink refused").
class ModelSink {
 public:
  virtual ~ModelSink() = default;
  // `n` float32 values of `t`, elements [offset, offset + n) of Tensor.values.
  virtual bool Floats(const TensorRef& t, size_t offset, const float* values, size_t n) = 0;
  // `n` int8 values of `t`, elements [offset, offset + n) of Tensor.int8_values.
  // A repeated int8_values field (legal protobuf, never written by the
  // coordinator) starts again at offset 0: the last one wins, as in protobuf.
  virtual bool Int8s(const TensorRef& t, size_t offset, const int8_t* values, size_t n) = 0;
  // After the layer's last byte: its header, both tensors' shapes, element
  // counts, scale and zero point. The place to check the shapes.
  virtual bool Layer(const LayerInfo& layer) = 0;
};

// Decodes a serialized fedtiny.v1.Model of exactly `size` bytes from `in`.
// `scratch` holds one chunk (at least 1 float; 64 floats are plenty): chunks are
// at most `scratch_floats` floats or 4 * `scratch_floats` int8 values. Memory:
// the scratch, one DenseLayer (~184 bytes) and nanopb's stack; nothing grows
// with the model. `info` (may be null) gets input_dim and the layer counts.
// Errors: nanopb's ("io error", "array overflow", "wrong wire type", ...),
// "values: length not a multiple of 4", "model sink refused".
Result DecodeModel(ByteSource& in, size_t size, float* scratch, size_t scratch_floats,
                   ModelSink& sink, ModelInfo* info);
Result DecodeModel(const uint8_t* data, size_t size, float* scratch, size_t scratch_floats,
                   ModelSink& sink, ModelInfo* info);

// One tensor's destination for FixedBuffersSink.
struct TensorBuffer {
  Stack stack;
  uint32_t layer_index;
  Role role;
  float* floats = nullptr;  // Tensor.values land here ...
  size_t float_capacity = 0;
  int8_t* int8s = nullptr;  // ... and Tensor.int8_values here.
  size_t int8_capacity = 0;
};

// A ModelSink that writes each tensor into the caller's buffer for it. A tensor
// without a buffer, or longer than its buffer, fails the decode. `layers` (may
// be null) receives each layer's LayerInfo in wire order, up to `layer_capacity`
// (more layers fail the decode).
class FixedBuffersSink : public ModelSink {
 public:
  FixedBuffersSink(const TensorBuffer* buffers, size_t buffer_count, LayerInfo* layers,
                   size_t layer_capacity)
      : buffers_(buffers), buffer_count_(buffer_count), layers_(layers), layer_capacity_(layer_capacity) {}
  bool Floats(const TensorRef& t, size_t offset, const float* values, size_t n) override;
  bool Int8s(const TensorRef& t, size_t offset, const int8_t* values, size_t n) override;
  bool Layer(const LayerInfo& layer) override;
  size_t layer_count() const { return layer_count_; }

 private:
  const TensorBuffer* Find(const TensorRef& t) const;
  const TensorBuffer* buffers_;
  size_t buffer_count_;
  LayerInfo* layers_;
  size_t layer_capacity_;
  size_t layer_count_ = 0;
};

// ---------------------------------------------------------------------------
// Check-in.

struct CheckInFields {
  std::string_view device_id;     // 1-128 bytes.
  std::string_view population;    // <= 64 bytes.
  std::string_view device_class;  // <= 64 bytes.
  bool has_capabilities = true;
  fedtiny_v1_DeviceCapabilities capabilities = fedtiny_v1_DeviceCapabilities_init_zero;
  bool has_state = true;
  fedtiny_v1_DeviceState state = fedtiny_v1_DeviceState_init_zero;
  Bytes device_secret;  // 16-64 bytes.
};

// Encodes a fedtiny.v1.CheckInRequest into `out`. A field longer than its
// max_size (federation.options) or a string with a NUL byte is an error; the
// server's lower bounds (device_id non-empty, secret >= 16 bytes) are its own.
Result EncodeCheckInRequest(const CheckInFields& fields, ByteSink& out);

// Decodes a fedtiny.v1.CheckInResponse: `which_outcome` is
// fedtiny_v1_CheckInResponse_retry_tag, _assignment_tag or 0 (neither).
Result DecodeCheckInResponse(const uint8_t* data, size_t size, fedtiny_v1_CheckInResponse* out);
Result DecodeAssignment(const uint8_t* data, size_t size, fedtiny_v1_Assignment* out);
Result DecodePlan(const uint8_t* data, size_t size, fedtiny_v1_Plan* out);

// ---------------------------------------------------------------------------
// Download: a DownloadResponse's `data` goes to `data_out` (flash, a hash) in
// chunks of `scratch`; `out` gets the bundle and offset, `data_size` the number
// of data bytes.
Result DecodeDownloadResponse(ByteSource& in, size_t size, uint8_t* scratch, size_t scratch_bytes,
                              ByteSink& data_out, fedtiny_v1_DownloadResponse* out, size_t* data_size);

// ---------------------------------------------------------------------------
// Upload.

struct Metric {
  std::string_view name;  // 1-64 bytes.
  double value;
};

struct UploadFields {
  std::string_view task;
  int64_t round = 0;
  Bytes upload_token;
  int32_t cluster = 0;
  int64_t model_version = 0;
  int64_t example_count = 0;
  // Streamed as little-endian float32 straight from this array (never copied
  // whole): the head's delta, layer by layer, weights then bias.
  const float* delta = nullptr;
  size_t delta_count = 0;
  const Metric* metrics = nullptr;  // At most 16.
  size_t metric_count = 0;
  Bytes device_secret;
};

// Encodes a fedtiny.v1.UploadRequest into `out` (e.g. the socket). The nanopb
// struct (~1.5 KB) lives on the stack for the call.
Result EncodeUploadRequest(const UploadFields& fields, ByteSink& out);
// Its encoded size, e.g. for a length prefix or Content-Length.
Result UploadRequestSize(const UploadFields& fields, size_t* size);

// ---------------------------------------------------------------------------
// Any other message of the two files whose fields are all static (no
// FT_CALLBACK), e.g. DownloadRequest, FailureReport, RetryWindow.
Result EncodeMessage(const pb_msgdesc_t* fields, const void* message, ByteSink& out);
Result DecodeMessage(const pb_msgdesc_t* fields, const uint8_t* data, size_t size, void* message);

}  // namespace fedtiny::wire

#endif  // FEDTINY_CLIENT_WIRE_WIRE_H_
