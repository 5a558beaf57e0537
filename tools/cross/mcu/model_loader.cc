#include "tools/cross/mcu/model_loader.h"

#include <cstring>

#include "client/wire/wire.h"

namespace fedtiny::mcu {
namespace {

constexpr size_t kScratchFloats = 256;  // One decode chunk: 1 KiB.

// Pass one: every layer's LayerInfo; the values themselves are skipped.
class ShapeSink : public wire::ModelSink {
 public:
  bool Floats(const wire::TensorRef&, size_t, const float*, size_t) override { return true; }
  bool Int8s(const wire::TensorRef&, size_t, const int8_t*, size_t) override {
    int8_ = true;
    return true;
  }
  bool Layer(const wire::LayerInfo& layer) override {
    if (count_ == kMaxLayers) return false;
    layers_[count_++] = layer;
    return true;
  }
  bool int8() const { return int8_; }
  size_t count() const { return count_; }
  const wire::LayerInfo& layer(size_t i) const { return layers_[i]; }

 private:
  wire::LayerInfo layers_[kMaxLayers];
  size_t count_ = 0;
  bool int8_ = false;
};

const char* CheckShape(const wire::LayerInfo& l) {
  if (l.inputs <= 0 || l.outputs <= 0) return "layer without inputs or outputs";
  if (l.weights.float_count != static_cast<size_t>(l.inputs) * l.outputs) {
    return "weights: value count is not outputs x inputs";
  }
  if (l.bias.float_count != static_cast<size_t>(l.outputs)) return "bias: value count is not outputs";
  return nullptr;
}

}  // namespace

// Pass two (Open: copies the head) or a forward pass (Features: runs the body
// on one input as its weights stream by). Body layers arrive whole and in
// index order (each is one submessage of a repeated field), so layer l's
// output is complete at its Layer() call, before layer l + 1's first value.
class ForwardSink : public wire::ModelSink {
 public:
  ForwardSink(const FlashModel& m, const float* input) : m_(m), input_(input) {
    if (input_ != nullptr && m_.body_layers_ > 0) {
      std::memset(m_.act_[0], 0, sizeof(float) * static_cast<size_t>(m_.body_[0].out));
    }
  }

  bool Floats(const wire::TensorRef& t, size_t offset, const float* v, size_t n) override {
    if (t.stack == wire::Stack::kHead) return input_ != nullptr || CopyHead(t, offset, v, n);
    if (input_ == nullptr) return true;
    const size_t l = t.layer_index;
    if (l >= m_.body_layers_) return false;
    const size_t in = static_cast<size_t>(m_.body_[l].in), out = static_cast<size_t>(m_.body_[l].out);
    float* y = m_.act_[l % 2];
    if (t.role == wire::Role::kBias) {
      if (offset + n > out) return false;
      for (size_t k = 0; k < n; ++k) y[offset + k] += v[k];
      return true;
    }
    if (offset + n > in * out) return false;
    const float* x = l == 0 ? input_ : m_.act_[(l - 1) % 2];
    size_t i = offset / out, o = offset % out;  // Column-major: element o + i * out.
    for (size_t k = 0; k < n; ++k) {
      y[o] += v[k] * x[i];
      if (++o == out) o = 0, ++i;
    }
    return true;
  }

  bool Int8s(const wire::TensorRef&, size_t, const int8_t*, size_t) override { return false; }

  bool Layer(const wire::LayerInfo& layer) override {
    if (input_ == nullptr || layer.stack != wire::Stack::kBody) return true;
    const size_t l = layer.index;
    float* y = m_.act_[l % 2];
    if (m_.body_[l].relu) {
      for (int32_t o = 0; o < m_.body_[l].out; ++o) y[o] = y[o] > 0 ? y[o] : 0;
    }
    if (l + 1 < m_.body_layers_) {
      std::memset(m_.act_[(l + 1) % 2], 0, sizeof(float) * static_cast<size_t>(m_.body_[l + 1].out));
    }
    return true;
  }

