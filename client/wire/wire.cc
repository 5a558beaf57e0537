#include "client/wire/wire.h"

#include <cstring>

#include "pb_decode.h"
#include "pb_encode.h"

namespace fedtiny::wire {

namespace {

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
constexpr bool kLittleEndian = false;
#else
constexpr bool kLittleEndian = true;
#endif

// Little-endian float32 bytes (the wire's) to host floats, in place.
void FromLittleEndian(float* values, size_t n) {
  if (kLittleEndian) return;
  auto* b = reinterpret_cast<uint8_t*>(values);
  for (size_t i = 0; i < n; ++i, b += 4) {
    uint8_t t0 = b[0], t1 = b[1];
    b[0] = b[3];
    b[1] = b[2];
    b[2] = t1;
    b[3] = t0;
  }
}

const char* StreamError(const pb_istream_t& s, const char* fallback) {
  return s.errmsg != nullptr ? s.errmsg : fallback;
}
const char* StreamError(const pb_ostream_t& s, const char* fallback) {
  return s.errmsg != nullptr ? s.errmsg : fallback;
}

bool ReadFromSource(pb_istream_t* stream, pb_byte_t* buf, size_t count) {
  return static_cast<ByteSource*>(stream->state)->Read(buf, count);
}

pb_istream_t IstreamFrom(ByteSource& in, size_t size) {
  pb_istream_t s;
  s.callback = &ReadFromSource;
  s.state = &in;
  s.bytes_left = size;
#ifndef PB_NO_ERRMSG
  s.errmsg = nullptr;
#endif
  return s;
}

bool WriteToSink(pb_ostream_t* stream, const pb_byte_t* buf, size_t count) {
  return static_cast<ByteSink*>(stream->state)->Write(buf, count);
}

pb_ostream_t OstreamTo(ByteSink& out) {
  pb_ostream_t s;
  s.callback = &WriteToSink;
  s.state = &out;
  s.max_size = SIZE_MAX;
  s.bytes_written = 0;
#ifndef PB_NO_ERRMSG
  s.errmsg = nullptr;
#endif
  return s;
}

// ----- Model decode -----

struct ModelContext {
  ModelSink* sink;
  float* scratch;
  size_t scratch_floats;
  uint32_t next_index[2];
  const char* error;  // Ours, preferred over nanopb's "callback failed".
};

struct LayerContext;

struct TensorContext {
  LayerContext* layer;
  Role role;
  size_t floats;  // Tensor.values elements so far.
  size_t int8s;   // Tensor.int8_values bytes of the current occurrence.
};

struct LayerContext {
  ModelContext* model;
  Stack stack;
  uint32_t index;
  fedtiny_v1_DenseLayer msg;
  TensorContext weights;
  TensorContext bias;
};

struct StackContext {
  ModelContext* model;
  Stack stack;
};

TensorRef RefOf(const TensorContext& t) {
  const LayerContext& l = *t.layer;
  return TensorRef{l.stack, l.index, t.role, t.role == Role::kWeights ? &l.msg.weights : &l.msg.bias,
                   &l.msg};
}

bool Fail(ModelContext* m, const char* message) {
  if (m->error == nullptr) m->error = message;
  return false;
}

// Tensor.values: packed (one call per chunk of the substream) or, as protobuf
// also allows, one fixed32 per call.
bool DecodeFloats(pb_istream_t* stream, const pb_field_t*, void** arg) {
  auto* t = static_cast<TensorContext*>(*arg);
  ModelContext* m = t->layer->model;
  if (stream->bytes_left % 4 != 0) return Fail(m, "values: length not a multiple of 4");
  const size_t chunk_bytes = m->scratch_floats * 4;
  while (stream->bytes_left > 0) {
    size_t n = stream->bytes_left < chunk_bytes ? stream->bytes_left : chunk_bytes;
    if (!pb_read(stream, reinterpret_cast<pb_byte_t*>(m->scratch), n)) return false;
    FromLittleEndian(m->scratch, n / 4);
    if (!m->sink->Floats(RefOf(*t), t->floats, m->scratch, n / 4)) {
      return Fail(m, "model sink refused");
    }
    t->floats += n / 4;
  }
  return true;
}

// Tensor.int8_values: one bytes field; a second occurrence replaces the first.
bool DecodeInt8s(pb_istream_t* stream, const pb_field_t*, void** arg) {
  auto* t = static_cast<TensorContext*>(*arg);
  ModelContext* m = t->layer->model;
  const size_t chunk_bytes = m->scratch_floats * 4;
  auto* bytes = reinterpret_cast<pb_byte_t*>(m->scratch);
  t->int8s = 0;
  while (stream->bytes_left > 0) {
    size_t n = stream->bytes_left < chunk_bytes ? stream->bytes_left : chunk_bytes;
    if (!pb_read(stream, bytes, n)) return false;
    if (!m->sink->Int8s(RefOf(*t), t->int8s, reinterpret_cast<const int8_t*>(bytes), n)) {
      return Fail(m, "model sink refused");
    }
    t->int8s += n;
  }
  return true;
}

TensorInfo InfoOf(const fedtiny_v1_Tensor& msg, bool present, const TensorContext& t) {
  TensorInfo info;
  info.present = present;
  info.rank = static_cast<uint8_t>(msg.shape_count);
  for (pb_size_t i = 0; i < msg.shape_count && i < kMaxRank; ++i) info.shape[i] = msg.shape[i];
  info.float_count = t.floats;
  info.int8_count = t.int8s;
  info.scale = msg.scale;
  info.zero_point = msg.zero_point;
  return info;
}

void BindTensor(fedtiny_v1_Tensor* msg, TensorContext* t) {
  msg->values.funcs.decode = &DecodeFloats;
  msg->values.arg = t;
  msg->int8_values.funcs.decode = &DecodeInt8s;
  msg->int8_values.arg = t;
}

// One DenseLayer of Model.body or Model.head: the substream holds exactly it.
bool DecodeLayer(pb_istream_t* stream, const pb_field_t*, void** arg) {
  auto* s = static_cast<StackContext*>(*arg);
  ModelContext* m = s->model;
  LayerContext l;
  l.model = m;
  l.stack = s->stack;
  l.index = m->next_index[static_cast<int>(s->stack)];
  l.msg = fedtiny_v1_DenseLayer_init_zero;
  l.weights = TensorContext{&l, Role::kWeights, 0, 0};
  l.bias = TensorContext{&l, Role::kBias, 0, 0};
  BindTensor(&l.msg.weights, &l.weights);
  BindTensor(&l.msg.bias, &l.bias);
  if (!pb_decode(stream, fedtiny_v1_DenseLayer_fields, &l.msg)) {
    return Fail(m, StreamError(*stream, "bad layer"));
  }
  if (l.msg.activation != fedtiny_v1_Activation_ACTIVATION_NONE) {
    // Only a convolutional body sets it, which this decoder refuses: a silent
    // ReLU6 -> identity would change the model.
    return Fail(m, "dense layer activation field not supported on this device");
  }
  LayerInfo info;
  info.stack = l.stack;
  info.index = l.index;
  info.inputs = l.msg.inputs;
  info.outputs = l.msg.outputs;
  info.relu = l.msg.relu;
  info.weights = InfoOf(l.msg.weights, l.msg.has_weights, l.weights);
  info.bias = InfoOf(l.msg.bias, l.msg.has_bias, l.bias);
  if (!m->sink->Layer(info)) return Fail(m, "model sink refused");
  ++m->next_index[static_cast<int>(s->stack)];
  return true;
}

// Model.layers: a convolutional body (issue 16), which microcontrollers do
// not decode from the wire yet; refused rather than skipped.
bool RefuseConvLayers(pb_istream_t*, const pb_field_t*, void** arg) {
  return Fail(static_cast<ModelContext*>(*arg), "convolutional body not supported by this decoder");
}

Result DecodeModelFrom(pb_istream_t* stream, float* scratch, size_t scratch_floats, ModelSink& sink,
                       ModelInfo* info) {
  if (scratch == nullptr || scratch_floats == 0) return Result::Error("no scratch buffer");
  ModelContext m{&sink, scratch, scratch_floats, {0, 0}, nullptr};
  StackContext body{&m, Stack::kBody};
  StackContext head{&m, Stack::kHead};
  fedtiny_v1_Model msg = fedtiny_v1_Model_init_zero;
  msg.body.funcs.decode = &DecodeLayer;
  msg.body.arg = &body;
  msg.head.funcs.decode = &DecodeLayer;
  msg.head.arg = &head;
  msg.layers.funcs.decode = &RefuseConvLayers;
  msg.layers.arg = &m;
  if (!pb_decode(stream, fedtiny_v1_Model_fields, &msg)) {
    return Result::Error(m.error != nullptr ? m.error : StreamError(*stream, "bad model"));
  }
  if (info != nullptr) {
    info->input_dim = msg.input_dim;
    info->body_layers = m.next_index[0];
    info->head_layers = m.next_index[1];
  }
  return Result::Ok();
}

// ----- Encode helpers -----

// Copies a string into a nanopb char[N] (N counts the NUL).
bool CopyString(std::string_view from, char* to, size_t capacity) {
  if (from.size() >= capacity) return false;
  if (!from.empty()) {  // An empty view may have a null data().
    if (std::memchr(from.data(), '\0', from.size()) != nullptr) return false;
    std::memcpy(to, from.data(), from.size());
  }
  to[from.size()] = '\0';
  return true;
}

template <typename BytesArray>
bool CopyBytes(const Bytes& from, BytesArray* to) {
  if (from.size > sizeof(to->bytes)) return false;
  if (from.size > 0) std::memcpy(to->bytes, from.data, from.size);
  to->size = static_cast<pb_size_t>(from.size);
  return true;
}

bool EncodeDelta(pb_ostream_t* stream, const pb_field_t* field, void* const* arg) {
  const auto* u = static_cast<const UploadFields*>(*arg);
  if (u->delta_count == 0) return true;  // proto3: an empty bytes field is not written.
  if (!pb_encode_tag_for_field(stream, field)) return false;
  if (!pb_encode_varint(stream, static_cast<uint64_t>(u->delta_count) * 4)) return false;
  if (kLittleEndian) {
    return pb_write(stream, reinterpret_cast<const pb_byte_t*>(u->delta), u->delta_count * 4);
  }
  float chunk[64];
  for (size_t i = 0; i < u->delta_count; i += 64) {
    size_t n = u->delta_count - i < 64 ? u->delta_count - i : 64;
    std::memcpy(chunk, u->delta + i, n * 4);
    FromLittleEndian(chunk, n);  // The swap is its own inverse.
    if (!pb_write(stream, reinterpret_cast<const pb_byte_t*>(chunk), n * 4)) return false;
  }
  return true;
}

Result FillUpload(const UploadFields& f, fedtiny_v1_UploadRequest* msg) {
  *msg = fedtiny_v1_UploadRequest_init_zero;
  if (!CopyString(f.task, msg->task, sizeof(msg->task))) return Result::Error("task: too long or has a NUL");
  msg->round = f.round;
  if (!CopyBytes(f.upload_token, &msg->upload_token)) return Result::Error("upload_token: too long");
  msg->cluster = f.cluster;
  msg->model_version = f.model_version;
  msg->example_count = f.example_count;
  if (f.delta_count > 0 && f.delta == nullptr) return Result::Error("delta: null");
  if (f.delta_count > (SIZE_MAX - 16) / 4) return Result::Error("delta: too long");
  msg->delta.funcs.encode = &EncodeDelta;
  msg->delta.arg = const_cast<UploadFields*>(&f);
  const size_t max_metrics = sizeof(msg->metrics) / sizeof(msg->metrics[0]);
  if (f.metric_count > max_metrics) return Result::Error("metrics: more than 16");
  for (size_t i = 0; i < f.metric_count; ++i) {
    if (!CopyString(f.metrics[i].name, msg->metrics[i].key, sizeof(msg->metrics[i].key))) {
      return Result::Error("metrics: a name too long or with a NUL");
    }
    msg->metrics[i].value = f.metrics[i].value;
  }
  msg->metrics_count = static_cast<pb_size_t>(f.metric_count);
  if (!CopyBytes(f.device_secret, &msg->device_secret)) return Result::Error("device_secret: too long");
  return Result::Ok();
}

}  // namespace

bool BufferSource::Read(uint8_t* dst, size_t n) {
  if (n > size_ - pos_) return false;
  if (n > 0) std::memcpy(dst, data_ + pos_, n);
  pos_ += n;
  return true;
}

bool BufferSink::Write(const uint8_t* data, size_t n) {
  if (n > capacity_ - size_) return false;
  if (n > 0) std::memcpy(data_ + size_, data, n);
  size_ += n;
  return true;
}

Result DecodeModel(ByteSource& in, size_t size, float* scratch, size_t scratch_floats, ModelSink& sink,
                   ModelInfo* info) {
  pb_istream_t stream = IstreamFrom(in, size);
  return DecodeModelFrom(&stream, scratch, scratch_floats, sink, info);
}

Result DecodeModel(const uint8_t* data, size_t size, float* scratch, size_t scratch_floats,
                   ModelSink& sink, ModelInfo* info) {
  pb_istream_t stream = pb_istream_from_buffer(data, size);
  return DecodeModelFrom(&stream, scratch, scratch_floats, sink, info);
}

const TensorBuffer* FixedBuffersSink::Find(const TensorRef& t) const {
  for (size_t i = 0; i < buffer_count_; ++i) {
    const TensorBuffer& b = buffers_[i];
    if (b.stack == t.stack && b.layer_index == t.layer_index && b.role == t.role) return &b;
  }
  return nullptr;
}

bool FixedBuffersSink::Floats(const TensorRef& t, size_t offset, const float* values, size_t n) {
  const TensorBuffer* b = Find(t);
  if (b == nullptr || b->floats == nullptr || offset > b->float_capacity || n > b->float_capacity - offset) {
    return false;
  }
  std::memcpy(b->floats + offset, values, n * sizeof(float));
  return true;
}

bool FixedBuffersSink::Int8s(const TensorRef& t, size_t offset, const int8_t* values, size_t n) {
  const TensorBuffer* b = Find(t);
  if (b == nullptr || b->int8s == nullptr || offset > b->int8_capacity || n > b->int8_capacity - offset) {
    return false;
  }
  std::memcpy(b->int8s + offset, values, n);
  return true;
}

bool FixedBuffersSink::Layer(const LayerInfo& layer) {
  if (layers_ == nullptr) return true;
  if (layer_count_ >= layer_capacity_) return false;
  layers_[layer_count_++] = layer;
  return true;
}

Result EncodeCheckInRequest(const CheckInFields& f, ByteSink& out) {
  fedtiny_v1_CheckInRequest msg = fedtiny_v1_CheckInRequest_init_zero;
  if (!CopyString(f.device_id, msg.device_id, sizeof(msg.device_id))) {
    return Result::Error("device_id: longer than 128 bytes or has a NUL");
  }
  if (!CopyString(f.population, msg.population, sizeof(msg.population))) {
    return Result::Error("population: longer than 64 bytes or has a NUL");
  }
  if (!CopyString(f.device_class, msg.device_class, sizeof(msg.device_class))) {
    return Result::Error("device_class: longer than 64 bytes or has a NUL");
  }
  msg.has_capabilities = f.has_capabilities;
  msg.capabilities = f.capabilities;
  msg.has_state = f.has_state;
  msg.state = f.state;
  if (!CopyBytes(f.device_secret, &msg.device_secret)) return Result::Error("device_secret: longer than 64 bytes");
  return EncodeMessage(fedtiny_v1_CheckInRequest_fields, &msg, out);
}

Result DecodeCheckInResponse(const uint8_t* data, size_t size, fedtiny_v1_CheckInResponse* out) {
  return DecodeMessage(fedtiny_v1_CheckInResponse_fields, data, size, out);
}

Result DecodeAssignment(const uint8_t* data, size_t size, fedtiny_v1_Assignment* out) {
  return DecodeMessage(fedtiny_v1_Assignment_fields, data, size, out);
}

Result DecodePlan(const uint8_t* data, size_t size, fedtiny_v1_Plan* out) {
  return DecodeMessage(fedtiny_v1_Plan_fields, data, size, out);
}

namespace {

struct DownloadContext {
  uint8_t* scratch;
  size_t scratch_bytes;
  ByteSink* sink;
  size_t size;
  bool sink_failed;
};

bool DecodeData(pb_istream_t* stream, const pb_field_t*, void** arg) {
  auto* d = static_cast<DownloadContext*>(*arg);
  // bytes: a repeated field would replace the first; the sink cannot take data
  // back, so a second one is an error.
  if (d->size > 0) return false;
  while (stream->bytes_left > 0) {
    size_t n = stream->bytes_left < d->scratch_bytes ? stream->bytes_left : d->scratch_bytes;
    if (!pb_read(stream, d->scratch, n)) return false;
    if (!d->sink->Write(d->scratch, n)) {
      d->sink_failed = true;
      return false;
    }
    d->size += n;
  }
  return true;
}

}  // namespace

Result DecodeDownloadResponse(ByteSource& in, size_t size, uint8_t* scratch, size_t scratch_bytes,
                              ByteSink& data_out, fedtiny_v1_DownloadResponse* out, size_t* data_size) {
  if (scratch == nullptr || scratch_bytes == 0) return Result::Error("no scratch buffer");
  DownloadContext d{scratch, scratch_bytes, &data_out, 0, false};
  *out = fedtiny_v1_DownloadResponse_init_zero;
  out->data.funcs.decode = &DecodeData;
  out->data.arg = &d;
  pb_istream_t stream = IstreamFrom(in, size);
  bool ok = pb_decode(&stream, fedtiny_v1_DownloadResponse_fields, out);
  out->data.funcs.decode = nullptr;
  out->data.arg = nullptr;
  if (data_size != nullptr) *data_size = d.size;
  if (!ok) return Result::Error(d.sink_failed ? "data sink refused" : StreamError(stream, "bad download response"));
  return Result::Ok();
}

Result EncodeUploadRequest(const UploadFields& fields, ByteSink& out) {
  fedtiny_v1_UploadRequest msg;
  Result filled = FillUpload(fields, &msg);
  if (!filled.ok()) return filled;
  return EncodeMessage(fedtiny_v1_UploadRequest_fields, &msg, out);
}

Result UploadRequestSize(const UploadFields& fields, size_t* size) {
  fedtiny_v1_UploadRequest msg;
  Result filled = FillUpload(fields, &msg);
  if (!filled.ok()) return filled;
  if (!pb_get_encoded_size(size, fedtiny_v1_UploadRequest_fields, &msg)) return Result::Error("cannot size");
  return Result::Ok();
}

Result EncodeMessage(const pb_msgdesc_t* fields, const void* message, ByteSink& out) {
  pb_ostream_t stream = OstreamTo(out);
  if (!pb_encode(&stream, fields, message)) return Result::Error(StreamError(stream, "encode failed"));
  return Result::Ok();
}

Result DecodeMessage(const pb_msgdesc_t* fields, const uint8_t* data, size_t size, void* message) {
  pb_istream_t stream = pb_istream_from_buffer(data, size);
  if (!pb_decode(&stream, fields, message)) return Result::Error(StreamError(stream, "decode failed"));
  return Result::Ok();
}

}  // namespace fedtiny::wire
