#include "sim/fashion_mnist.h"

#include <zlib.h>

#include <memory>

#include "absl/strings/str_cat.h"
#include "tools/base/status_macros.h"

namespace fedtiny::sim {

namespace {

struct GzCloser {
  void operator()(gzFile f) const { gzclose(f); }
};
using GzFile = std::unique_ptr<gzFile_s, GzCloser>;

// Reads exactly n bytes; false on EOF or error.
bool ReadExactly(gzFile f, void* out, size_t n) {
  return gzread(f, out, static_cast<unsigned>(n)) == static_cast<int>(n);
}

absl::StatusOr<LabeledImages> LoadSplit(const std::string& dir, const std::string& prefix) {
  std::vector<int64_t> idims, ldims;
  ASSIGN_OR_RETURN(std::vector<uint8_t> pixels,
                   ReadIdx(absl::StrCat(dir, "/", prefix, "-images-idx3-ubyte.gz"), &idims));
  ASSIGN_OR_RETURN(std::vector<uint8_t> labels,
                   ReadIdx(absl::StrCat(dir, "/", prefix, "-labels-idx1-ubyte.gz"), &ldims));
  if (idims.size() != 3 || idims[1] * idims[2] != 784 || ldims.size() != 1 ||
      ldims[0] != idims[0]) {
    return absl::DataLossError(absl::StrCat("fashion-mnist ", prefix, ": unexpected dimensions"));
  }
  LabeledImages out;
  const int64_t n = idims[0];
  out.images.resize(n, 784);
  for (int64_t i = 0; i < n * 784; ++i) out.images.data()[i] = pixels[i] / 255.0f;
  out.labels.resize(n);
  for (int64_t i = 0; i < n; ++i) {
    if (labels[i] > 9) return absl::DataLossError("fashion-mnist: label out of range");
    out.labels[i] = labels[i];
  }
  return out;
}

}  // namespace

absl::StatusOr<std::vector<uint8_t>> ReadIdx(const std::string& path,
                                             std::vector<int64_t>* dims) {
  GzFile f(gzopen(path.c_str(), "rb"));
  if (f == nullptr) {
    return absl::NotFoundError(absl::StrCat(
        "cannot open ", path,
        ": install Debian's dataset-fashion-mnist package (tools/setup does)"));
  }
  uint8_t magic[4];
  if (!ReadExactly(f.get(), magic, 4) || magic[0] != 0 || magic[1] != 0 ||
      magic[2] != 0x08 || magic[3] < 1 || magic[3] > 4) {
    return absl::DataLossError(absl::StrCat(path, ": not an unsigned-byte IDX file"));
  }
  dims->clear();
  int64_t total = 1;
  for (int d = 0; d < magic[3]; ++d) {
    uint8_t be[4];
    if (!ReadExactly(f.get(), be, 4)) return absl::DataLossError(absl::StrCat(path, ": truncated header"));
    const int64_t v = (int64_t{be[0]} << 24) | (be[1] << 16) | (be[2] << 8) | be[3];
    dims->push_back(v);
    total *= v;
  }
  if (total <= 0 || total > (int64_t{1} << 31)) {
    return absl::DataLossError(absl::StrCat(path, ": implausible dimensions"));
  }
  std::vector<uint8_t> data(total);
  if (!ReadExactly(f.get(), data.data(), data.size())) {
    return absl::DataLossError(absl::StrCat(path, ": truncated data"));
  }
  return data;
}

absl::StatusOr<FashionMnist> LoadFashionMnist(const std::string& dir) {
  FashionMnist out;
  ASSIGN_OR_RETURN(out.train, LoadSplit(dir, "train"));
  ASSIGN_OR_RETURN(out.test, LoadSplit(dir, "t10k"));
  return out;
}

}  // namespace fedtiny::sim