 private:
  bool CopyHead(const wire::TensorRef& t, size_t offset, const float* v, size_t n) {
    const size_t l = t.layer_index;
    if (l >= m_.head_layers_) return false;
    const client::HeadLayerShape& s = m_.head_shape_[l];
    const size_t weights = static_cast<size_t>(s.in * s.out);
    const size_t count = t.role == wire::Role::kBias ? static_cast<size_t>(s.out) : weights;
    if (offset + n > count) return false;
    const size_t at = static_cast<size_t>(m_.head_offset_[l]) +
                      (t.role == wire::Role::kBias ? weights : 0) + offset;
    std::memcpy(m_.head_.data() + at, v, n * sizeof(float));
    return true;
  }

  const FlashModel& m_;
  const float* input_;  // Null: the head-copying pass.
};

const char* FlashModel::TakeShapes(const wire::LayerInfo* layers, size_t count, int32_t declared_input) {
  int32_t width = 0;
  for (size_t i = 0; i < count; ++i) {
    const wire::LayerInfo& l = layers[i];
    if (const char* bad = CheckShape(l)) return bad;
    if (i == 0) input_dim_ = width = l.inputs;
    if (l.inputs != width) return "layers do not chain (inputs != previous outputs)";
    width = l.outputs;
    if (l.stack == wire::Stack::kBody) {
      if (head_layers_ > 0) return "a body layer after the head";
      body_[body_layers_++] = {l.inputs, l.outputs, l.relu};
    } else {
      if (head_layers_ == 0) feature_dim_ = l.inputs;
      head_offset_[head_layers_] = static_cast<int64_t>(head_.size());
      head_shape_[head_layers_++] = {l.inputs, l.outputs, l.relu};
      head_ = client::Span<float>(nullptr, head_.size() + static_cast<size_t>(l.inputs + 1) * l.outputs);
    }
  }
  if (head_layers_ == 0) return "the model has no head";
  if (declared_input != 0 && declared_input != input_dim_) return "input_dim differs from the first layer";
  return nullptr;
}

const char* FlashModel::Open(const uint8_t* data, size_t size, client::Arena& arena, FlashModel* out) {
  float chunk[64];
  ShapeSink shapes;
  wire::ModelInfo info;
  wire::Result r = wire::DecodeModel(data, size, chunk, 64, shapes, &info);
  if (!r.ok()) return r.message();
  if (shapes.int8()) return "int8 tensors: this firmware takes the float32 variant";
  FlashModel& m = *out;
  m = FlashModel();
  m.data_ = data;
  m.size_ = size;
  if (const char* bad = m.TakeShapes(&shapes.layer(0), shapes.count(), info.input_dim)) return bad;
  int32_t widest = 1;
  for (size_t l = 0; l < m.body_layers_; ++l) widest = m.body_[l].out > widest ? m.body_[l].out : widest;
  const size_t before = arena.used();
  float* head = arena.Allocate<float>(m.head_.size());
  m.act_[0] = arena.Allocate<float>(static_cast<size_t>(widest));
  m.act_[1] = arena.Allocate<float>(static_cast<size_t>(widest));
  m.scratch_ = arena.Allocate<float>(kScratchFloats);
  if (head == nullptr || m.act_[0] == nullptr || m.act_[1] == nullptr || m.scratch_ == nullptr) {
    return "arena: too small for the model";
  }
  m.arena_bytes_ = arena.used() - before;
  m.head_ = client::Span<float>(head, m.head_.size());
  ForwardSink copy(m, nullptr);
  r = wire::DecodeModel(data, size, m.scratch_, kScratchFloats, copy, nullptr);
  return r.ok() ? nullptr : r.message();
}

const char* FlashModel::Features(const float* input, float* out) const {
  if (body_layers_ == 0) {
    std::memcpy(out, input, sizeof(float) * static_cast<size_t>(input_dim_));
    return nullptr;
  }
  ForwardSink forward(*this, input);
  const wire::Result r = wire::DecodeModel(data_, size_, scratch_, kScratchFloats, forward, nullptr);
  if (!r.ok()) return r.message();
  std::memcpy(out, act_[(body_layers_ - 1) % 2], sizeof(float) * static_cast<size_t>(feature_dim_));
  return nullptr;
}

}  // namespace fedtiny::mcu
