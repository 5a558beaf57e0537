#include "client/core/layers/network.h"

#include <algorithm>
#include <utility>

#include "client/core/str_cat.h"

namespace fedtiny::client::layers {

StatusOr<Network> Network::Create(Shape input, std::vector<LayerSpec> layers) {
  if (layers.empty()) return InvalidArgumentError("network: no layers");
  if (!input.valid()) return InvalidArgumentError("network: invalid input shape");
  std::vector<Shape> shapes = {input};
  for (size_t i = 0; i < layers.size(); ++i) {
    StatusOr<Shape> out = OutputShape(layers[i], shapes.back());
    if (!out.ok()) {
      return InvalidArgumentError(
          StrCat("network: layer ", i, " (", LayerName(layers[i]), "): ", out.status().message()));
    }
    shapes.push_back(*out);
  }
  return Network(std::move(layers), std::move(shapes));
}

Network::Network(std::vector<LayerSpec> layers, std::vector<Shape> shapes)
    : layers_(std::move(layers)), shapes_(std::move(shapes)) {
  // Layer i (0 < i + 1 < size) writes shapes_[i + 1] into buffer i % 2.
  for (size_t i = 0; i + 1 < layers_.size(); ++i) {
    buffer_floats_[i % 2] = std::max(buffer_floats_[i % 2], shapes_[i + 1].size());
  }
}

Network::Buffers Network::Layout(Arena& arena) const {
  Buffers b;
  for (int k = 0; k < 2; ++k) {
    const auto floats = static_cast<size_t>(buffer_floats_[k]);
    if (floats > 0) b.at[k] = arena.Allocate<float>(floats);
  }
  return b;
}

int64_t Network::ArenaBytes() const {
  Arena measuring = Arena::Measuring();
  Layout(measuring);
  return static_cast<int64_t>(measuring.used());
}

Status Network::Bind(Arena& arena) {
  Arena trial = arena;
  const Buffers b = Layout(trial);
  for (int k = 0; k < 2; ++k) {
    if (buffer_floats_[k] > 0 && b.at[k] == nullptr) {
      buffers_ = Buffers();
      bound_ = false;
      return ResourceExhaustedError(StrCat("network: the arena has ",
                                           arena.capacity() - arena.used(), " bytes free, ",
                                           ArenaBytes(), " needed"));
    }
  }
  arena = trial;
  buffers_ = b;
  bound_ = true;
  return OkStatus();
}

Status Network::Forward(const float* inputs, int64_t rows, float* outputs) const {
  if (!bound_) {
    return FailedPreconditionError("network: Forward before Bind");
  }
  if (inputs == nullptr || outputs == nullptr || rows < 1) {
    return InvalidArgumentError("network: null input or output, or rows < 1");
  }
  const int64_t in_size = input().size(), out_size = output().size();
  const size_t last = layers_.size() - 1;
  for (int64_t r = 0; r < rows; ++r) {
    const float* x = inputs + r * in_size;
    for (size_t i = 0; i <= last; ++i) {
      float* y = i == last ? outputs + r * out_size : buffers_.at[i % 2];
      layers::Forward(layers_[i], shapes_[i], x, y);
      x = y;
    }
  }
  return OkStatus();
}

int64_t Network::num_params() const {
  int64_t n = 0;
  for (const LayerSpec& l : layers_) n += NumParams(l);
  return n;
}

int64_t Network::multiply_adds() const {
  int64_t n = 0;
  for (size_t i = 0; i < layers_.size(); ++i) {
    const Shape out = shapes_[i + 1];
    if (const auto* c = std::get_if<Conv2d>(&layers_[i])) {
      n += out.size() * c->window.kernel_h * c->window.kernel_w * c->in_channels;
    } else if (const auto* d = std::get_if<DepthwiseConv2d>(&layers_[i])) {
      n += out.size() * d->window.kernel_h * d->window.kernel_w;
    } else if (const auto* f = std::get_if<Dense>(&layers_[i])) {
      n += int64_t{f->in_features} * f->out_features;
    }
  }
  return n;
}

}  // namespace fedtiny::client::layers
