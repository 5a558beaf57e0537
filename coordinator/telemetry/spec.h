// A task's telemetry spec (proto/telemetry.proto): validation with defaults,
// and the number of bins of a probe. Pure functions; thread-safe.
#ifndef FEDTINY_COORDINATOR_TELEMETRY_SPEC_H_
#define FEDTINY_COORDINATOR_TELEMETRY_SPEC_H_

#include <cstdint>

#include "absl/status/statusor.h"
#include "proto/telemetry.pb.h"

namespace fedtiny::coordinator::telemetry {

inline constexpr int kMaxProbes = 32;
inline constexpr int kMinBins = 2;
inline constexpr int kMaxBins = 64;
inline constexpr int64_t kDefaultWindowS = 86400;
inline constexpr double kDefaultDailyEpsilon = 4.0;
// Reference frequencies must sum to 1 within this.
inline constexpr double kReferenceSumTolerance = 1e-6;

// ValidateSpec checks a spec and fills its defaults (window_s 86400,
// daily_epsilon 4): at most 32 probes with unique names of [a-z0-9_:.-]{1,64};
// each probe binned into 2..64 bins (strictly increasing finite edges, or
// 2..64 categories, not both); a reference, when given, of one value >= 0 per
// bin summing to 1 within 1e-6, and required for PREDICTED_CLASS and
// ACTIVATION; each epsilon > 0 and finite, their sum <= daily_epsilon;
// window_s in [60, 366 days]. kInvalidArgument naming the probe and field.
absl::StatusOr<fedtiny::telemetry::TelemetrySpec> ValidateSpec(
    fedtiny::telemetry::TelemetrySpec spec);

// NumBins is k for a validated probe: edges.size() - 1, or categories.
int NumBins(const fedtiny::telemetry::TelemetryProbe& probe);

}  // namespace fedtiny::coordinator::telemetry

#endif  // FEDTINY_COORDINATOR_TELEMETRY_SPEC_H_
