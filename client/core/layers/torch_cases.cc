#include "client/core/layers/torch_cases.h"

#include <cstdlib>
#include <fstream>
#include <sstream>

namespace fedtiny::client::layers {

const std::vector<int32_t>& TorchCase::i(const std::string& key) const {
  static const std::vector<int32_t> kEmpty;
  auto it = ints.find(key);
  return it == ints.end() ? kEmpty : it->second;
}

const std::vector<float>& TorchCase::f(const std::string& key) const {
  static const std::vector<float> kEmpty;
  auto it = floats.find(key);
  return it == floats.end() ? kEmpty : it->second;
}

std::vector<TorchCase> ReadTorchCases(const std::string& path, std::string* error) {
  std::ifstream in(path);
  if (!in) {
    *error = "cannot open " + path;
    return {};
  }
  std::vector<TorchCase> cases;
  TorchCase cur;
  bool open = false;
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream words(line);
    std::string tag, key, value;
    words >> tag;
    if (tag == "case") {
      cur = TorchCase();
      words >> cur.name >> cur.type;
      open = true;
    } else if (tag == "end" && open) {
      cases.push_back(cur);
      open = false;
    } else if ((tag == "i" || tag == "f") && open) {
      words >> key;
      while (words >> value) {
        if (tag == "i") {
          cur.ints[key].push_back(static_cast<int32_t>(std::strtol(value.c_str(), nullptr, 10)));
        } else {
          cur.floats[key].push_back(std::strtof(value.c_str(), nullptr));
        }
      }
    } else if (!line.empty()) {
      *error = path + ": unexpected line '" + line.substr(0, 40) + "'";
      return {};
    }
  }
  if (open) *error = path + ": the last case has no end";
  return open ? std::vector<TorchCase>() : cases;
}

Shape InShape(const TorchCase& c) { return Shape{c.i("in")[0], c.i("in")[1], c.i("in")[2]}; }

Window WindowOf(const TorchCase& c) {
  Window w;
  w.kernel_h = c.i("kernel")[0];
  w.kernel_w = c.i("kernel")[1];
  w.stride_h = c.i("stride")[0];
  w.stride_w = c.i("stride")[1];
  w.dilation_h = c.i("dilation")[0];
  w.dilation_w = c.i("dilation")[1];
  w.padding = Padding{c.i("pad")[0], c.i("pad")[1], c.i("pad")[2], c.i("pad")[3]};
  return w;
}

Activation ActOf(const TorchCase& c) {
  return c.i("act").empty() ? Activation::kNone : static_cast<Activation>(c.i("act")[0]);
}

BatchNorm BnOf(const TorchCase& c, const std::string& suffix) {
  return BatchNorm{c.f("gamma" + suffix), c.f("beta" + suffix), c.f("mean" + suffix),
                   c.f("var" + suffix), c.f("eps" + suffix).at(0)};
}

Conv2d ConvOf(const TorchCase& c) {
  Conv2d l;
  l.in_channels = InShape(c).c;
  l.out_channels = c.i("out_channels")[0];
  l.window = WindowOf(c);
  l.activation = ActOf(c);
  l.params = c.f("params");
  return l;
}

DepthwiseConv2d DepthwiseOf(const TorchCase& c) {
  DepthwiseConv2d l;
  l.in_channels = InShape(c).c;
  l.channel_multiplier = c.i("multiplier")[0];
  l.window = WindowOf(c);
  l.activation = ActOf(c);
  l.params = c.f("params");
  return l;
}

Dense DenseOf(const TorchCase& c) {
  Dense l;
  l.in_features = static_cast<int32_t>(InShape(c).size());
  l.out_features = c.i("out_features")[0];
  l.activation = ActOf(c);
  l.params = c.f("params");
  return l;
}

}  // namespace fedtiny::client::layers
