#include "client/core/example_store.h"

#include <cmath>
#include <limits>
#include <cstring>

#include "client/core/str_cat.h"
#include "client/core/byte_io.h"

namespace fedtiny::client {

namespace {
constexpr char kMagic[] = "FTES";
constexpr uint32_t kVersion = 1;
}  // namespace

ExampleStore::ExampleStore(const ExampleStoreOptions& options)
    : options_(options),
      capacity_(std::max<int64_t>(
          0, std::min(options.max_examples,
                      options.input_dim > 0 ? options.max_bytes / (options.input_dim * 4)
                                            : options.max_examples))),
      rng_(options.seed) {}

Status ExampleStore::Add(Span<const float> features, int32_t label) {
  if (static_cast<int64_t>(features.size()) != options_.input_dim) {
    return InvalidArgumentError(StrCat(
        "example has ", features.size(), " features, expected ", options_.input_dim));
  }
  for (float f : features) {
    if (!std::isfinite(f)) return InvalidArgumentError("example has NaN or Inf");
  }
  if (label < 0) return InvalidArgumentError("negative label");
  if (seen_ < std::numeric_limits<int64_t>::max()) ++seen_;  // Saturates, never wraps.
  if (capacity_ == 0) return OkStatus();
  std::vector<float> row(features.begin(), features.end());
  if (size() < capacity_) {
    features_.push_back(std::move(row));
    labels_.push_back(label);
  } else if (options_.eviction == ExampleStoreOptions::Eviction::kOldestFirst) {
    features_.pop_front();
    labels_.pop_front();
    features_.push_back(std::move(row));
    labels_.push_back(label);
  } else {
    // Algorithm R: keep each of the seen examples with equal probability.
    const uint64_t j = rng_() % static_cast<uint64_t>(seen_);
    if (j < static_cast<uint64_t>(capacity_)) {
      features_[j] = std::move(row);
      labels_[j] = label;
    }
  }
  return OkStatus();
}

RowMatrixXf ExampleStore::Features() const {
  RowMatrixXf m(size(), options_.input_dim);
  for (int64_t i = 0; i < size(); ++i) {
    std::memcpy(m.row(i).data(), features_[i].data(), options_.input_dim * sizeof(float));
  }
  return m;
}

Status ExampleStore::Save(const Platform& platform, const std::string& path) const {
  std::string out(kMagic, 4);
  PutValue(out, kVersion);
  PutValue(out, options_.input_dim);
  PutValue(out, seen_);
  PutValue(out, size());
  for (int64_t i = 0; i < size(); ++i) {
    PutValue(out, labels_[i]);
    out.append(reinterpret_cast<const char*>(features_[i].data()),
               options_.input_dim * sizeof(float));
  }
  return platform.storage.WriteFileAtomically(path,
                                              WithSha256Trailer(std::move(out), platform.crypto));
}

StatusOr<ExampleStore> ExampleStore::Load(const Platform& platform, const std::string& path,
                                                const ExampleStoreOptions& options) {
  StatusOr<std::string> bytes = platform.storage.ReadFile(path);
  if (!bytes.ok()) return bytes.status();
  StatusOr<std::string_view> body = VerifySha256Trailer(*bytes, path, platform.crypto);
  if (!body.ok()) return body.status();
  if (body->substr(0, 4) != std::string_view(kMagic, 4)) {
    return DataLossError(StrCat(path, ": not an example store"));
  }
  ByteReader r(body->substr(4));
  uint32_t version = 0;
  int64_t dim = 0, seen = 0, n = 0;
  const bool header = r.Get(version) && r.Get(dim) && r.Get(seen) && r.Get(n) &&
                      version == kVersion && dim == options.input_dim && dim >= 1 && n >= 0 &&
                      seen >= n;
  // Sizes are checked by division, never by a product that could wrap.
  const uint64_t record = 4 + static_cast<uint64_t>(header ? dim : 0) * sizeof(float);
  if (!header || r.rest().size() % record != 0 ||
      static_cast<uint64_t>(n) != r.rest().size() / record) {
    return DataLossError(StrCat(path, ": malformed or for another input size"));
  }
  ExampleStore store(options);
  for (int64_t i = 0; i < n; ++i) {
    int32_t label = 0;
    std::vector<float> row(dim);
    r.Get(label);
    r.GetRawFloats(dim, row.data());
    if (label < 0 || !std::all_of(row.begin(), row.end(), [](float v) { return std::isfinite(v); })) {
      return DataLossError(StrCat(path, ": example ", i, " has a negative label or NaN/Inf"));
    }
    if (store.size() < store.capacity()) {
      store.features_.push_back(std::move(row));
      store.labels_.push_back(label);
    }
  }
  store.seen_ = seen;
  return store;
}

}  // namespace fedtiny::client
