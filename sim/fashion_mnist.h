// Fashion-MNIST from Debian's dataset-fashion-mnist package (IDX files, gzip).
#ifndef FEDTINY_SIM_FASHION_MNIST_H_
#define FEDTINY_SIM_FASHION_MNIST_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "client/core/model.h"

namespace fedtiny::sim {

inline constexpr char kFashionMnistDir[] = "/usr/share/datasets/fashion-mnist";

// Images as rows of 784 floats in [0, 1] (pixel / 255), labels 0..9.
struct LabeledImages {
  client::RowMatrixXf images;
  std::vector<int32_t> labels;
};

struct FashionMnist {
  LabeledImages train;  // 60,000
  LabeledImages test;   // 10,000
};

// Reads one gzip'd IDX file: its dimensions and raw bytes. kNotFound (naming the
// Debian package) when missing; kDataLoss when truncated or malformed.
absl::StatusOr<std::vector<uint8_t>> ReadIdx(const std::string& path,
                                             std::vector<int64_t>* dims);

// Loads the four files from `dir`.
absl::StatusOr<FashionMnist> LoadFashionMnist(const std::string& dir = kFashionMnistDir);

}  // namespace fedtiny::sim

#endif  // FEDTINY_SIM_FASHION_MNIST_H_
