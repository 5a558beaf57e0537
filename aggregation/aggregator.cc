#include "aggregation/aggregator.h"

#include <cmath>

#include "absl/strings/str_cat.h"

namespace fedtiny::aggregation {

namespace {

// NaN and +-Inf are exactly the floats whose exponent bits are all ones. An
// integer test vectorizes (a float one would need -ffast-math); the slow path
// in ValidateUpdate then names the index.
__attribute__((target_clones("avx2", "default"))) bool HasNonFinite(
    absl::Span<const float> update) {
  const uint32_t* bits = reinterpret_cast<const uint32_t*>(update.data());
  uint32_t bad = 0;
  for (size_t i = 0; i < update.size(); ++i) {
    bad |= (bits[i] & 0x7f800000u) == 0x7f800000u;
  }
  return bad != 0;
}

}  // namespace

bool AllFinite(absl::Span<const float> values) { return !HasNonFinite(values); }

absl::Status ValidateUpdateShape(absl::Span<const float> update, int64_t dim,
                                 double weight) {
  if (static_cast<int64_t>(update.size()) != dim) {
    return absl::InvalidArgumentError(absl::StrCat(
        "update has ", update.size(), " values, expected ", dim));
  }
  if (!std::isfinite(weight) || weight <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("update weight must be finite and > 0, got ", weight));
  }
  return absl::OkStatus();
}

absl::Status ValidateUpdate(absl::Span<const float> update, int64_t dim,
                            double weight) {
  absl::Status shape = ValidateUpdateShape(update, dim, weight);
  if (!shape.ok()) return shape;
  if (!HasNonFinite(update)) return absl::OkStatus();
  for (size_t i = 0; i < update.size(); ++i) {
    if (!std::isfinite(update[i])) {
      return absl::InvalidArgumentError(absl::StrCat(
          "update value ", i, " is ", update[i], " (NaN or Inf)"));
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateTotalWeight(double total, double weight) {
  if (std::isfinite(total + weight)) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      "total weight overflows: ", total, " + ", weight, " is not finite"));
}

absl::Status ValidateAggregate(const Eigen::VectorXf& aggregate,
                               absl::string_view method) {
  if (AllFinite(absl::MakeConstSpan(aggregate.data(), aggregate.size()))) {
    return absl::OkStatus();
  }
  int64_t j = 0;
  while (std::isfinite(aggregate[j])) ++j;
  return absl::OutOfRangeError(
      absl::StrCat(method, ": aggregate is ", aggregate[j], " at coordinate ",
                   j, " (the updates overflow float arithmetic)"));
}

}  // namespace fedtiny::aggregation
