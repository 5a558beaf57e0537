#include "tools/onnx/onnx_test_models.h"

#include <random>

#include "client/core/arena.h"
#include "client/core/layers/network.h"

namespace fedtiny::onnx_io {
namespace {

namespace layers = client::layers;
using layers::Activation;

class Filler {
 public:
  explicit Filler(uint32_t seed) : rng_(seed) {}
  template <typename L>
  L Fill(L layer) {
    layer.params.resize(layer.num_params());
    for (float& v : layer.params) v = dist_(rng_);
    return layer;
  }

 private:
  std::mt19937 rng_;
  std::uniform_real_distribution<float> dist_{-1.f, 1.f};
};

layers::Window Win(int kh, int kw, int sh, int sw, layers::Padding p,
                   int dh = 1, int dw = 1) {
  layers::Window w;
  w.kernel_h = kh;
  w.kernel_w = kw;
  w.stride_h = sh;
  w.stride_w = sw;
  w.dilation_h = dh;
  w.dilation_w = dw;
  w.padding = p;
  return w;
}

}  // namespace

std::vector<std::pair<std::string, ImportedModel>> TestModels(uint32_t seed) {
  Filler f(seed);
  std::vector<std::pair<std::string, ImportedModel>> out;
  {  // 11x10x3 -> 6x9x4 -> 6x9x8 -> 3x5x8 -> 3x5x8 -> flatten 120 -> 6 -> 3.
    ImportedModel m;
    m.input = {11, 10, 3};
    m.body.push_back(f.Fill(
        layers::Conv2d{3, 4, Win(3, 3, 2, 1, layers::Padding{1, 0, 2, 1}),
                       Activation::kRelu}));
    m.body.push_back(f.Fill(layers::DepthwiseConv2d{
        4, 2, Win(3, 3, 1, 1, layers::Padding::Symmetric(2), 2, 2),
        Activation::kRelu6}));
    m.body.push_back(layers::AvgPool2d{
        Win(3, 3, 2, 2, layers::Padding::Symmetric(1)), false});
    m.body.push_back(
        layers::MaxPool2d{Win(2, 2, 1, 1, layers::Padding{0, 0, 1, 1})});
    m.body.push_back(layers::ActivationLayer{Activation::kRelu6});
    m.body.push_back(layers::Flatten{});
    m.head.push_back(f.Fill(layers::Dense{120, 6, Activation::kRelu}));
    m.head.push_back(f.Fill(layers::Dense{6, 3}));
    out.emplace_back("cnn", std::move(m));
  }
  {  // 7x7x2 -> 1x1 conv -> relu -> global average -> dense on 1x1x3 (no
     // flatten).
    ImportedModel m;
    m.input = {7, 7, 2};
    m.body.push_back(f.Fill(layers::Conv2d{2, 3, Win(1, 1, 1, 1, {})}));
    m.body.push_back(layers::ActivationLayer{Activation::kRelu});
    m.body.push_back(layers::GlobalAvgPool2d{});
    m.body.push_back(f.Fill(layers::Dense{3, 4, Activation::kRelu6}));
    m.head.push_back(f.Fill(layers::Dense{4, 2}));
    out.emplace_back("gap", std::move(m));
  }
  {  // 5x4x2 -> avg pool counting padding -> 3x3x2 -> dense straight on the
     // map.
    ImportedModel m;
    m.input = {5, 4, 2};
    m.body.push_back(layers::AvgPool2d{
        Win(2, 2, 2, 2, layers::Padding::Symmetric(1)), true});
    m.head.push_back(f.Fill(layers::Dense{18, 3}));
    out.emplace_back("map_dense", std::move(m));
  }
  {  // Dense only, on 1 x 1 x 6.
    ImportedModel m;
    m.input = {1, 1, 6};
    m.head.push_back(f.Fill(layers::Dense{6, 5, Activation::kRelu}));
    m.head.push_back(f.Fill(layers::Dense{5, 2}));
    out.emplace_back("dense", std::move(m));
  }
  return out;
}

std::vector<float> RunModel(const ImportedModel& m, const std::vector<float>& x,
                            int rows) {
  std::vector<layers::LayerSpec> all = m.body;
  all.insert(all.end(), m.head.begin(), m.head.end());
  auto net = layers::Network::Create(m.input, all);
  if (!net.ok()) return {};
  std::vector<unsigned char> block(net->ArenaBytes());
  client::Arena arena(block.data(), block.size());
  std::vector<float> y(rows * net->output().size());
  if (!net->Bind(arena).ok() || !net->Forward(x.data(), rows, y.data()).ok())
    return {};
  return y;
}

}  // namespace fedtiny::onnx_io
