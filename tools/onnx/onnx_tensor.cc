#include "tools/onnx/onnx_tensor.h"

#include <cmath>
#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace fedtiny::onnx_io {
namespace {

// More elements than any model a device runs; keeps products from overflowing.
constexpr int64_t kMaxElements = int64_t{1} << 28;

uint64_t LittleEndian(const std::string& raw, size_t at, int bytes) {
  uint64_t v = 0;
  for (int b = bytes - 1; b >= 0; --b)
    v = (v << 8) | static_cast<uint8_t>(raw[at + b]);
  return v;
}

absl::Status Bad(const onnx::TensorProto& t, absl::string_view what) {
  return absl::InvalidArgumentError(
      absl::StrCat("tensor '", t.name(), "': ", what));
}

}  // namespace

int64_t Tensor::size() const {
  int64_t n = 1;
  for (int64_t d : dims) n *= d;
  return n;
}

absl::StatusOr<Tensor> ReadTensor(const onnx::TensorProto& t) {
  if (t.data_location() == onnx::TensorProto::EXTERNAL ||
      t.external_data_size() > 0) {
    return Bad(t, "external data is not supported");
  }
  Tensor out;
  int64_t n = 1;
  for (int64_t d : t.dims()) {
    if (d < 0 || (d > 0 && n > kMaxElements / d))
      return Bad(t, absl::StrCat("dimension ", d));
    n *= d;
    out.dims.push_back(d);
  }
  const std::string& raw = t.raw_data();
  if (t.data_type() == onnx::TensorProto::FLOAT) {
    const int64_t count = t.has_raw_data()
                              ? static_cast<int64_t>(raw.size() / 4)
                              : t.float_data_size();
    if (count != n || (t.has_raw_data() && raw.size() % 4 != 0)) {
      return Bad(t, absl::StrCat(n, " floats expected, ",
                                 t.has_raw_data() ? raw.size() : count,
                                 t.has_raw_data() ? " bytes held" : " held"));
    }
    out.floats.resize(n);
    for (int64_t i = 0; i < n; ++i) {
      if (t.has_raw_data()) {
        const uint32_t bits =
            static_cast<uint32_t>(LittleEndian(raw, 4 * i, 4));
        std::memcpy(&out.floats[i], &bits, 4);
      } else {
        out.floats[i] = t.float_data(static_cast<int>(i));
      }
      if (!std::isfinite(out.floats[i])) return Bad(t, "holds NaN or infinity");
    }
  } else if (t.data_type() == onnx::TensorProto::INT64) {
    const int64_t count = t.has_raw_data()
                              ? static_cast<int64_t>(raw.size() / 8)
                              : t.int64_data_size();
    if (count != n || (t.has_raw_data() && raw.size() % 8 != 0)) {
      return Bad(t, absl::StrCat(n, " int64 values expected"));
    }
    out.ints.resize(n);
    for (int64_t i = 0; i < n; ++i) {
      out.ints[i] = t.has_raw_data()
                        ? static_cast<int64_t>(LittleEndian(raw, 8 * i, 8))
                        : t.int64_data(static_cast<int>(i));
    }
  } else {
    return Bad(t, absl::StrCat("element type ", t.data_type(),
                               " (only float32 and int64)"));
  }
  return out;
}

void SetFloatTensor(absl::string_view name, const std::vector<int64_t>& dims,
                    const std::vector<float>& values, onnx::TensorProto* t) {
  t->set_name(std::string(name));
  t->set_data_type(onnx::TensorProto::FLOAT);
  for (int64_t d : dims) t->add_dims(d);
  std::string raw(values.size() * 4, '\0');
  for (size_t i = 0; i < values.size(); ++i) {
    uint32_t bits;
    std::memcpy(&bits, &values[i], 4);
    for (int b = 0; b < 4; ++b)
      raw[4 * i + b] = static_cast<char>((bits >> (8 * b)) & 0xff);
  }
  t->set_raw_data(std::move(raw));
}

}  // namespace fedtiny::onnx_io
