#include "tools/cross/mcu/model_loader.h"

#include <vector>

#include "client/wire/wire.h"

namespace fedtiny::mcu {
namespace {

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

wire::TensorBuffer Buffer(const wire::LayerInfo& l, wire::Role role, float* data, size_t n) {
  wire::TensorBuffer b{l.stack, l.index, role};
  b.floats = data;
  b.float_capacity = n;
  return b;
}

}  // namespace

const char* LoadModel(const uint8_t* data, size_t size, LoadedModel* out) {
  float scratch[64];
  ShapeSink shapes;
  wire::ModelInfo info;
  wire::Result r = wire::DecodeModel(data, size, scratch, 64, shapes, &info);
  if (!r.ok()) return r.message();
  if (shapes.int8()) return "int8 tensors: this firmware takes the float32 variant";
  std::vector<client::DenseLayer> layers(shapes.count());
  std::vector<wire::TensorBuffer> buffers;
  for (size_t i = 0; i < shapes.count(); ++i) {
    const wire::LayerInfo& l = shapes.layer(i);
    if (const char* bad = CheckShape(l)) return bad;
    layers[i].w.resize(l.outputs, l.inputs);  // Column-major, as on the wire.
    layers[i].b.resize(l.outputs);
    layers[i].relu = l.relu;
    buffers.push_back(Buffer(l, wire::Role::kWeights, layers[i].w.data(), layers[i].w.size()));
    buffers.push_back(Buffer(l, wire::Role::kBias, layers[i].b.data(), layers[i].b.size()));
  }
  wire::FixedBuffersSink sink(buffers.data(), buffers.size(), nullptr, 0);
  r = wire::DecodeModel(data, size, scratch, 64, sink, nullptr);
  if (!r.ok()) return r.message();
  std::vector<client::BodyLayer> body;
  out->head.layers.clear();
  for (size_t i = 0; i < shapes.count(); ++i) {
    if (shapes.layer(i).stack == wire::Stack::kBody) {
      body.emplace_back(std::move(layers[i]));
    } else {
      out->head.layers.push_back(std::move(layers[i]));
    }
  }
  out->body = client::Body(std::move(body));
  out->input_dim = info.input_dim;
  if (out->head.layers.empty() || !out->head.Validate().ok()) return "the model's head is invalid";
  return nullptr;
}

}  // namespace fedtiny::mcu
