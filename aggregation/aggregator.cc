#include "aggregation/aggregator.h"

#include <cmath>

#include "absl/strings/str_cat.h"

namespace fedtiny::aggregation {

absl::Status ValidateUpdate(absl::Span<const float> update, int64_t dim,
                            double weight) {
  if (static_cast<int64_t>(update.size()) != dim) {
    return absl::InvalidArgumentError(absl::StrCat(
        "update has ", update.size(), " values, expected ", dim));
  }
  if (!std::isfinite(weight) || weight <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("update weight must be finite and > 0, got ", weight));
  }
  // isfinite(x - x) is false exactly for NaN and +-Inf; summing the differences
  // lets the compiler vectorize the scan, and the slow path names the index.
  float probe = 0;
  for (float v : update) probe += v - v;
  if (probe == 0) return absl::OkStatus();
  for (size_t i = 0; i < update.size(); ++i) {
    if (!std::isfinite(update[i])) {
      return absl::InvalidArgumentError(absl::StrCat(
          "update value ", i, " is ", update[i], " (NaN or Inf)"));
    }
  }
  return absl::OkStatus();
}

}  // namespace fedtiny::aggregation
