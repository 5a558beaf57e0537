// Reading and writing ONNX TensorProtos (initializers and Constant values) for
// onnx_model: float32 and int64 tensors stored as raw_data (little-endian) or
// in the typed fields. External data and other element types are refused.
//
// Free functions; thread-safe.
#ifndef FEDTINY_TOOLS_ONNX_ONNX_TENSOR_H_
#define FEDTINY_TOOLS_ONNX_ONNX_TENSOR_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "third_party/onnx/onnx.pb.h"

namespace fedtiny::onnx_io {

// A constant tensor's dims and values (floats for FLOAT, ints for INT64).
struct Tensor {
  std::vector<int64_t> dims;
  std::vector<float> floats;
  std::vector<int64_t> ints;

  [[nodiscard]] int64_t size() const;  // The product of dims (1 for a scalar).
};

// ReadTensor decodes `t`. kInvalidArgument (naming the tensor) for a type other
// than FLOAT or INT64, external data, negative or huge dims, a value count that
// differs from the dims' product, or a float that is NaN or infinite.
absl::StatusOr<Tensor> ReadTensor(const onnx::TensorProto& t);

// SetFloatTensor fills `t` as a FLOAT tensor named `name`, values as raw_data.
void SetFloatTensor(absl::string_view name, const std::vector<int64_t>& dims,
                    const std::vector<float>& values, onnx::TensorProto* t);

}  // namespace fedtiny::onnx_io

#endif  // FEDTINY_TOOLS_ONNX_ONNX_TENSOR_H_
