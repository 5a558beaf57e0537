// The microcontroller's own training data: deterministic examples made on the
// device (no sensor under QEMU, no file system). Example i has label
// i % classes; its features are that label's fixed pattern in [0, 1] (a smooth
// bump whose position depends on the label, like an intensity image) plus
// small noise from an xorshift generator seeded by `seed`. The same seed gives
// the same examples on every target, so a run can be repeated bit for bit.
// Device code: C++17 and Eigen.
#ifndef FEDTINY_TOOLS_CROSS_MCU_DEVICE_EXAMPLES_H_
#define FEDTINY_TOOLS_CROSS_MCU_DEVICE_EXAMPLES_H_

#include <cstdint>
#include <vector>

#include "client/core/model.h"

namespace fedtiny::mcu {

struct Examples {
  client::RowMatrixXf inputs;   // count x input_dim
  std::vector<int32_t> labels;  // count, each in [0, classes)
};

// MakeExamples returns `count` examples of width `input_dim` over `classes` labels.
Examples MakeExamples(int64_t count, int64_t input_dim, int32_t classes, uint64_t seed);

}  // namespace fedtiny::mcu

#endif  // FEDTINY_TOOLS_CROSS_MCU_DEVICE_EXAMPLES_H_
