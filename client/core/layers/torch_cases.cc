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

}  // namespace fedtiny::client::layers
