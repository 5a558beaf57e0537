// A TelemetrySpec's rules as the device applies them (proto/telemetry.proto):
// the checks before a spec is used, and a value's bin.
//
// Free functions on plain values; thread-safe.
#ifndef FEDTINY_CLIENT_TELEMETRY_SPEC_H_
#define FEDTINY_CLIENT_TELEMETRY_SPEC_H_

#include <cstdint>

#include "absl/status/status.h"
#include "proto/telemetry.pb.h"

namespace fedtiny::client::telemetry {

inline constexpr int kMaxProbes = 32;
inline constexpr int kMaxBins = 64;
inline constexpr int64_t kDefaultWindowSeconds = 86400;
inline constexpr double kDefaultDailyEpsilon = 4.0;

// ValidateSpec checks what the proto's comments require: 1..32 probes with
// unique names of [a-z0-9_:.-] (1..64 bytes), a known kind, 2..64 bins
// (categorical for PREDICTED_CLASS, edges strictly increasing and finite
// otherwise), a reference of one frequency per bin summing to 1 (or none),
// epsilon > 0 and finite, window_s and daily_epsilon >= 0 (0 = the defaults).
// kInvalidArgument naming the first problem.
absl::Status ValidateSpec(const fedtiny::telemetry::TelemetrySpec& spec);

// NumBins is k: edges.size() - 1, or `categories` when there are no edges.
int NumBins(const fedtiny::telemetry::Binning& binning);

// BinOf is the bin of `value` (proto's rule: below edges[0] -> 0, at or above
// the last edge -> k - 1; a categorical value clamped to 0..k-1; NaN -> 0).
uint32_t BinOf(const fedtiny::telemetry::Binning& binning, double value);

// The spec's window and daily budget with the defaults applied.
int64_t WindowSeconds(const fedtiny::telemetry::TelemetrySpec& spec);
double DailyEpsilon(const fedtiny::telemetry::TelemetrySpec& spec);

}  // namespace fedtiny::client::telemetry

#endif  // FEDTINY_CLIENT_TELEMETRY_SPEC_H_
